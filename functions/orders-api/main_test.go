package main

import (
	"context"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/logging"
)

func TestLoadConfig(t *testing.T) {
	valid := map[string]string{
		"AWS_REGION":       "eu-west-1",
		"ORDERS_TABLE":     "homeregion-OrdersTable-1ABC",
		"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/homeregion-orders",
	}
	tests := []struct {
		name    string
		change  map[string]string
		wantErr string // substring naming the variable; "" = valid
	}{
		{"valid", nil, ""},
		{"local endpoint queue", map[string]string{"ORDERS_QUEUE_URL": "http://127.0.0.1:5000/123456789012/orders"}, ""},
		{"no region", map[string]string{"AWS_REGION": ""}, "AWS_REGION"},
		{"bad region", map[string]string{"AWS_REGION": "Europe"}, "AWS_REGION"},
		{"no table", map[string]string{"ORDERS_TABLE": ""}, "ORDERS_TABLE"},
		{"bad table", map[string]string{"ORDERS_TABLE": "orders table!"}, "ORDERS_TABLE"},
		{"no queue", map[string]string{"ORDERS_QUEUE_URL": ""}, "ORDERS_QUEUE_URL"},
		{"queue name not URL", map[string]string{"ORDERS_QUEUE_URL": "homeregion-orders"}, "ORDERS_QUEUE_URL"},
		{"queue URL without path", map[string]string{"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com"}, "ORDERS_QUEUE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range valid {
				env[k] = v
			}
			for k, v := range tt.change {
				env[k] = v
			}
			c, err := loadConfig(func(k string) string { return env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				if c.Region != env["AWS_REGION"] || c.Table != env["ORDERS_TABLE"] || c.QueueURL != env["ORDERS_QUEUE_URL"] {
					t.Fatalf("config %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestSetup(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "eu-west-1", "ORDERS_TABLE": "orders", "ORDERS_QUEUE_URL": "http://127.0.0.1:1/0/orders"}
	h, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard())
	if err != nil || h.Region != "eu-west-1" || h.Store == nil || h.Queue == nil {
		t.Fatalf("setup: %+v, %v", h, err)
	}
	env["ORDERS_TABLE"] = ""
	if _, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard()); err == nil {
		t.Fatal("setup without ORDERS_TABLE succeeded")
	}
}
