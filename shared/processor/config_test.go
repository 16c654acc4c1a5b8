package processor

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/homeregion/homeregion/internal/processortest"
)

func TestParseEnv(t *testing.T) {
	base := map[string]string{
		"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
		"ORDERS_TABLE":     "orders",
		"SITE_NAME":        "berlin-1",
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(c Config) bool
	}{
		{name: "defaults filled in", check: func(c Config) bool {
			return c.Concurrency == DefaultConcurrency && c.WaitTime == DefaultWaitTime && c.VisibilityTimeout == DefaultVisibilityTimeout &&
				c.DrainTimeout == DefaultDrainTimeout && c.HeartbeatInterval == DefaultHeartbeatInterval && c.Pollers == 2
		}},
		{name: "values", env: map[string]string{"PROCESSOR_CONCURRENCY": "40", "VISIBILITY_TIMEOUT": "2m", "WAIT_TIME": "5s", "DRAIN_TIMEOUT": "1500ms", "HEARTBEAT_INTERVAL": "30s"},
			check: func(c Config) bool {
				return c.Concurrency == 40 && c.Pollers == 4 && c.VisibilityTimeout == 2*time.Minute && c.WaitTime == 5*time.Second &&
					c.DrainTimeout == 1500*time.Millisecond && c.HeartbeatInterval == 30*time.Second
			}},
		{name: "local queue", env: map[string]string{"ORDERS_QUEUE_URL": "http://127.0.0.1:5000/123456789012/orders"}, check: func(c Config) bool { return true }},
		{name: "no queue", env: map[string]string{"ORDERS_QUEUE_URL": ""}, wantErr: "ORDERS_QUEUE_URL is not set"},
		{name: "queue name", env: map[string]string{"ORDERS_QUEUE_URL": "orders"}, wantErr: "ORDERS_QUEUE_URL"},
		{name: "no table", env: map[string]string{"ORDERS_TABLE": " "}, wantErr: "ORDERS_TABLE is not set"},
		{name: "bad table", env: map[string]string{"ORDERS_TABLE": "a/b"}, wantErr: "ORDERS_TABLE"},
		{name: "no site", env: map[string]string{"SITE_NAME": ""}, wantErr: "SITE_NAME is not set"},
		{name: "concurrency not a number", env: map[string]string{"PROCESSOR_CONCURRENCY": "lots"}, wantErr: "PROCESSOR_CONCURRENCY"},
		{name: "concurrency zero", env: map[string]string{"PROCESSOR_CONCURRENCY": "0"}, wantErr: "PROCESSOR_CONCURRENCY"},
		{name: "concurrency too high", env: map[string]string{"PROCESSOR_CONCURRENCY": "1001"}, wantErr: "PROCESSOR_CONCURRENCY"},
		{name: "wait too long", env: map[string]string{"WAIT_TIME": "21s"}, wantErr: "WAIT_TIME"},
		{name: "wait fractional", env: map[string]string{"WAIT_TIME": "1500ms"}, wantErr: "WAIT_TIME"},
		{name: "visibility fractional", env: map[string]string{"VISIBILITY_TIMEOUT": "1500ms"}, wantErr: "VISIBILITY_TIMEOUT"},
		{name: "visibility too long", env: map[string]string{"VISIBILITY_TIMEOUT": "13h"}, wantErr: "VISIBILITY_TIMEOUT"},
		{name: "drain not a duration", env: map[string]string{"DRAIN_TIMEOUT": "soon"}, wantErr: "DRAIN_TIMEOUT"},
		{name: "heartbeat zero", env: map[string]string{"HEARTBEAT_INTERVAL": "0s"}, wantErr: "HEARTBEAT_INTERVAL"},
		{name: "plaintext accepted by default", check: func(c Config) bool { return !c.RefusePlaintext }},
		{name: "plaintext accepted", env: map[string]string{"ACCEPT_PLAINTEXT_ORDERS": "true"}, check: func(c Config) bool { return !c.RefusePlaintext }},
		{name: "plaintext refused", env: map[string]string{"ACCEPT_PLAINTEXT_ORDERS": "false"}, check: func(c Config) bool { return c.RefusePlaintext }},
		{name: "plaintext not a bool", env: map[string]string{"ACCEPT_PLAINTEXT_ORDERS": "yes"}, wantErr: "ACCEPT_PLAINTEXT_ORDERS"},
		{name: "plaintext capitalised", env: map[string]string{"ACCEPT_PLAINTEXT_ORDERS": "False"}, wantErr: "ACCEPT_PLAINTEXT_ORDERS"},
		{name: "tombstone days default", check: func(c Config) bool { return c.ErasureTombstoneDays == DefaultErasureTombstoneDays }},
		{name: "tombstone days", env: map[string]string{"ERASURE_TOMBSTONE_DAYS": "30"}, check: func(c Config) bool { return c.ErasureTombstoneDays == 30 }},
		{name: "tombstone days zero", env: map[string]string{"ERASURE_TOMBSTONE_DAYS": "0"}, wantErr: "ERASURE_TOMBSTONE_DAYS"},
		{name: "tombstone days not a number", env: map[string]string{"ERASURE_TOMBSTONE_DAYS": "15d"}, wantErr: "ERASURE_TOMBSTONE_DAYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := ParseEnv(func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config = %+v", c)
			}
			// What ParseEnv returns, New accepts unchanged.
			_, _, keys := processortest.NewKey(t)
			p, err := New(c, Deps{SQS: &fakeSQS{}, DynamoDB: fakeDDB{}, Store: fakeStore{}, Keys: keys})
			if err != nil || p.Config() != c {
				t.Fatalf("New(ParseEnv) = %+v, %v; want %+v", p.Config(), err, c)
			}
		})
	}
}

func TestNewFromAWS(t *testing.T) {
	c := Config{QueueURL: "http://127.0.0.1:1/0/orders", OrdersTable: "orders", Site: "s", WaitTime: 5 * time.Second}
	if got := c.SDKOptions().ResponseHeaderTimeout; got != 15*time.Second {
		t.Errorf("SDKOptions().ResponseHeaderTimeout = %s, want WaitTime + 10s", got)
	}
	awscfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")}
	_, _, keys := processortest.NewKey(t)
	p, err := NewFromAWS(c, awscfg, func(string) string { return "" }, fakeStore{}, keys, Extensions{}, nil)
	if err != nil || p.deps.SQS == nil || p.deps.DynamoDB == nil || p.deps.CloudWatch == nil || p.deps.Keys == nil {
		t.Fatalf("NewFromAWS = %+v, %v", p, err)
	}
	if _, err := NewFromAWS(c, awscfg, func(string) string { return "" }, nil, keys, Extensions{}, nil); err == nil {
		t.Error("NewFromAWS accepted no Store")
	}
	if _, err := NewFromAWS(c, awscfg, func(string) string { return "" }, fakeStore{}, nil, Extensions{}, nil); err == nil {
		t.Error("NewFromAWS accepted no Keys")
	}
}
