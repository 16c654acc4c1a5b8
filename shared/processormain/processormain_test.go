package processormain

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]string{
		"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/orders",
		"ORDERS_TABLE":     "orders",
		"SITE_NAME":        "berlin-1",
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.dsn != DefaultDSN || c.proc.Concurrency != 16 || c.proc.WaitTime != 20*time.Second ||
				c.proc.VisibilityTimeout != 60*time.Second || c.proc.DrainTimeout != 25*time.Second ||
				c.proc.HeartbeatInterval != time.Minute || c.proc.Site != "berlin-1" {
				t.Fatalf("defaults = %+v", c)
			}
		}},
		{name: "env values", env: map[string]string{"SITE_DB_DSN": "postgres://u@h/db", "PROCESSOR_CONCURRENCY": "4", "VISIBILITY_TIMEOUT": "2m", "WAIT_TIME": "5s"},
			check: func(t *testing.T, c config) {
				if c.dsn != "postgres://u@h/db" || c.proc.Concurrency != 4 || c.proc.VisibilityTimeout != 2*time.Minute || c.proc.WaitTime != 5*time.Second {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "flags override env", env: map[string]string{"PROCESSOR_CONCURRENCY": "4"}, args: []string{"-concurrency", "8", "-site", "munich", "-db", "/tmp/x.db"},
			check: func(t *testing.T, c config) {
				if c.proc.Concurrency != 8 || c.proc.Site != "munich" || c.dsn != "/tmp/x.db" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "missing queue", env: map[string]string{"ORDERS_QUEUE_URL": ""}, wantErr: "ORDERS_QUEUE_URL is not set"},
		{name: "missing table", env: map[string]string{"ORDERS_TABLE": ""}, wantErr: "ORDERS_TABLE is not set"},
		{name: "missing site", env: map[string]string{"SITE_NAME": ""}, wantErr: "SITE_NAME is not set"},
		{name: "flag stands in for a missing variable", env: map[string]string{"SITE_NAME": ""}, args: []string{"-site", "munich"},
			check: func(t *testing.T, c config) {
				if c.proc.Site != "munich" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "flag checked like its variable", args: []string{"-wait-time", "21s"}, wantErr: "(from -wait-time)"},
		{name: "bad concurrency", env: map[string]string{"PROCESSOR_CONCURRENCY": "lots"}, wantErr: "PROCESSOR_CONCURRENCY"},
		{name: "zero concurrency", args: []string{"-concurrency=0"}, wantErr: "PROCESSOR_CONCURRENCY"},
		{name: "fractional visibility", env: map[string]string{"VISIBILITY_TIMEOUT": "1500ms"}, wantErr: "VISIBILITY_TIMEOUT"},
		{name: "wait too long", env: map[string]string{"WAIT_TIME": "21s"}, wantErr: "WAIT_TIME"},
		{name: "bad drain", env: map[string]string{"DRAIN_TIMEOUT": "soon"}, wantErr: "DRAIN_TIMEOUT"},
		{name: "drain not positive", env: map[string]string{"DRAIN_TIMEOUT": "0s"}, wantErr: "DRAIN_TIMEOUT"},
		{name: "empty flag is not the default", args: []string{"-db", ""}, wantErr: "-db given an empty value"},
		{name: "bad heartbeat", env: map[string]string{"HEARTBEAT_INTERVAL": "0s"}, wantErr: "HEARTBEAT_INTERVAL"},
		{name: "HTTP delivery on", env: map[string]string{"DELIVERY_URL": "http://127.0.0.1:8080/orders", "DELIVERY_ATTEMPTS": "3"},
			check: func(t *testing.T, c config) {
				if c.delivery == nil || c.delivery.URL != "http://127.0.0.1:8080/orders" || c.delivery.Attempts != 3 {
					t.Fatalf("delivery = %+v", c.delivery)
				}
			}},
		{name: "HTTP delivery off by default", check: func(t *testing.T, c config) {
			if c.delivery != nil {
				t.Fatalf("delivery = %+v, want off", c.delivery)
			}
		}},
		{name: "bad delivery timeout", env: map[string]string{"DELIVERY_URL": "http://127.0.0.1/x", "DELIVERY_TIMEOUT": "3x"}, wantErr: "DELIVERY_TIMEOUT"},
		{name: "delivery tuning without a URL", env: map[string]string{"DELIVERY_ATTEMPTS": "3"}, wantErr: "DELIVERY_URL"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flags"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := loadConfig(tc.args, func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	var out strings.Builder
	code := Run(nil, func(string) string { return "" }, &out, Extension{})
	if code != 1 {
		t.Fatalf("exit status = %d, want 1", code)
	}
	if !strings.Contains(out.String(), "ORDERS_QUEUE_URL") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("want one log line naming the variable, got %q", out.String())
	}
}

// TestHelp: -h lists every flag with its variable and exits 0.
func TestHelp(t *testing.T) {
	var out strings.Builder
	if code := Run([]string{"-h"}, func(string) string { return "" }, &out, Extension{}); code != 0 {
		t.Fatalf("run -h = %d, want 0; output %q", code, out.String())
	}
	for _, f := range flagVars {
		if !strings.Contains(out.String(), "-"+f.flag) || !strings.Contains(out.String(), f.env) {
			t.Errorf("-h does not list -%s (%s): %q", f.flag, f.env, out.String())
		}
	}
}
