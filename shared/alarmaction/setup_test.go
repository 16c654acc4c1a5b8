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
