package triggers

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/logging"
)

// TestSetupAgainstMoto wires both functions exactly like their mains
// (ParseEnv, awsconfig.Load reading AWS_ENDPOINT_URL, NewFromAWS) and
// runs the events/ samples through the runtime's JSON path: sign-up, then
// sign-in, in eu-central-1 with the registry in eu-west-1.
func TestSetupAgainstMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	table := fmt.Sprintf("setup-triggers-%d", time.Now().UnixNano()) // unique: a reused moto_server keeps tables
	for _, r := range []string{"eu-central-1", registryRegion} {
		mototest.CreateTable(t, dynamodb.NewFromConfig(srv.Config(r)), "RegistryTable", table)
	}
	key, err := kms.NewFromConfig(srv.Config("eu-central-1")).CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecHmac256, KeyUsage: kmstypes.KeyUsageTypeGenerateVerifyMac,
	})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"AWS_REGION": "eu-central-1", "RESIDENCY_TABLE": table, "REGISTRY_REGION": registryRegion,
		"PII_KEY_ID":       aws.ToString(key.KeyMetadata.Arn),
		"AWS_ENDPOINT_URL": srv.URL, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	}
	getenv := func(k string) string { return env[k] }
	c, err := ParseEnv(getenv)
	if err != nil {
		t.Fatalf("ParseEnv: %v", err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, SDKOptions)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewFromAWS(c, awscfg, logging.Discard())
	if err != nil {
		t.Fatalf("NewFromAWS: %v", err)
	}
	for _, step := range []struct {
		sample string
		h      lambda.Handler
	}{
		{"presignup-signup.json", mustPreSignUp(c.Region, d.Policy, d.Keys, d.Registry, logging.Discard(), 0)},
		{"preauth-authentication.json", mustPreAuth(c.Region, d.Policy, d.Keys, d.Registry, logging.Discard(), 0)},
	} {
		sample, err := os.ReadFile("../../events/" + step.sample)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := lambda.NewHandler(step.h).Invoke(ctx, sample); err != nil {
			t.Fatalf("%s: %s, %v", step.sample, out, err)
		}
	}
}

// TestBuild: each trigger function's cold start builds its handler with no
// network call, and a bad configuration fails it naming the function and the
// variable (or the region outside the residency policy).
func TestBuild(t *testing.T) {
	good := map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "eu-central-1", "RESIDENCY_TABLE": "registry", "REGISTRY_REGION": "eu-west-1", "PII_KEY_ID": "alias/pii"}
	build := map[string]func(getenv func(string) string) (lambda.Handler, error){
		"presignup": func(getenv func(string) string) (lambda.Handler, error) {
			return Build(context.Background(), "presignup", getenv, logging.Discard(), NewPreSignUp)
		},
		"postconfirmation": func(getenv func(string) string) (lambda.Handler, error) {
			return Build(context.Background(), "postconfirmation", getenv, logging.Discard(), NewPostConfirmation)
		},
		"preauth": func(getenv func(string) string) (lambda.Handler, error) {
			return Build(context.Background(), "preauth", getenv, logging.Discard(), NewPreAuth)
		},
	}
	tests := []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"valid (no network call)", nil, ""},
		{"missing PII_KEY_ID", map[string]string{"PII_KEY_ID": ""}, "configuration: PII_KEY_ID is not set"},
		{"missing REGISTRY_REGION", map[string]string{"REGISTRY_REGION": ""}, "configuration: REGISTRY_REGION is not set"},
		{"region outside the policy", map[string]string{"AWS_REGION": "eu-west-2"}, "eu-west-2"},
		{"no credentials", map[string]string{"AWS_ACCESS_KEY_ID": ""}, "configuration: awsconfig: no credentials"},
		{"paired (no network call)", map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "eu-west-1_AbC123xyz"}, ""},
		{"partner pool of another region", map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "eu-west-3_AbC123xyz"}, `configuration: PAIR_USER_POOL_ID "eu-west-3_AbC123xyz" is a pool of eu-west-3, not of PAIR_REGION eu-west-1`},
		{"partner pool without PAIR_REGION", map[string]string{"PAIR_USER_POOL_ID": "eu-west-1_AbC123xyz"}, "configuration: PAIR_USER_POOL_ID is set but PAIR_REGION is not"},
		{"partner outside the zone", map[string]string{"PAIR_REGION": "us-east-1", "PAIR_USER_POOL_ID": "us-east-1_AbC123xyz"}, `configuration: PAIR_REGION "us-east-1" is not in the residency zone of eu-central-1`},
	}
	for fn, b := range build {
		for _, tt := range tests {
			t.Run(fn+"/"+tt.name, func(t *testing.T) {
				env := maps.Clone(good)
				maps.Copy(env, tt.change)
				h, err := b(func(k string) string { return env[k] })
				if tt.want == "" {
					if err != nil || h == nil {
						t.Fatalf("Build = %v, %v", h, err)
					}
					return
				}
				if err == nil || !strings.HasPrefix(err.Error(), fn) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error = %v, want one starting %q and naming %q", err, fn, tt.want)
				}
			})
		}
	}
}
