package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/homeregion/homeregion/internal/mototest"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func TestOperation(t *testing.T) {
	tests := []struct {
		name      string
		req       func() *http.Request
		op, targ  string
		wantProto Protocol
	}{
		{"json target", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
			return r
		}, "PutItem", "DynamoDB_20120810.PutItem", ProtoJSON},
		{"query form", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(url.Values{"Action": {"GetMetricData"}, "Version": {"2010-08-01"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			return r
		}, "GetMetricData", "GetMetricData", ProtoQuery},
		{"query string", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/?Action=ListQueues", nil)
		}, "ListQueues", "ListQueues", ProtoQuery},
		{"rest", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/2013-04-01/healthcheck/abc", nil)
		}, "POST /2013-04-01/healthcheck/abc", "POST /2013-04-01/healthcheck/abc", ProtoREST},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			op, targ, proto := Operation(r)
			if op != tc.op || targ != tc.targ || proto != tc.wantProto {
				t.Errorf("Operation = %q %q %v, want %q %q %v", op, targ, proto, tc.op, tc.targ, tc.wantProto)
			}
			if r.Body != nil {
				if b, _ := io.ReadAll(r.Body); tc.wantProto == ProtoQuery && r.Method == http.MethodPost && len(b) == 0 {
					t.Error("form body not restored")
				}
			}
		})
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		pattern, op, target string
		want                bool
	}{
		{"", "PutItem", "DynamoDB_20120810.PutItem", true},
		{"PutItem", "PutItem", "DynamoDB_20120810.PutItem", true},
		{"DynamoDB_20120810.PutItem", "PutItem", "DynamoDB_20120810.PutItem", true},
		{"DynamoDB_20120810.*", "GetItem", "DynamoDB_20120810.GetItem", true},
		{"POST /2013-04-01/healthcheck/*", "POST /2013-04-01/healthcheck/x", "POST /2013-04-01/healthcheck/x", true},
		{"GetItem", "PutItem", "DynamoDB_20120810.PutItem", false},
		{"AmazonSQS.*", "PutItem", "DynamoDB_20120810.PutItem", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+"/"+tc.op, func(t *testing.T) {
			if got := matches(tc.pattern, tc.op, tc.target); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestQueryErrorShape checks the query-protocol error body against a stub
// upstream (no moto needed).
func TestQueryErrorShape(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	p, err := Start(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Add("ListMetrics", Fault{Kind: Throttle, Times: 1})
	post := func() (*http.Response, string) {
		resp, err := http.PostForm(p.URL(), url.Values{"Action": {"ListMetrics"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post()
	if resp.StatusCode != 400 || !strings.Contains(body, "<Code>Throttling</Code>") {
		t.Errorf("throttle answer = %d %s", resp.StatusCode, body)
	}
	if resp, _ = post(); resp.StatusCode != 200 || hits.Load() != 1 {
		t.Errorf("second request: status %d, upstream hits %d; want 200 and 1 (Times: 1)", resp.StatusCode, hits.Load())
	}
}

// clients returns DynamoDB and SQS clients through p with maxAttempts attempts.
func clients(srv *mototest.Server, p *Proxy, maxAttempts int) (*dynamodb.Client, *sqs.Client) {
	cfg := srv.Config("eu-west-1")
	cfg.BaseEndpoint = aws.String(p.URL())
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = 20 * time.Millisecond
		})
	}
	return dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
}

func createTable(t *testing.T, db *dynamodb.Client, name string) {
	t.Helper()
	_, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
}

func put(ctx context.Context, db *dynamodb.Client, table, pk string) error {
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item:      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
	})
	return err
}

func TestFaultsAgainstMoto(t *testing.T) {
	srv := mototest.Require(t)
	p, err := Start(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	setup, _ := clients(srv, p, 1)
	table := fmt.Sprintf("faultproxy-%d", time.Now().UnixNano())
	createTable(t, setup, table)

	tests := []struct {
		name        string
		fault       Fault
		attempts    int
		timeout     time.Duration
		wantCode    string // API error code the client must see ("" = success)
		wantAnyErr  bool   // a transport error (no API code)
		wantStored  bool   // the item must be in moto afterwards
		wantForward int    // PutItem requests that reached moto
	}{
		{name: "no fault", attempts: 1, wantStored: true, wantForward: 1},
		{name: "latency", fault: Fault{Kind: Latency, Delay: 30 * time.Millisecond}, attempts: 1, wantStored: true, wantForward: 1},
		{name: "throttling", fault: Fault{Kind: Throttle}, attempts: 2, wantCode: "ThrottlingException"},
		{name: "provisioned throughput", fault: Fault{Kind: Throttle, ErrorCode: "ProvisionedThroughputExceededException"}, attempts: 1, wantCode: "ProvisionedThroughputExceededException"},
		{name: "5xx", fault: Fault{Kind: Status, Code: 503}, attempts: 2, wantCode: "ServiceUnavailable"},
		{name: "5xx once then retried", fault: Fault{Kind: Status, Code: 500, Times: 1}, attempts: 2, wantStored: true, wantForward: 1},
		{name: "reset", fault: Fault{Kind: Reset}, attempts: 1, wantAnyErr: true},
		{name: "black hole", fault: Fault{Kind: BlackHole}, attempts: 1, timeout: 200 * time.Millisecond, wantAnyErr: true},
		{name: "lost response", fault: Fault{Kind: LostResponse}, attempts: 1, wantCode: "InternalFailure", wantStored: true, wantForward: 1},
		{name: "lost response by reset", fault: Fault{Kind: LostResponse, Code: -1}, attempts: 1, wantAnyErr: true, wantStored: true, wantForward: 1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.Clear()
			if tc.fault.Kind != 0 {
				p.Add("DynamoDB_20120810.PutItem", tc.fault)
			}
			db, _ := clients(srv, p, tc.attempts)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			pk := fmt.Sprintf("item-%d", i)
			_, fwdBefore := p.Count("PutItem")
			err := put(ctx, db, table, pk)
			var apiErr smithy.APIError
			switch {
			case tc.wantCode != "":
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.wantCode {
					t.Errorf("error = %v, want API error %s", err, tc.wantCode)
				}
			case tc.wantAnyErr:
				if err == nil {
					t.Error("no error, want a transport error")
				}
			default:
				if err != nil {
					t.Errorf("error = %v, want success", err)
				}
			}
			_, fwdAfter := p.Count("PutItem")
			if got := fwdAfter - fwdBefore; got != tc.wantForward {
				t.Errorf("forwarded PutItem = %d, want %d", got, tc.wantForward)
			}
			p.Clear()
			out, err := setup.GetItem(context.Background(), &dynamodb.GetItemInput{
				TableName: aws.String(table), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
			})
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if stored := out.Item != nil; stored != tc.wantStored {
				t.Errorf("stored = %v, want %v", stored, tc.wantStored)
			}
		})
	}
}

func TestSQSOperationNames(t *testing.T) {
	srv := mototest.Require(t)
	p, err := Start(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, q := clients(srv, p, 1)
	ctx := context.Background()
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("fp-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	p.Add("SendMessage", Fault{Kind: Throttle, ErrorCode: "RequestThrottled", Times: 1})
	_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String("x")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "RequestThrottled" {
		t.Fatalf("SendMessage error = %v, want RequestThrottled", err)
	}
	if _, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String("x")}); err != nil {
		t.Fatalf("second SendMessage: %v", err)
	}
	if seen, fwd := p.Count("AmazonSQS.SendMessage"); seen != 2 || fwd != 1 {
		t.Errorf("SendMessage seen %d forwarded %d, want 2 and 1", seen, fwd)
	}
}
