package provision

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/homeregion/homeregion/internal/mototest"
)

// TestApplyZonePair provisions the real templates for a zone pair
// (eu-west-1 <-> eu-central-1, the pair table in eu-west-1) beside an
// unpaired us-east-1: one moto table for the pair, in eu-west-1 only, with
// OrdersTable's keys and indexes and no TTL; every paired function wired to
// it and to its partner's resources (whichever region was deployed first);
// us-east-1 as without a pair.
func TestApplyZonePair(t *testing.T) {
	srv := mototest.Require(t)
	defs, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	regions := []string{"eu-west-1", "eu-central-1", "us-east-1"}
	params := map[string]map[string]string{}
	for _, r := range regions {
		params[r] = map[string]string{SitePublicKeyParameter: "site-key-" + r}
	}
	// eu-west-1 fails over with the ARC switch, eu-central-1 with the
	// health check: both switches provision.
	params["eu-west-1"]["SecondaryRegion"] = "eu-central-1"
	params["eu-west-1"]["FailoverSwitch"] = "arc"
	params["eu-west-1"]["ArcRoutingControlArn"] = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/def"
	params["eu-west-1"]["ArcClusterEndpoints"] = "us-west-2=https://host-aaaaaa.us-west-2.example.com/v1"
	params["eu-central-1"]["SecondaryRegion"] = "eu-west-1"
	// eu-west-1 serves its own API name and eu-central-1's (the pair's
	// DNS); eu-central-1 neither: both provision.
	for k, v := range map[string]string{"ApiDomainName": "api-w.example.com", "ApiHostedZoneId": "Z0123456789ABC",
		"ApiCertificateArn":     "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
		"ZonePairApiDomainName": "api-c.example.com", "ZonePairApiHostedZoneId": "Z0123456789ABC",
		"ZonePairApiCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/66666666-2222-3333-4444-555555555555"} {
		params["eu-west-1"][k] = v
	}
	// The registry region's stack is deployed first, so eu-central-1 sees
	// eu-west-1's outputs at once and eu-west-1 gets eu-central-1's after.
	st, err := Apply(ctx, defs, Options{Endpoint: srv.URL, Regions: regions, RegistryRegion: "eu-west-1", StackName: "pair",
		RegionParameters: params, Pairs: []Pair{{Regions: [2]string{"eu-west-1", "eu-central-1"}, Witness: "eu-west-3"}}})
	if err != nil {
		t.Fatal(err)
	}
	w, c, us := st.Region("eu-west-1"), st.Region("eu-central-1"), st.Region("us-east-1")
	const table = "pair-pair-eu-west-1"
	for _, tc := range []struct{ r, partner *Region }{{w, c}, {c, w}} {
		r, p := tc.r, tc.partner
		if r.Partner != p.Region || r.PairTable != table || r.PairTableRegion != "eu-west-1" || r.PairQueueURL != p.OrdersQueueURL {
			t.Errorf("%s: partner %q, pair table %q in %q, pair queue %q", r.Region, r.Partner, r.PairTable, r.PairTableRegion, r.PairQueueURL)
		}
		want := map[string]map[string]string{
			"OrdersApiFunction": {"ORDERS_TABLE": table, "PAIR_REGION": p.Region, "ORDERS_QUEUE_URL": r.OrdersQueueURL},
			"ErasureFunction":   {"ORDERS_TABLE": table, "PAIR_REGION": p.Region, "PAIR_DLQ_URL": p.OrdersDLQURL, "ORDERS_DLQ_URL": r.OrdersDLQURL},
		}
		for _, fn := range []string{"PreSignUpFunction", "PreAuthFunction", "PostConfirmationFunction"} {
			want[fn] = map[string]string{"PAIR_REGION": p.Region, "PAIR_USER_POOL_ID": p.UserPoolID}
		}
		for fn, vars := range want {
			for k, v := range vars {
				if got := r.Functions[fn].Env[k]; got != v || v == "" {
					t.Errorf("%s: %s %s = %q, want %q", r.Region, fn, k, got, v)
				}
			}
		}
		if _, ok := r.Outputs["PairHttpApiUrl"]; !ok {
			t.Errorf("%s: no PairHttpApiUrl output", r.Region)
		}
		// PairHttpApi: the partner's multi-Region issuer and app client, on
		// the orders API's routes.
		api := r.HTTPAPIs["PairHttpApi"]
		if want := "https://issuer-cognito-idp." + p.Region + ".amazonaws.com/" + p.UserPoolID; api.Issuer != want ||
			!slices.Equal(api.Audience, []string{p.ClientID}) || api.Function != "OrdersApiFunction" ||
			!slices.Equal(api.Routes, []string{"$default", "DELETE /me", "GET /me/erasure", "GET /orders/{orderId}", "POST /orders"}) {
			t.Errorf("%s: PairHttpApi = %+v, want issuer %s, audience %s", r.Region, api, want, p.ClientID)
		}
	}
	for _, id := range []string{"ApiFailoverRecord", "PairApiCustomDomain", "PairApiCustomDomainMapping", "PairApiFailoverRecord"} {
		if _, ok := w.Resources[id]; !ok {
			t.Errorf("eu-west-1 (serving both API names): no %s", id)
		}
		if _, ok := c.Resources[id]; ok {
			t.Errorf("eu-central-1 (no API names): %s exists", id)
		}
	}
	f, _ := w.FunctionByAction("failover")
	if f.Env["SWITCH"] != "arc" || f.Env["ROUTING_CONTROL_ARN"] == "" || f.Env["ARC_ENDPOINTS"] == "" || f.Env["HEALTH_CHECK_ID"] != "" {
		t.Errorf("eu-west-1 failover env = %v, want the ARC switch and no health check", f.Env)
	}
	// The ARC switch's health check (moto 5.2 keeps its type, not its
	// RoutingControlArn), which the PRIMARY record's calculated check
	// watches.
	r53 := route53.NewFromConfig(srv.Config("eu-west-1"))
	rc, err := r53.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(w.Resources["ApiRoutingControlHealthCheck"].Ref)})
	if err != nil || rc.HealthCheck.HealthCheckConfig.Type != "RECOVERY_CONTROL" {
		t.Errorf("routing control health check: %v", err)
	}
	calc, err := r53.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(w.Resources["ApiRoutingHealthCheck"].Ref)})
	if err != nil || !slices.Contains(calc.HealthCheck.HealthCheckConfig.ChildHealthChecks, w.Resources["ApiRoutingControlHealthCheck"].Ref) {
		t.Errorf("routing health check = %+v, %v; want the routing control's check as a child", calc, err)
	}
	if _, ok := w.Resources["ApiFailoverSwitchHealthCheck"]; ok {
		t.Error("eu-west-1 (arc) has the health check switch too")
	}
	if f, _ := c.FunctionByAction("failover"); f.Env["SWITCH"] != "healthcheck" || f.Env["HEALTH_CHECK_ID"] == "" || f.Env["ROUTING_CONTROL_ARN"] != "" {
		t.Errorf("eu-central-1 failover env = %v, want the health check switch", f.Env)
	}
	for fn, f := range us.Functions {
		for k := range f.Env {
			if strings.HasPrefix(k, "PAIR_") {
				t.Errorf("us-east-1 (unpaired): %s has %s", fn, k)
			}
		}
	}
	if len(us.HTTPAPIs) != 0 {
		t.Errorf("us-east-1 (unpaired): HTTP APIs %v", us.HTTPAPIs)
	}
	if us.Partner != "" || us.PairTable != "" || us.Functions["OrdersApiFunction"].Env["ORDERS_TABLE"] != us.OrdersTable {
		t.Errorf("us-east-1: partner %q, pair table %q, orders-api ORDERS_TABLE %q (want %q)", us.Partner, us.PairTable,
			us.Functions["OrdersApiFunction"].Env["ORDERS_TABLE"], us.OrdersTable)
	}

	// One moto table, in the table region, with OrdersTable's layout and
	// no TTL (MRSC has none).
	ddbW := dynamodb.NewFromConfig(srv.Config("eu-west-1"))
	pt, err := ddbW.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("pair table in eu-west-1: %v", err)
	}
	ot, err := ddbW.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(w.OrdersTable)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := layout(pt.Table), layout(ot.Table); got != want {
		t.Errorf("pair table layout %s, want OrdersTable's %s", got, want)
	}
	ttl, err := ddbW.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus == "ENABLED" {
		t.Errorf("pair table TTL = %+v, %v; want none", ttl, err)
	}
	if _, err := dynamodb.NewFromConfig(srv.Config("eu-central-1")).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil {
		t.Error("the pair table exists in eu-central-1's moto too: want one table, in the table region")
	}

	// The sites drain the partner's queue and claim in the pair table.
	for _, r := range []*Region{w, c} {
		td, err := ecs.NewFromConfig(srv.Config(r.Region)).DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("pair-processor-primary")})
		if err != nil {
			t.Fatalf("%s: task definition: %v", r.Region, err)
		}
		env := map[string]string{}
		for _, kv := range td.TaskDefinition.ContainerDefinitions[0].Environment {
			env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		if env["ORDERS_TABLE"] != table || env["PAIR_REGION"] != r.Partner {
			t.Errorf("%s: processor env %v, want the pair table and PAIR_REGION %s", r.Region, env, r.Partner)
		}
	}
}

// layout is a table's key schema and indexes, for comparison.
func layout(d *ddbtypes.TableDescription) string {
	var b strings.Builder
	keys := func(ks []ddbtypes.KeySchemaElement) {
		for _, k := range ks {
			fmt.Fprintf(&b, "%s:%s ", aws.ToString(k.AttributeName), k.KeyType)
		}
	}
	keys(d.KeySchema)
	gsis := append([]ddbtypes.GlobalSecondaryIndexDescription(nil), d.GlobalSecondaryIndexes...)
	sort.Slice(gsis, func(i, j int) bool { return aws.ToString(gsis[i].IndexName) < aws.ToString(gsis[j].IndexName) })
	for _, g := range gsis {
		fmt.Fprintf(&b, "| %s ", aws.ToString(g.IndexName))
		keys(g.KeySchema)
		if g.Projection != nil {
			b.WriteString(string(g.Projection.ProjectionType))
		}
	}
	return b.String()
}

// TestPairsRefused: a pair the local stack cannot provision is an error
// before anything is created.
func TestPairsRefused(t *testing.T) {
	regions := []string{"eu-west-1", "eu-central-1", "eu-west-3"}
	tests := []struct {
		name  string
		pairs []Pair
		want  string
	}{
		{"one region", []Pair{{Regions: [2]string{"eu-west-1", "eu-west-1"}, Witness: "eu-west-3"}}, "two regions"},
		{"table outside the pair", []Pair{{Regions: [2]string{"eu-west-1", "eu-central-1"}, TableRegion: "eu-west-3", Witness: "eu-west-3"}}, "table region"},
		{"no witness", []Pair{{Regions: [2]string{"eu-west-1", "eu-central-1"}}}, "witness"},
		{"witness in the pair", []Pair{{Regions: [2]string{"eu-west-1", "eu-central-1"}, Witness: "eu-central-1"}}, "witness"},
		{"region not provisioned", []Pair{{Regions: [2]string{"eu-west-1", "eu-south-1"}, Witness: "eu-west-3"}}, "not provisioned"},
		{"two pairs", []Pair{{Regions: [2]string{"eu-west-1", "eu-central-1"}, Witness: "eu-west-3"},
			{Regions: [2]string{"eu-west-3", "eu-west-1"}, Witness: "eu-central-1"}}, "two pairs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Options{Regions: regions, Pairs: tc.pairs}.pairs()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	got, err := Options{Regions: regions, StackName: "s", Pairs: []Pair{{Regions: [2]string{"eu-west-1", "eu-central-1"}, Witness: "eu-west-3"}}}.pairs()
	if err != nil {
		t.Fatal(err)
	}
	if p := got["eu-central-1"]; p.TableRegion != "eu-west-1" || p.TableName != "s-pair-eu-west-1" || p.Partner("eu-central-1") != "eu-west-1" {
		t.Errorf("defaults = %+v", p)
	}
}
