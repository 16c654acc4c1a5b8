package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/sealed"
)

// TestSetup: the runtime gets the HTTP API handler (ordersapi.Setup itself is
// tested in its package), and a failed cold start hands it nothing.
func TestSetup(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": "eu-west-1", "ORDERS_TABLE": "orders", "ORDERS_QUEUE_URL": "http://127.0.0.1:1/0/orders.fifo"}
	key, err := sealed.GenerateKeyFile(filepath.Join(t.TempDir(), "site.key"))
	if err != nil {
		t.Fatal(err)
	}
	env["SITE_PUBLIC_KEY"] = key.String()
	h, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard())
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if _, ok := h.(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)); !ok {
		t.Fatalf("setup returned %T, not the HTTP API handler", h)
	}
	for _, name := range []string{"ORDERS_TABLE", "SITE_PUBLIC_KEY"} {
		saved := env[name]
		env[name] = ""
		if h, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard()); err == nil || h != nil {
			t.Fatalf("setup without %s: %v, %v", name, h, err)
		}
		env[name] = saved
	}
}
