package main

import (
	"context"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/logging"
)

// TestSetup checks the wiring; the rules of the configuration are tested
// with triggers.Setup and triggers.ParseEnv, against moto there too.
func TestSetup(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	env := map[string]string{"AWS_REGION": "eu-central-1", "RESIDENCY_TABLE": "registry", "REGISTRY_REGION": "eu-west-1", "PII_KEY_ID": "alias/pii"}
	h, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard())
	if err != nil || h == nil || h.Region != "eu-central-1" {
		t.Fatalf("setup = %+v, %v", h, err)
	}
	delete(env, "REGISTRY_REGION")
	if _, err := setup(context.Background(), func(k string) string { return env[k] }, logging.Discard()); err == nil ||
		!strings.HasPrefix(err.Error(), "postconfirmation configuration:") || !strings.Contains(err.Error(), "REGISTRY_REGION") {
		t.Fatalf("setup without REGISTRY_REGION: %v", err)
	}
}
