package arcops

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53recoverycluster/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// httpFunc is an aws.HTTPClient answering with a function.
type httpFunc func(*http.Request) (*http.Response, error)

func (f httpFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func answer(status int, hdr map[string]string, body string) httpFunc {
	return func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		for k, v := range hdr {
			h.Set(k, v)
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
}

func newClient(hc aws.HTTPClient) *Client {
	return New(aws.Config{Region: "eu-west-1", HTTPClient: hc, Credentials: credentials.NewStaticCredentialsProvider("AKID", "S", "")})
}

var ep = Endpoint{Region: "us-west-2", URL: "https://x/v1"}

// TestErrorsAndDefinitive: the SDK decodes each answer into its typed error
// (or a smithy.APIError for a code the model does not name), Definitive
// classifies it, and the client makes exactly one attempt, whatever the answer.
// UpdateRoutingControlState is the operation whose model names every error
// (GetRoutingControlState's has no ConflictException).
func TestErrorsAndDefinitive(t *testing.T) {
	tests := []struct {
		name       string
		client     httpFunc
		is         func(error) bool
		code       string // smithy.APIError's code, "" = no API error
		definitive bool
	}{
		{"throttled", answer(400, nil, `{"__type":"ThrottlingException","message":"slow down"}`),
			isType[*types.ThrottlingException], "ThrottlingException", false},
		{"safety rule", answer(409, nil, `{"__type":"com.amazonaws.route53recoverycluster#ConflictException","message":"safety rule"}`),
			isType[*types.ConflictException], "ConflictException", true},
		{"type in the header", answer(503, map[string]string{"X-Amzn-ErrorType": "EndpointTemporarilyUnavailableException:http://x"}, ``),
			isType[*types.EndpointTemporarilyUnavailableException], "EndpointTemporarilyUnavailableException", false},
		{"internal", answer(500, nil, `{"__type":"InternalServerException","message":"oops"}`),
			isType[*types.InternalServerException], "InternalServerException", false},
		{"bare 500", answer(500, nil, `oops`), nil, "", false},
		{"bare 502 with JSON", answer(502, nil, `{}`), nil, "", false},
		{"access denied", answer(403, nil, `{"__type":"AccessDeniedException","Message":"no"}`),
			isType[*types.AccessDeniedException], "AccessDeniedException", true},
		{"validation", answer(400, nil, `{"__type":"ValidationException","message":"bad arn"}`),
			isType[*types.ValidationException], "ValidationException", true},
		{"not found", answer(404, nil, `{"__type":"ResourceNotFoundException","message":"no such control"}`),
			isType[*types.ResourceNotFoundException], "ResourceNotFoundException", true},
		{"bad signature", answer(403, nil, `{"__type":"InvalidSignatureException","message":"scope"}`),
			nil, "InvalidSignatureException", true},
		{"unmodelled throttle code", answer(400, nil, `{"__type":"TooManyRequestsException"}`),
			nil, "TooManyRequestsException", false},
		{"429", answer(429, nil, `{}`), nil, "", false},
		{"no answer", func(*http.Request) (*http.Response, error) { return nil, errors.New("connection refused") }, nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			c := newClient(httpFunc(func(r *http.Request) (*http.Response, error) {
				calls.Add(1)
				return tc.client(r)
			}))
			err := c.UpdateRoutingControlState(context.Background(), ep, "arn", Off)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !tc.is(err) {
				t.Errorf("error %T (%v) is not the typed error", errors.Unwrap(err), err)
			}
			var apiErr smithy.APIError
			if tc.code != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code) {
				t.Errorf("error %v, want API error %s", err, tc.code)
			}
			if got := Definitive(err); got != tc.definitive {
				t.Errorf("Definitive(%v) = %v, want %v", err, got, tc.definitive)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d attempts, want 1 (no SDK retries)", n)
			}
		})
	}
}

func isType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// TestWireForm: what the SDK sends for each endpoint: POST to the endpoint's
// path, JSON 1.0, the target, SigV4 for the endpoint's region (not the
// config's), one attempt.
func TestWireForm(t *testing.T) {
	var got []*http.Request
	var bodies []string
	c := newClient(httpFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r)
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		return answer(200, nil, `{"RoutingControlArn":"arn:x","RoutingControlState":"Off"}`)(r)
	}))
	ctx := context.Background()
	if err := c.UpdateRoutingControlState(ctx, Endpoint{Region: "ap-southeast-2", URL: "https://host.example/v1"}, "arn:x", Off); err != nil {
		t.Fatal(err)
	}
	if st, err := c.GetRoutingControlState(ctx, Endpoint{Region: "us-east-1", URL: "https://other.example/v1"}, "arn:x"); err != nil || st != Off {
		t.Fatalf("GetRoutingControlState = %q, %v", st, err)
	}
	want := []struct{ url, target, region, body string }{
		{"https://host.example/v1", "ToggleCustomerAPI.UpdateRoutingControlState", "ap-southeast-2", `{"RoutingControlArn":"arn:x","RoutingControlState":"Off"}`},
		{"https://other.example/v1", "ToggleCustomerAPI.GetRoutingControlState", "us-east-1", `{"RoutingControlArn":"arn:x"}`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		checks := map[string]bool{
			"method":       r.Method == http.MethodPost,
			"url":          r.URL.String() == w.url,
			"content type": r.Header.Get("Content-Type") == "application/x-amz-json-1.0",
			"target":       r.Header.Get("X-Amz-Target") == w.target,
			"scope":        strings.Contains(r.Header.Get("Authorization"), "/"+w.region+"/route53-recovery-cluster/aws4_request"),
			"one attempt":  r.Header.Get("Amz-Sdk-Request") == "attempt=1; max=1",
			"body":         bodies[i] == w.body,
		}
		for name, ok := range checks {
			if !ok {
				t.Errorf("request %d: %s wrong: %s %s %v body %s", i, name, r.Method, r.URL, r.Header, bodies[i])
			}
		}
	}
}

// TestStateNotOnOrOff: a state the client does not know is an error, not Off.
func TestStateNotOnOrOff(t *testing.T) {
	c := newClient(answer(200, nil, `{"RoutingControlArn":"arn:x","RoutingControlState":"Maybe"}`))
	if st, err := c.GetRoutingControlState(context.Background(), ep, "arn:x"); err == nil {
		t.Fatalf("state %q accepted", st)
	}
}

// TestConfigAPIOptionsApply: the client is built from the shared aws.Config,
// so what awsconfig adds there (X-Ray instrumentation, as API options)
// wraps the ARC calls too.
func TestConfigAPIOptionsApply(t *testing.T) {
	var seen []string
	cfg := aws.Config{
		HTTPClient:  answer(200, nil, `{"RoutingControlArn":"arn:x","RoutingControlState":"On"}`),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "S", ""),
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("probe", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				seen = append(seen, middleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		}},
	}
	if _, err := New(cfg).GetRoutingControlState(context.Background(), ep, "arn:x"); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "GetRoutingControlState" {
		t.Fatalf("config API options saw %v, want the one call", seen)
	}
}

// TestStatesAreTheSDKs: package arccluster spells the states without the
// SDK; they must be the API's own values.
func TestStatesAreTheSDKs(t *testing.T) {
	if On != State(types.RoutingControlStateOn) || Off != State(types.RoutingControlStateOff) {
		t.Fatalf("On, Off = %q, %q; the SDK's are %q, %q", On, Off, types.RoutingControlStateOn, types.RoutingControlStateOff)
	}
}
