package awsconfig

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// hits counts requests a fake endpoint receives and answers each with 400 so
// the SDK gives up at once.
func hits(t *testing.T) (string, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"ValidationException","message":"fake"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// mapenv is a getenv over m.
func mapenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestLoadReadsOnlyGetenv: the process environment plays no part.
func TestLoadReadsOnlyGetenv(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	if _, err := Load(context.Background(), "", mapenv(nil), Options{}); !errors.Is(err, ErrNoRegion) {
		t.Fatalf("Load with an empty getenv = %v, want ErrNoRegion", err)
	}
	cfg, err := Load(context.Background(), "eu-west-1", mapenv(map[string]string{"AWS_ACCESS_KEY_ID": "other", "AWS_SECRET_ACCESS_KEY": "s"}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseEndpoint != nil {
		t.Errorf("BaseEndpoint = %s from the process environment", *cfg.BaseEndpoint)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "other" {
		t.Errorf("credentials = %q, %v; want getenv's", creds.AccessKeyID, err)
	}
}

func TestLoadHonoursEndpointVariables(t *testing.T) {
	global, globalHits := hits(t)
	ddbOnly, ddbHits := hits(t)
	tests := []struct {
		name              string
		env               map[string]string
		wantGlobal, wantD int32 // requests seen by each endpoint for one DynamoDB + one SQS call
	}{
		{"global endpoint serves every client", map[string]string{"AWS_ENDPOINT_URL": global}, 2, 0},
		{"service endpoint wins for its service", map[string]string{"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_DYNAMODB": ddbOnly}, 1, 1},
		{"ignore switch turns both off", map[string]string{"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_DYNAMODB": ddbOnly, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
			for k, v := range tt.env {
				env[k] = v
			}
			g0, d0 := globalHits.Load(), ddbHits.Load()
			cfg, err := Load(context.Background(), "eu-west-1", mapenv(env), Options{MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			ddb, q := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
			if tt.wantGlobal+tt.wantD == 0 {
				// Real AWS endpoints: check the resolution, never leave the machine.
				if ep := ddb.Options().BaseEndpoint; ep != nil {
					t.Fatalf("DynamoDB base endpoint = %s, want the default", *ep)
				}
				if ep := q.Options().BaseEndpoint; ep != nil {
					t.Fatalf("SQS base endpoint = %s, want the default", *ep)
				}
				return
			}
			ctx := context.Background()
			ddb.ListTables(ctx, &dynamodb.ListTablesInput{})
			q.ListQueues(ctx, &sqs.ListQueuesInput{})
			if g, d := globalHits.Load()-g0, ddbHits.Load()-d0; g != tt.wantGlobal || d != tt.wantD {
				t.Errorf("global endpoint got %d requests, DynamoDB endpoint %d; want %d and %d", g, d, tt.wantGlobal, tt.wantD)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want error
	}{
		{"no region", map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s"}, ErrNoRegion},
		{"no credentials", map[string]string{"AWS_REGION": "eu-west-1"}, ErrNoCredentials},
		{"secret without id", map[string]string{"AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": "s"}, ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(context.Background(), "", mapenv(tt.env), Options{}); !errors.Is(err, tt.want) {
				t.Fatalf("Load error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("malformed ignore switch", func(t *testing.T) {
		env := mapenv(map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes please"})
		if _, err := Load(context.Background(), "eu-west-1", env, Options{}); err == nil {
			t.Fatal("Load accepted a malformed AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
		}
	})
	t.Run("malformed X-Ray daemon address in Lambda", func(t *testing.T) {
		env := map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s", "AWS_XRAY_DAEMON_ADDRESS": "no port"}
		if _, err := Load(context.Background(), "eu-west-1", mapenv(env), Options{}); err != nil {
			t.Fatalf("Load outside Lambda (tracing off) = %v, want the address unread", err)
		}
		env["LAMBDA_TASK_ROOT"] = "/var/task"
		if _, err := Load(context.Background(), "eu-west-1", mapenv(env), Options{}); err == nil {
			t.Fatal("Load in Lambda accepted a malformed AWS_XRAY_DAEMON_ADDRESS")
		}
	})
}

func TestForRegionKeepsEverythingButRegion(t *testing.T) {
	cfg, err := Load(context.Background(), "eu-west-1", mapenv(map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s"}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := ForRegion(cfg, "us-east-1")
	if other.Region != "us-east-1" || cfg.Region != "eu-west-1" {
		t.Fatalf("regions = %s, %s", other.Region, cfg.Region)
	}
	if other.HTTPClient != cfg.HTTPClient || other.Credentials != cfg.Credentials {
		t.Fatal("ForRegion did not share the HTTP client and credentials")
	}
}

// TestReplicatedWriteConflictIsRetried: an MRSC table's
// ReplicatedWriteConflictException is retried like a throttle; a
// ValidationException is not.
func TestReplicatedWriteConflictIsRetried(t *testing.T) {
	for _, tt := range []struct {
		code string
		want int32
	}{
		{"ReplicatedWriteConflictException", 3},
		{"ValidationException", 1},
	} {
		t.Run(tt.code, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#` + tt.code + `","message":"fake"}`))
			}))
			defer srv.Close()
			env := map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": srv.URL}
			cfg, err := Load(context.Background(), "eu-west-1", func(k string) string { return env[k] }, Options{MaxAttempts: 3})
			if err != nil {
				t.Fatal(err)
			}
			_, err = dynamodb.NewFromConfig(cfg).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}}})
			if err == nil || calls.Load() != tt.want {
				t.Fatalf("%d calls (err %v), want %d", calls.Load(), err, tt.want)
			}
		})
	}
}
