// Package arcops calls the data plane of a Route 53 Application Recovery
// Controller (ARC) cluster: GetRoutingControlState and
// UpdateRoutingControlState, one request to one cluster endpoint each.
//
// Unlike the other awsclient packages it does not bind an SDK client: the
// SDK's route53recoverycluster module is not available to this build, and
// the two operations are small enough to speak directly. The wire form is
// the one that module sends: AWS JSON 1.0, POST / with X-Amz-Target
// "ToggleCustomerAPI.<operation>", SigV4 signed for the service
// "route53-recovery-cluster" in the endpoint's own region (each of a
// cluster's five endpoints is regional). Errors are decoded from the
// response's "__type" into *APIError.
//
// A Client makes exactly one attempt per call: no retries, so that a caller
// trying a cluster's endpoints in turn (as ARC advises) decides where the
// next attempt goes, each within its own time budget.
package arcops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningName is the SigV4 service name of the cluster data plane.
const SigningName = "route53-recovery-cluster"

// TargetPrefix is the X-Amz-Target prefix of the cluster data plane.
const TargetPrefix = "ToggleCustomerAPI"

// State is a routing control's state.
type State string

// The routing control states.
const (
	On  State = "On"
	Off State = "Off"
)

// Endpoint is one of a cluster's regional endpoints.
type Endpoint struct {
	// Region is the endpoint's region, the SigV4 signing region.
	Region string
	// URL is the endpoint's base URL (https://host/v1 as ARC lists them).
	URL string
}

// APIError is an error answer of the cluster.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code is the error type (ThrottlingException, ConflictException, ...).
	Code string
	// Message is the service's message.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Definitive reports whether the cluster decided the request (a client error
// other than throttling: validation, access, not found, a safety rule), so
// another endpoint of the same cluster would answer the same.
func (e *APIError) Definitive() bool {
	if e.Status >= 500 || e.Status == http.StatusTooManyRequests {
		return false
	}
	switch e.Code {
	case "ThrottlingException", "EndpointTemporarilyUnavailableException", "InternalServerException":
		return false
	}
	return e.Status >= 400
}

// Client calls cluster endpoints. Build it with New.
type Client struct {
	http   aws.HTTPClient
	creds  aws.CredentialsProvider
	signer *v4.Signer
	now    func() time.Time
}

// New returns a client using cfg's HTTP client and credentials (awsconfig.Load:
// its dial and response-header timeouts apply). It makes no network call.
func New(cfg aws.Config) *Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{http: hc, creds: cfg.Credentials, signer: v4.NewSigner(), now: time.Now}
}

// GetRoutingControlState returns the state of routing control arn as ep sees it.
func (c *Client) GetRoutingControlState(ctx context.Context, ep Endpoint, arn string) (State, error) {
	var out struct {
		RoutingControlState State
	}
	if err := c.call(ctx, ep, "GetRoutingControlState", map[string]any{"RoutingControlArn": arn}, &out); err != nil {
		return "", err
	}
	if out.RoutingControlState != On && out.RoutingControlState != Off {
		return "", fmt.Errorf("arc GetRoutingControlState at %s: state %q is not On or Off", ep.Region, out.RoutingControlState)
	}
	return out.RoutingControlState, nil
}

// UpdateRoutingControlState sets routing control arn to st through ep.
func (c *Client) UpdateRoutingControlState(ctx context.Context, ep Endpoint, arn string, st State) error {
	return c.call(ctx, ep, "UpdateRoutingControlState", map[string]any{"RoutingControlArn": arn, "RoutingControlState": st}, nil)
}

func (c *Client) call(ctx context.Context, ep Endpoint, op string, in any, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("arc %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(ep.URL, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("arc %s at %s: %w", op, ep.Region, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", TargetPrefix+"."+op)
	if c.creds != nil {
		creds, err := c.creds.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("arc %s: credentials: %w", op, err)
		}
		sum := sha256.Sum256(body)
		if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningName, ep.Region, c.now()); err != nil {
			return fmt.Errorf("arc %s: sign: %w", op, err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("arc %s at %s: %w", op, ep.Region, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("arc %s at %s: read response: %w", op, ep.Region, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("arc %s at %s: %w", op, ep.Region, decodeError(resp, data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("arc %s at %s: decode response: %w", op, ep.Region, err)
	}
	return nil
}

// decodeError reads an AWS JSON 1.0 error: "__type" (possibly
// "namespace#Code") or the X-Amzn-ErrorType header, and "message"/"Message".
func decodeError(resp *http.Response, data []byte) *APIError {
	var e struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(data, &e)
	code := e.Type
	if code == "" {
		code = resp.Header.Get("X-Amzn-ErrorType")
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := e.Message
	if msg == "" {
		msg = e.MessageU
	}
	return &APIError{Status: resp.StatusCode, Code: code, Message: msg}
}
