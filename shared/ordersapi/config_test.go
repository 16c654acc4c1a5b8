package ordersapi

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/homeregion/homeregion/shared/logging"
)

func TestParseEnv(t *testing.T) {
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
		{"no region", map[string]string{"AWS_REGION": ""}, "AWS_REGION is not set"},
		{"bad region", map[string]string{"AWS_REGION": "Europe"}, "AWS_REGION"},
		{"no table", map[string]string{"ORDERS_TABLE": ""}, "ORDERS_TABLE is not set"},
		{"bad table", map[string]string{"ORDERS_TABLE": "orders table!"}, "ORDERS_TABLE"},
		{"no queue", map[string]string{"ORDERS_QUEUE_URL": ""}, "ORDERS_QUEUE_URL is not set"},
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
			c, err := ParseEnv(func(k string) string { return env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseEnv: %v", err)
				}
				if c != (Config{Region: env["AWS_REGION"], Table: env["ORDERS_TABLE"], QueueURL: env["ORDERS_QUEUE_URL"]}) {
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

func TestNewRefusesBadWiring(t *testing.T) {
	st, q := &fakeStore{}, &countQueue{}
	tests := []struct {
		name   string
		region string
		st     Store
		q      Queue
		want   string
	}{
		{"bad region", "Europe", st, q, "invalid region"},
		{"no store", testRegion, nil, q, "no Store"},
		{"no queue", testRegion, st, nil, "no Queue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := New(tt.region, tt.st, tt.q, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want an error naming %q", h, err, tt.want)
			}
		})
	}
	if h, err := New(testRegion, st, q, nil); err != nil || h.log == nil {
		t.Fatalf("New = %+v, %v; want a Handler with the default logger", h, err)
	}
}

func TestNewFromAWS(t *testing.T) {
	awscfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")}
	c := Config{Region: "eu-west-1", Table: "orders", QueueURL: "http://127.0.0.1:1/0/orders"}
	h, err := NewFromAWS(c, awscfg, logging.Discard())
	if err != nil || h.region != c.Region || h.store == nil || h.queue == nil {
		t.Fatalf("NewFromAWS = %+v, %v", h, err)
	}
}
