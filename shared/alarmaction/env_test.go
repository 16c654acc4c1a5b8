package alarmaction

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseEnv(t *testing.T) {
	base := map[string]map[string]string{
		"failover": {"ACTION": "failover", "AWS_REGION": "eu-west-1", "CONTROL_TABLE": "ctl", "HEALTH_CHECK_ID": "hc", "SECONDARY_REGION": "eu-central-1", "FAILBACK": "auto", "HOLD_DOWN_SECONDS": "900"},
		"promote":  {"ACTION": "promote", "AWS_REGION": "eu-west-1", "CONTROL_TABLE": "ctl", "STANDBY_ECS_CLUSTER": "c", "STANDBY_ECS_SERVICE": "s", "STANDBY_TASKS": "2"},
		"scale":    {"ACTION": "scale", "AWS_REGION": "eu-west-1", "CONTROL_TABLE": "ctl", "QUEUE_URL": "https://sqs/q", "ECS_CLUSTER": "c", "ECS_SERVICE": "s", "BACKLOG_PER_TASK": "10", "MIN_TASKS": "0", "MAX_TASKS": "4"},
	}
	tests := []struct {
		name, base string
		set        map[string]string
		want       string // error substring; "" = ok
		check      func(Config) bool
	}{
		{"failover", "failover", nil, "", func(c Config) bool { return c.HoldDown == 15*time.Minute && c.Failback == FailbackAuto }},
		{"manual without hold-down", "failover", map[string]string{"FAILBACK": "manual", "HOLD_DOWN_SECONDS": ""}, "", func(c Config) bool { return c.HoldDown == 0 }},
		{"auto without hold-down", "failover", map[string]string{"HOLD_DOWN_SECONDS": ""}, "HOLD_DOWN_SECONDS is not set", nil},
		{"hold-down not a number", "failover", map[string]string{"HOLD_DOWN_SECONDS": "15m"}, `HOLD_DOWN_SECONDS "15m"`, nil},
		{"no health check", "failover", map[string]string{"HEALTH_CHECK_ID": ""}, "HEALTH_CHECK_ID is not set", nil},
		{"no action", "failover", map[string]string{"ACTION": ""}, "ACTION is not set", nil},
		{"bad action", "failover", map[string]string{"ACTION": "explode"}, `ACTION "explode"`, nil},
		{"promote", "promote", nil, "", func(c Config) bool { return c.StandbyTasks == 2 }},
		{"promote tasks negative", "promote", map[string]string{"STANDBY_TASKS": "-1"}, "STANDBY_TASKS", nil},
		{"scale", "scale", nil, "", func(c Config) bool { return c.MaxTasks == 4 && c.Cooldown == 0 && c.cooldown() == DefaultCooldown }},
		{"scale cooldown", "scale", map[string]string{"COOLDOWN_SECONDS": "60"}, "", func(c Config) bool { return c.Cooldown == time.Minute }},
		{"scale no max", "scale", map[string]string{"MAX_TASKS": ""}, "MAX_TASKS is not set", nil},
		{"scale bad min", "scale", map[string]string{"MIN_TASKS": "one"}, `MIN_TASKS "one"`, nil},
		{"scale no queue", "scale", map[string]string{"QUEUE_URL": ""}, "QUEUE_URL is not set", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base[tc.base] {
				env[k] = v
			}
			for k, v := range tc.set {
				env[k] = v
			}
			c, err := ParseEnv(func(k string) string { return env[k] })
			if tc.want != "" {
				if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
			if c.String() == "" {
				t.Error("empty description")
			}
		})
	}
}

// TestParseEnvWithPolicy runs the compiled-in residency policy: the
// SECONDARY_REGION zone rule as deployed.
func TestParseEnvWithPolicy(t *testing.T) {
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
			c, err := ParseEnv(func(k string) string { return env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseEnv: %v", err)
				}
				if string(c.Action) != env["ACTION"] || c.Region != env["AWS_REGION"] || c.ControlTable != env["CONTROL_TABLE"] {
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
