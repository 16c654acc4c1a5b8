package provision

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	idp "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	idptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func applyFixture(t *testing.T, stack string) (*Stack, *mototest.Server) {
	t.Helper()
	srv := mototest.Require(t)
	d, err := LoadFiles("testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := Apply(ctx, d, Options{Endpoint: srv.URL, Regions: []string{"eu-west-1", "us-east-1"}, RegistryRegion: "eu-west-1", StackName: stack})
	if err != nil {
		t.Fatal(err)
	}
	return st, srv
}

// keyID is the key id of a key ARN (or the id itself).
func keyID(k string) string { return k[strings.LastIndex(k, "/")+1:] }

func TestApplyFixture(t *testing.T) {
	st, srv := applyFixture(t, "fixture")
	ctx := context.Background()
	if len(st.Regions) != 2 || st.Regions[0].Region != "eu-west-1" {
		t.Fatalf("regions = %+v", st.Regions)
	}
	for _, r := range st.Regions {
		t.Run(r.Region, func(t *testing.T) {
			cfg := srv.Config(r.Region)
			if r.RegistryTable != "fixture-registry" || r.OrdersTable != "fixture-OrdersTable" || r.ControlTable != "fixture-control" {
				t.Errorf("tables = %q %q %q", r.RegistryTable, r.OrdersTable, r.ControlTable)
			}
			ddb := dynamodb.NewFromConfig(cfg)
			for _, tbl := range []string{r.RegistryTable, r.OrdersTable, r.ControlTable} {
				out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tbl)})
				if err != nil {
					t.Fatalf("table %s: %v", tbl, err)
				}
				want := "pk"
				if tbl == r.RegistryTable {
					want = "idKey"
				}
				if k := aws.ToString(out.Table.KeySchema[0].AttributeName); k != want {
					t.Errorf("table %s key %s", tbl, k)
				}
			}
			ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(r.OrdersTable)})
			if err != nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" {
				t.Errorf("orders ttl = %+v, %v", ttl, err)
			}
			q := sqs.NewFromConfig(cfg)
			qa, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(r.OrdersQueueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
			if err != nil {
				t.Fatal(err)
			}
			if qa.Attributes["VisibilityTimeout"] != "60" || qa.Attributes["RedrivePolicy"] == "" {
				t.Errorf("orders queue attributes = %v", qa.Attributes)
			}
			if r.OrdersDLQURL == "" || r.OrdersDLQURL == r.OrdersQueueURL {
				t.Errorf("dlq = %q", r.OrdersDLQURL)
			}
			k, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.PiiKeyID)})
			if err != nil {
				t.Fatalf("key %s: %v", r.PiiKeyID, err)
			}
			if !aws.ToBool(k.KeyMetadata.MultiRegion) || string(k.KeyMetadata.KeySpec) != "HMAC_256" {
				t.Errorf("key = %+v", k.KeyMetadata)
			}
			pool, err := idp.NewFromConfig(cfg).DescribeUserPool(ctx, &idp.DescribeUserPoolInput{UserPoolId: aws.String(r.UserPoolID)})
			if err != nil {
				t.Fatal(err)
			}
			custom := map[string]bool{}
			for _, a := range pool.UserPool.SchemaAttributes {
				if n := aws.ToString(a.Name); n == "custom:region" || n == "custom:country" {
					custom[n] = !aws.ToBool(a.Mutable)
				}
			}
			if !custom["custom:region"] || !custom["custom:country"] {
				t.Errorf("immutable custom attributes = %v", custom)
			}
			if us := pool.UserPool.UserAttributeUpdateSettings; us == nil || len(us.AttributesRequireVerificationBeforeUpdate) != 1 ||
				us.AttributesRequireVerificationBeforeUpdate[0] != idptypes.VerifiedAttributeTypeEmail {
				t.Errorf("UserAttributeUpdateSettings = %+v, want email verified before update", us)
			}
			if r.ClientID == "" || r.HealthCheckID == "" {
				t.Errorf("client %q health check %q", r.ClientID, r.HealthCheckID)
			}
			if len(r.Alarms) != 2 {
				t.Fatalf("alarms = %+v", r.Alarms)
			}
			qd, ok := r.Alarm("QueueDepthAlarm")
			if !ok || qd.Action != "scale" || qd.EvaluationPeriods != 3 || qd.DatapointsToAlarm != 2 || qd.Threshold != 20 ||
				qd.Dimensions["QueueName"] != "fixture-orders" || qd.MetricName != "ApproximateNumberOfMessagesVisible" {
				t.Errorf("queue depth alarm = %+v", qd)
			}
			ss, ok := r.Alarm("StalledSiteAlarm")
			if !ok || ss.Action != "promote" || ss.MetricName != "ApproximateAgeOfOldestMessage" || ss.DatapointsToAlarm != 3 {
				t.Errorf("stalled alarm = %+v", ss)
			}
			da, err := cloudwatch.NewFromConfig(cfg, CloudWatchQueryProtocol).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{qd.Name, ss.Name}})
			if err != nil || len(da.MetricAlarms) != 2 {
				t.Errorf("describe alarms = %v, %v", da, err)
			}
			if r.EcsCluster != "homeregion-onprem" || r.PrimaryService != "processor-primary" || r.StandbyService != "processor-standby" {
				t.Errorf("ecs = %q %q %q", r.EcsCluster, r.PrimaryService, r.StandbyService)
			}
			svc, err := ecs.NewFromConfig(cfg).DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(r.EcsCluster), Services: []string{r.PrimaryService, r.StandbyService}})
			if err != nil || len(svc.Services) != 2 {
				t.Fatalf("services = %v, %v", svc, err)
			}
			for _, s := range svc.Services {
				want := int32(1)
				if aws.ToString(s.ServiceName) == r.StandbyService {
					want = 0
				}
				if s.DesiredCount != want {
					t.Errorf("%s desired %d, want %d", aws.ToString(s.ServiceName), s.DesiredCount, want)
				}
			}
			f, ok := r.FunctionByAction("scale")
			if !ok || f.Env["QUEUE_URL"] != r.OrdersQueueURL || f.Env["BACKLOG_PER_TASK"] != "10" {
				t.Errorf("scale function = %+v", f)
			}
			pre := r.Functions["PreSignUpFunction"]
			if keyID(pre.Env["PII_KEY_ID"]) != keyID(r.PiiKeyID) || pre.Env["REGISTRY_REGION"] != "eu-west-1" {
				t.Errorf("presignup env = %v", pre.Env)
			}
		})
	}
	// The replica is the same multi-Region key id in both regions.
	if a, b := keyID(st.Regions[0].PiiKeyID), keyID(st.Regions[1].PiiKeyID); a != b {
		t.Errorf("key ids differ: %s vs %s", a, b)
	}
}

// Applying twice against the same moto works (cmd/local -moto reuse).
func TestApplyTwice(t *testing.T) {
	applyFixture(t, "twice")
	st, _ := applyFixture(t, "twice")
	if st.Region("us-east-1").OrdersQueueURL == "" {
		t.Fatal("no queue on second apply")
	}
}

// onprem.yaml next to the template is merged: each file sees its own
// parameters, a parameter without a value takes the main template's output of
// the same name, the ECS sites are created without a launch type and the
// alarm functions are pointed at them; what cannot be created is a warning.
func TestApplyWithOnPrem(t *testing.T) {
	srv := mototest.Require(t)
	d, err := Load("testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Templates) != 2 {
		t.Fatalf("files = %v, want template.yaml and onprem.yaml", d.Templates)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := Apply(ctx, d, Options{Endpoint: srv.URL, Regions: []string{"eu-west-1"}, StackName: "onprem",
		Parameters: map[string]string{"StandbyServiceName": "onprem-standby"}})
	if err != nil {
		t.Fatal(err)
	}
	r := st.Region("eu-west-1")
	if r.StandbyCluster != "onprem-cluster" || r.StandbyService != "onprem-standby" {
		t.Errorf("standby site %s/%s, want onprem.yaml's onprem-cluster/onprem-standby", r.StandbyCluster, r.StandbyService)
	}
	promote, _ := r.FunctionByAction("promote")
	if promote.Env["STANDBY_ECS_CLUSTER"] != "onprem-cluster" || promote.Env["STANDBY_ECS_SERVICE"] != "onprem-standby" || promote.Env["STANDBY_TASKS"] != "2" {
		t.Errorf("promote env = %v: want it pointed at onprem.yaml's service, STANDBY_TASKS still template.yaml's 2", promote.Env)
	}
	if len(st.Notes) == 0 {
		t.Errorf("no note about the re-pointed function")
	}
	cfg := srv.Config("eu-west-1")
	out, err := ecs.NewFromConfig(cfg).DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(r.StandbyCluster), Services: []string{r.StandbyService}})
	if err != nil || len(out.Services) != 1 {
		t.Fatalf("standby service: %v", err)
	}
	svc := out.Services[0]
	if svc.DesiredCount != 0 || !strings.Contains(aws.ToString(svc.TaskDefinition), "processor-standby") {
		t.Errorf("standby desired %d (want onprem.yaml's StandbyTasks 0), task definition %s", svc.DesiredCount, aws.ToString(svc.TaskDefinition))
	}
	td, err := ecs.NewFromConfig(cfg).DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("processor-wired")})
	if err != nil {
		t.Fatalf("wired task definition: %v (warnings %v)", err, st.Warnings)
	}
	env := map[string]string{}
	for _, kv := range td.TaskDefinition.ContainerDefinitions[0].Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if env["QUEUE_URL"] != r.OrdersQueueURL || env["TOKEN"] != "local-SiteToken" {
		t.Errorf("wired env = %v: want the main template's OrdersQueueUrl output and a placeholder token", env)
	}
	warned := strings.Join(st.Warnings, "\n")
	for _, want := range []string{"SiteToken", "Imported"} {
		if !strings.Contains(warned, want) {
			t.Errorf("warnings lack %s:\n%s", want, warned)
		}
	}
}

// TestApplyNeedsTheRegionOutputs: the local stack reads a region's resources
// only from the template's Outputs, so a template that lacks a required one
// is an error naming it, not a region with an empty field.
func TestApplyNeedsTheRegionOutputs(t *testing.T) {
	srv := mototest.Require(t)
	for _, o := range regionOutputs {
		if !o.required {
			continue
		}
		t.Run(o.output, func(t *testing.T) {
			d, err := LoadFiles("testdata/template.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := d.Templates[0].Outputs[o.output]; !ok {
				t.Fatalf("the fixture has no Output %s to remove", o.output)
			}
			delete(d.Templates[0].Outputs, o.output)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err = Apply(ctx, d, Options{Endpoint: srv.URL, Regions: []string{"eu-west-1"}, StackName: "no-" + strings.ToLower(o.output)})
			if err == nil || !strings.Contains(err.Error(), "declares no Output "+o.output) {
				t.Fatalf("Apply without Output %s: %v", o.output, err)
			}
		})
	}
}
