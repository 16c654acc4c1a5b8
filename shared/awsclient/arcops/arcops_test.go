package arcops

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
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
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}, nil
	}
}

func TestErrorsAndDefinitive(t *testing.T) {
	tests := []struct {
		name       string
		client     httpFunc
		code       string
		definitive bool
	}{
		{"throttled", answer(400, nil, `{"__type":"ThrottlingException","message":"slow down"}`), "ThrottlingException", false},
		{"namespaced type", answer(409, nil, `{"__type":"com.amazonaws.route53recoverycluster#ConflictException","message":"safety rule"}`), "ConflictException", true},
		{"type in the header", answer(503, map[string]string{"X-Amzn-ErrorType": "EndpointTemporarilyUnavailableException:http://x"}, ``), "EndpointTemporarilyUnavailableException", false},
		{"bare 500", answer(500, nil, `oops`), "Internal Server Error", false},
		{"access denied", answer(403, nil, `{"__type":"AccessDeniedException","Message":"no"}`), "AccessDeniedException", true},
		{"429", answer(429, nil, `{}`), "Too Many Requests", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(aws.Config{HTTPClient: tc.client, Credentials: credentials.NewStaticCredentialsProvider("AKID", "S", "")})
			_, err := c.GetRoutingControlState(context.Background(), Endpoint{Region: "us-west-2", URL: "https://x/v1"}, "arn")
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tc.code || apiErr.Definitive() != tc.definitive {
				t.Fatalf("error %#v (%v), want code %s definitive %v", apiErr, err, tc.code, tc.definitive)
			}
		})
	}
}

// TestWireForm: the request is what the SDK sends: POST to the endpoint's
// path, JSON 1.0, the target, SigV4 for the endpoint's region.
func TestWireForm(t *testing.T) {
	var got *http.Request
	var body string
	c := New(aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKID", "S", ""), HTTPClient: httpFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		return answer(200, nil, `{}`)(r)
	})})
	if err := c.UpdateRoutingControlState(context.Background(), Endpoint{Region: "ap-southeast-2", URL: "https://host.example/v1"}, "arn:x", Off); err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"method":       got.Method == http.MethodPost,
		"url":          got.URL.String() == "https://host.example/v1/",
		"content type": got.Header.Get("Content-Type") == "application/x-amz-json-1.0",
		"target":       got.Header.Get("X-Amz-Target") == "ToggleCustomerAPI.UpdateRoutingControlState",
		"scope":        strings.Contains(got.Header.Get("Authorization"), "/ap-southeast-2/route53-recovery-cluster/aws4_request"),
		"body":         body == `{"RoutingControlArn":"arn:x","RoutingControlState":"Off"}`,
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s wrong: %s %s %v body %s", name, got.Method, got.URL, got.Header, body)
		}
	}
}
