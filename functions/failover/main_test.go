package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/logging"
)

// TestSetup: the runtime gets the alarm action handler (alarmaction.Setup
// itself is tested in its package), and a failed cold start hands it nothing.
func TestSetup(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "ACTION": "scale", "AWS_REGION": "eu-central-1", "CONTROL_TABLE": "ctl", "QUEUE_URL": "http://127.0.0.1:1/123456789012/orders",
		"ECS_CLUSTER": "onprem", "ECS_SERVICE": "primary", "BACKLOG_PER_TASK": "20", "MIN_TASKS": "0", "MAX_TASKS": "6"}
	h, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard())
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if _, ok := h.(func(context.Context, json.RawMessage) error); !ok {
		t.Fatalf("setup returned %T, not the alarm action handler", h)
	}
	env["MAX_TASKS"] = "many"
	if h, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard()); err == nil || h != nil {
		t.Fatalf("setup with a malformed MAX_TASKS: %v, %v", h, err)
	}
}

// TestCheckBuiltFor: a bootstrap built for one ACTION refuses the others at
// cold start; one built for all (no tag) refuses none.
func TestCheckBuiltFor(t *testing.T) {
	tests := []struct {
		built   alarmaction.Action
		action  string
		wantErr bool
	}{
		{"", "failover", false},
		{"", "scale", false},
		{alarmaction.ActionFailover, "failover", false},
		{alarmaction.ActionFailover, "promote", true},
		{alarmaction.ActionPromote, "scale", true},
		{alarmaction.ActionScale, "scale", false},
		{alarmaction.ActionScale, "", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.built)+"/"+tt.action, func(t *testing.T) {
			err := checkBuiltFor(tt.built, tt.action)
			if (err != nil) != tt.wantErr {
				t.Fatalf("checkBuiltFor(%q, %q) = %v, want error %t", tt.built, tt.action, err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "ACTION") {
				t.Fatalf("error %q does not name ACTION", err)
			}
		})
	}
}
