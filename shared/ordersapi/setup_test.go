package ordersapi

import (
	"context"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/logging"
)

// TestSetup: the cold start builds the handler with no network call, and a
// bad configuration fails it naming the function and the variable (the
// rules themselves are tested with ParseEnv).
func TestSetup(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": "eu-west-1", "ORDERS_TABLE": "orders", "ORDERS_QUEUE_URL": "http://127.0.0.1:1/0/orders.fifo",
		"SITE_PUBLIC_KEY": testKey().String()}
	getenv := func(k string) string { return env[k] }
	if h, err := Setup(context.Background(), getenv, logging.Discard()); err != nil || h == nil {
		t.Fatalf("Setup: %v, %v", h, err)
	}
	env["ORDERS_TABLE"] = ""
	if _, err := Setup(context.Background(), getenv, logging.Discard()); err == nil || !strings.Contains(err.Error(), "orders-api configuration: ORDERS_TABLE") {
		t.Fatalf("Setup without ORDERS_TABLE: %v", err)
	}
	env["ORDERS_TABLE"], env["SITE_PUBLIC_KEY"] = "orders", ""
	if _, err := Setup(context.Background(), getenv, logging.Discard()); err == nil || !strings.Contains(err.Error(), "orders-api configuration: SITE_PUBLIC_KEY") {
		t.Fatalf("Setup without SITE_PUBLIC_KEY: %v", err)
	}
	// PAIR_REGION: paired, the Store is the PairStore; a partner outside the
	// zone fails the cold start.
	env["SITE_PUBLIC_KEY"], env["PAIR_REGION"] = testKey().String(), "eu-central-1"
	if h, err := Setup(context.Background(), getenv, logging.Discard()); err != nil || !h.pair.Serves("eu-central-1") {
		t.Fatalf("Setup paired: %v, %v", h, err)
	} else if _, ok := h.store.(*PairStore); !ok {
		t.Fatalf("Setup paired: store %T, want *PairStore", h.store)
	}
	env["PAIR_REGION"] = "us-east-1"
	if _, err := Setup(context.Background(), getenv, logging.Discard()); err == nil || !strings.Contains(err.Error(), "orders-api configuration: PAIR_REGION") {
		t.Fatalf("Setup with a partner in another zone: %v", err)
	}
	env["PAIR_REGION"], env["AWS_ACCESS_KEY_ID"] = "", ""
	if _, err := Setup(context.Background(), getenv, logging.Discard()); err == nil || !strings.Contains(err.Error(), "orders-api configuration: ") {
		t.Fatalf("Setup without credentials: %v", err)
	}
}
