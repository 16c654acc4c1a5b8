package provision

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/mototest"
)

// The real template provisions in two regions; what its sections define so
// far must come out (sections land independently: each check runs only when
// the template defines the resource type it needs).
func TestApplyRealTemplate(t *testing.T) {
	srv := mototest.Require(t)
	if _, err := os.Stat("../../template.yaml"); err != nil {
		t.Fatalf("load template.yaml: %v", err)
	}
	defs, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// Each region its own site public key, as the local stack gives them.
	siteKeys := map[string]map[string]string{
		"eu-west-1": {SitePublicKeyParameter: "site-key-eu-west-1"},
		"us-east-1": {SitePublicKeyParameter: "site-key-us-east-1"},
	}
	st, err := Apply(ctx, defs, Options{Endpoint: srv.URL, Regions: []string{"eu-west-1", "us-east-1"}, RegistryRegion: "eu-west-1", StackName: "real",
		RegionParameters: siteKeys})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range st.Warnings {
		t.Logf("warning: %s", w)
	}
	for _, n := range st.Notes {
		t.Logf("note: %s", n)
	}
	has := map[string]bool{}
	for _, r := range defs.Templates[0].Resources {
		has[r.Type] = true
	}
	_, sealing := defs.Templates[0].Parameters[SitePublicKeyParameter]
	for _, r := range st.Regions {
		// The orders API seals to the region's SitePublicKey parameter.
		if got, want := r.Functions["OrdersApiFunction"].Env["SITE_PUBLIC_KEY"], siteKeys[r.Region][SitePublicKeyParameter]; sealing && got != want {
			t.Errorf("%s: OrdersApiFunction SITE_PUBLIC_KEY = %q, want the %s parameter %q", r.Region, got, SitePublicKeyParameter, want)
		}
		// The erasure worker is built from its template environment, which
		// names this region's own resources.
		if fn, ok := r.Functions["ErasureFunction"]; !ok && defs.Templates[0].Resource("ErasureFunction") != nil {
			t.Errorf("%s: no ErasureFunction environment", r.Region)
		} else if ok {
			for k, want := range map[string]string{
				"ORDERS_TABLE": r.OrdersTable, "ORDERS_QUEUE_URL": r.OrdersQueueURL, "ORDERS_DLQ_URL": r.OrdersDLQURL,
				"USER_POOL_ID": r.UserPoolID, "RESIDENCY_TABLE": r.RegistryTable, "REGISTRY_REGION": "eu-west-1",
				"PII_KEY_ID": r.PiiKeyID, "SITE_PUBLIC_KEY": siteKeys[r.Region][SitePublicKeyParameter],
			} {
				if got := fn.Env[k]; got != want || got == "" {
					t.Errorf("%s: ErasureFunction %s = %q, want %q", r.Region, k, got, want)
				}
			}
		}
		if has["AWS::DynamoDB::GlobalTable"] && r.RegistryTable == "" {
			t.Errorf("%s: no registry table", r.Region)
		}
		if has["AWS::KMS::Key"] && r.PiiKeyID == "" {
			t.Errorf("%s: no PII key", r.Region)
		}
		if has["AWS::Cognito::UserPool"] && (r.UserPoolID == "" || r.ClientID == "") {
			t.Errorf("%s: no user pool/client", r.Region)
		}
		if has["AWS::SQS::Queue"] && (r.OrdersQueueURL == "" || r.OrdersDLQURL == "") {
			t.Errorf("%s: no orders queue/DLQ", r.Region)
		}
		if has["AWS::DynamoDB::Table"] && r.OrdersTable == "" {
			t.Errorf("%s: no orders table", r.Region)
		}
		if has["AWS::CloudWatch::Alarm"] {
			if len(r.Alarms) == 0 {
				t.Errorf("%s: no alarms", r.Region)
			}
			actions := map[string]bool{}
			for _, a := range r.Alarms {
				actions[a.Action] = true
				for _, arn := range append(a.AlarmActions, a.OKActions...) {
					if strings.Contains(arn, ":lambda:") && a.Action == "" {
						t.Errorf("%s: alarm %s invokes a function with no known ACTION: %s", r.Region, a.Name, arn)
					}
				}
			}
			if !actions["scale"] || !actions["promote"] {
				t.Errorf("%s: alarm actions %v, want scale and promote", r.Region, actions)
			}
			if r.EcsCluster == "" || r.PrimaryService == "" || r.StandbyService == "" {
				t.Errorf("%s: ECS sites %q %q %q", r.Region, r.EcsCluster, r.PrimaryService, r.StandbyService)
			}
		}
	}
	if a, b := keyID(st.Regions[0].PiiKeyID), keyID(st.Regions[1].PiiKeyID); has["AWS::KMS::Key"] && a != b {
		t.Errorf("multi-Region key ids differ: %s %s", a, b)
	}
}
