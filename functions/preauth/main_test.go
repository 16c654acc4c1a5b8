package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/mototest"
	"github.com/homeregion/homeregion/shared/registry"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func env(change map[string]string) func(string) string {
	m := map[string]string{
		"AWS_REGION":      "eu-central-1",
		"RESIDENCY_TABLE": "homeregion-residency-registry",
		"REGISTRY_REGION": "eu-west-1",
		"PII_KEY_ID":      "alias/homeregion-pii",
	}
	for k, v := range change {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string
		wantErr string
	}{
		{name: "valid"},
		{name: "missing AWS_REGION", change: map[string]string{"AWS_REGION": ""}, wantErr: "preauth configuration: AWS_REGION is not set"},
		{name: "missing RESIDENCY_TABLE", change: map[string]string{"RESIDENCY_TABLE": ""}, wantErr: "RESIDENCY_TABLE is not set"},
		{name: "missing REGISTRY_REGION", change: map[string]string{"REGISTRY_REGION": ""}, wantErr: "REGISTRY_REGION is not set"},
		{name: "malformed REGISTRY_REGION", change: map[string]string{"REGISTRY_REGION": "ireland"}, wantErr: "REGISTRY_REGION \"ireland\" is not an AWS region name"},
		{name: "missing PII_KEY_ID", change: map[string]string{"PII_KEY_ID": ""}, wantErr: "PII_KEY_ID is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(env(tt.change))
			if tt.wantErr == "" {
				if err != nil || c.Region != "eu-central-1" || c.RegistryRegion != "eu-west-1" {
					t.Fatalf("loadConfig = %+v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("loadConfig error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestSetupAgainstMoto wires the function exactly like main (awsconfig.Load
// reading AWS_ENDPOINT_URL) and invokes the sample event.
func TestSetupAgainstMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	table := "setup-preauth"
	for _, r := range []string{"eu-central-1", "eu-west-1"} {
		if err := registry.CreateTable(ctx, dynamodb.NewFromConfig(srv.Config(r)), table); err != nil {
			t.Fatal(err)
		}
	}
	key, err := kms.NewFromConfig(srv.Config("eu-central-1")).CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecHmac256, KeyUsage: kmstypes.KeyUsageTypeGenerateVerifyMac,
	})
	if err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{"RESIDENCY_TABLE": table, "PII_KEY_ID": aws.ToString(key.KeyMetadata.Arn)})
	h, err := setup(ctx, getenv, logging.Discard())
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	sample, err := os.ReadFile("../../events/preauth-authentication.json")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := lambda.NewHandler(h).Invoke(ctx, sample); err != nil {
		t.Fatalf("Invoke sample: %s, %v", out, err)
	}

	// A region outside the residency policy fails the cold start.
	if _, err := setup(ctx, env(map[string]string{"AWS_REGION": "eu-west-2"}), logging.Discard()); err == nil || !strings.Contains(err.Error(), "eu-west-2") {
		t.Errorf("setup in eu-west-2 = %v, want a residency zone error", err)
	}
	if _, err := setup(ctx, env(map[string]string{"PII_KEY_ID": ""}), logging.Discard()); err == nil || !strings.Contains(err.Error(), "PII_KEY_ID") {
		t.Errorf("setup without PII_KEY_ID = %v", err)
	}
}
