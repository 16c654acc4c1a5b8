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
