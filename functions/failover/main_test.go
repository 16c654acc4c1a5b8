package main

import (
	"context"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/logging"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]map[string]string{
		"failover": {"ACTION": "failover", "AWS_REGION": "eu-west-1", "CONTROL_TABLE": "ctl", "HEALTH_CHECK_ID": "0c1e3f5a-1234-4bcd-8123-0123456789ab",
			"SECONDARY_REGION": "eu-central-1", "FAILBACK": "auto", "HOLD_DOWN_SECONDS": "900"},
		"promote": {"ACTION": "promote", "AWS_REGION": "us-east-1", "CONTROL_TABLE": "ctl", "STANDBY_ECS_CLUSTER": "onprem", "STANDBY_ECS_SERVICE": "standby", "STANDBY_TASKS": "2"},
		"scale": {"ACTION": "scale", "AWS_REGION": "eu-central-1", "CONTROL_TABLE": "ctl", "QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/orders",
			"ECS_CLUSTER": "onprem", "ECS_SERVICE": "primary", "BACKLOG_PER_TASK": "20", "MIN_TASKS": "1", "MAX_TASKS": "6"},
	}
	tests := []struct {
		name, base string
		set        map[string]string
		wantErr    string // substring naming the variable; "" = valid
	}{
		{"failover", "failover", nil, ""},
		{"failover manual", "failover", map[string]string{"FAILBACK": "manual", "HOLD_DOWN_SECONDS": ""}, ""},
		{"secondary outside the zone", "failover", map[string]string{"SECONDARY_REGION": "us-east-1"}, "SECONDARY_REGION us-east-1 is outside the residency zone of eu-west-1"},
		{"secondary in the Gulf from the EU", "failover", map[string]string{"SECONDARY_REGION": "me-central-1"}, "SECONDARY_REGION"},
		{"secondary malformed", "failover", map[string]string{"SECONDARY_REGION": "Frankfurt"}, "SECONDARY_REGION"},
		{"secondary missing", "failover", map[string]string{"SECONDARY_REGION": ""}, "SECONDARY_REGION"},
		{"region missing", "failover", map[string]string{"AWS_REGION": ""}, "AWS_REGION"},
		{"region malformed", "failover", map[string]string{"AWS_REGION": "europe"}, "AWS_REGION"},
		{"failback unknown", "failover", map[string]string{"FAILBACK": "later"}, "FAILBACK"},
		{"hold-down malformed", "failover", map[string]string{"HOLD_DOWN_SECONDS": "ten"}, "HOLD_DOWN_SECONDS"},
		{"health check missing", "failover", map[string]string{"HEALTH_CHECK_ID": ""}, "HEALTH_CHECK_ID"},
		{"control table missing", "failover", map[string]string{"CONTROL_TABLE": ""}, "CONTROL_TABLE"},
		{"action missing", "failover", map[string]string{"ACTION": ""}, "ACTION"},
		{"action unknown", "failover", map[string]string{"ACTION": "reboot"}, "ACTION"},
		{"promote", "promote", nil, ""},
		{"promote tasks missing", "promote", map[string]string{"STANDBY_TASKS": ""}, "STANDBY_TASKS"},
		{"promote tasks zero", "promote", map[string]string{"STANDBY_TASKS": "0"}, "STANDBY_TASKS"},
		{"promote cluster missing", "promote", map[string]string{"STANDBY_ECS_CLUSTER": ""}, "STANDBY_ECS_CLUSTER"},
		{"promote service missing", "promote", map[string]string{"STANDBY_ECS_SERVICE": ""}, "STANDBY_ECS_SERVICE"},
		{"scale", "scale", nil, ""},
		{"scale min above max", "scale", map[string]string{"MIN_TASKS": "7"}, "MIN_TASKS"},
		{"scale max zero", "scale", map[string]string{"MAX_TASKS": "0"}, "MAX_TASKS"},
		{"scale backlog malformed", "scale", map[string]string{"BACKLOG_PER_TASK": "1.5"}, "BACKLOG_PER_TASK"},
		{"scale cooldown malformed", "scale", map[string]string{"COOLDOWN_SECONDS": "-5"}, "COOLDOWN_SECONDS"},
		{"scale queue missing", "scale", map[string]string{"QUEUE_URL": ""}, "QUEUE_URL"},
		{"scale cluster missing", "scale", map[string]string{"ECS_CLUSTER": ""}, "ECS_CLUSTER"},
		{"scale service missing", "scale", map[string]string{"ECS_SERVICE": ""}, "ECS_SERVICE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base[tt.base] {
				env[k] = v
			}
			for k, v := range tt.set {
				env[k] = v
			}
			c, err := loadConfig(func(k string) string { return env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				if string(c.Action) != env["ACTION"] || c.Region != env["AWS_REGION"] || c.ControlTable != env["CONTROL_TABLE"] || c.zones == nil {
					t.Fatalf("config %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
			if strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestSetup(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "ACTION": "scale", "AWS_REGION": "eu-central-1", "CONTROL_TABLE": "ctl", "QUEUE_URL": "http://127.0.0.1:1/123456789012/orders",
		"ECS_CLUSTER": "onprem", "ECS_SERVICE": "primary", "BACKLOG_PER_TASK": "20", "MIN_TASKS": "0", "MAX_TASKS": "6"}
	h, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard())
	if err != nil || h == nil {
		t.Fatalf("setup: %v", err)
	}
	// A malformed event is an error before any network call.
	if err := h.Handle(context.Background(), []byte(`{"hello":1}`)); err == nil {
		t.Fatal("malformed event accepted")
	}
	env["SECONDARY_REGION"], env["ACTION"] = "us-east-1", string(alarmaction.ActionFailover)
	if _, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard()); err == nil {
		t.Fatal("setup accepted an incomplete failover configuration")
	}
}
