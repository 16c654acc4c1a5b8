package alarmaction

import (
	"context"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/logging"
)

// TestSetup: the cold start builds the handler with no network call, and a
// bad configuration fails it naming the function (the rules themselves are
// tested with ParseEnv).
func TestSetup(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "ACTION": "scale", "AWS_REGION": "eu-central-1", "CONTROL_TABLE": "ctl", "QUEUE_URL": "http://127.0.0.1:1/123456789012/orders",
		"ECS_CLUSTER": "onprem", "ECS_SERVICE": "primary", "BACKLOG_PER_TASK": "20", "MIN_TASKS": "0", "MAX_TASKS": "6"}
	getenv := func(k string) string { return env[k] }
	h, err := Setup(context.Background(), getenv, logging.Discard())
	if err != nil || h == nil {
		t.Fatalf("Setup: %v", err)
	}
	// A malformed event is an error before any network call.
	if err := h.Handle(context.Background(), []byte(`{"hello":1}`)); err == nil {
		t.Fatal("malformed event accepted")
	}
	env["SECONDARY_REGION"], env["ACTION"] = "us-east-1", string(ActionFailover)
	if _, err := Setup(context.Background(), getenv, logging.Discard()); err == nil || !strings.Contains(err.Error(), "failover configuration: ") {
		t.Fatalf("Setup accepted an incomplete failover configuration: %v", err)
	}
}

// TestSetupARC: SWITCH=arc builds the routing control adapter over the
// cluster endpoints and no Route 53 client; without ARC_ENDPOINTS the cold
// start fails naming it.
func TestSetupARC(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "ACTION": "failover", "AWS_REGION": "eu-west-1", "CONTROL_TABLE": "ctl",
		"SECONDARY_REGION": "eu-central-1", "FAILBACK": "manual", "SWITCH": "arc",
		"ROUTING_CONTROL_ARN": "arn:aws:route53-recovery-control::111122223333:controlpanel/p/routingcontrol/eu-west-1",
		"ARC_ENDPOINTS":       "us-east-1=https://a.example.com/v1,eu-west-1=https://b.example.com/v1"}
	getenv := func(k string) string { return env[k] }
	h, err := Setup(context.Background(), getenv, logging.Discard())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	rc, ok := h.deps.Switch.(*ARCRoutingControl)
	if !ok || len(rc.eps) != 2 || rc.eps[1].Region != "eu-west-1" || h.deps.HealthChecks != nil {
		t.Fatalf("switch %T %+v, health checks %v: want the ARC adapter only", h.deps.Switch, h.deps.Switch, h.deps.HealthChecks)
	}
	delete(env, "ARC_ENDPOINTS")
	if _, err := Setup(context.Background(), getenv, logging.Discard()); err == nil || !strings.Contains(err.Error(), "ARC_ENDPOINTS") {
		t.Fatalf("Setup without ARC_ENDPOINTS: %v", err)
	}
}
