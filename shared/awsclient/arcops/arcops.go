// Package arcops holds the two Route 53 Application Recovery Controller (ARC)
// cluster data-plane operations the failover action calls,
// GetRoutingControlState and UpdateRoutingControlState, bound to a
// *route53recoverycluster.Client as method values (see package awsclient for
// why), and the rule that says which of the cluster's answers end a rotation
// through its endpoints (Definitive).
//
// A cluster has up to five regional endpoints, none of them the SDK's
// resolved endpoint, so every call names its Endpoint: the call goes to the
// endpoint's URL (the client's BaseEndpoint) and is signed for the endpoint's
// region (the client's Region, the SigV4 scope). A Client makes exactly one
// attempt per call (no SDK retries): the caller trying a cluster's endpoints
// in turn, as ARC advises, decides where the next attempt goes, each within
// its own time budget.
package arcops

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	rc "github.com/aws/aws-sdk-go-v2/service/route53recoverycluster"
	"github.com/aws/aws-sdk-go-v2/service/route53recoverycluster/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/homeregion/homeregion/shared/awsclient/arccluster"
)

// State is a routing control's state (package arccluster's, which holds it
// without the SDK).
type State = arccluster.State

// The routing control states.
const (
	On  = arccluster.On
	Off = arccluster.Off
)

// Endpoint is one of a cluster's regional endpoints (package arccluster's,
// which holds it without the SDK).
type Endpoint = arccluster.Endpoint

// Client calls cluster endpoints. Build it with New.
type Client struct {
	get    func(context.Context, *rc.GetRoutingControlStateInput, ...func(*rc.Options)) (*rc.GetRoutingControlStateOutput, error)
	update func(context.Context, *rc.UpdateRoutingControlStateInput, ...func(*rc.Options)) (*rc.UpdateRoutingControlStateOutput, error)
}

// New returns a client built from cfg (awsconfig.Load: its credentials, HTTP
// client with its timeouts, and instrumentation apply) with retries turned
// off. It makes no network call.
func New(cfg aws.Config) *Client {
	c := rc.NewFromConfig(cfg, func(o *rc.Options) {
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 1
	})
	return &Client{get: c.GetRoutingControlState, update: c.UpdateRoutingControlState}
}

// at points one call at ep: its URL, signed for its region.
func at(ep Endpoint) func(*rc.Options) {
	return func(o *rc.Options) {
		o.BaseEndpoint = aws.String(ep.URL)
		o.Region = ep.Region
	}
}

// GetRoutingControlState returns the state of routing control arn as ep sees it.
func (c *Client) GetRoutingControlState(ctx context.Context, ep Endpoint, arn string) (State, error) {
	out, err := c.get(ctx, &rc.GetRoutingControlStateInput{RoutingControlArn: aws.String(arn)}, at(ep))
	if err != nil {
		return "", fmt.Errorf("endpoint %s: %w", ep.Region, err)
	}
	st := State(out.RoutingControlState)
	if st != On && st != Off {
		return "", fmt.Errorf("endpoint %s: state %q is not On or Off", ep.Region, st)
	}
	return st, nil
}

// UpdateRoutingControlState sets routing control arn to st through ep.
func (c *Client) UpdateRoutingControlState(ctx context.Context, ep Endpoint, arn string, st State) error {
	_, err := c.update(ctx, &rc.UpdateRoutingControlStateInput{
		RoutingControlArn:   aws.String(arn),
		RoutingControlState: types.RoutingControlState(st),
	}, at(ep))
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", ep.Region, err)
	}
	return nil
}

// Definitive reports whether err is an answer the cluster decided (a safety
// rule's ConflictException, a validation, access or not-found error, or any
// other client error that is not throttling), so that every endpoint of the
// cluster would answer the same and trying the next one is pointless. An
// endpoint that throttles, fails (5xx), is temporarily unavailable, or gives
// no answer at all (timeout, connection refused) is not definitive: another
// endpoint may answer.
func Definitive(err error) bool {
	var (
		conflict *types.ConflictException
		invalid  *types.ValidationException
		denied   *types.AccessDeniedException
		notFound *types.ResourceNotFoundException
		limit    *types.ServiceLimitExceededException
	)
	if errors.As(err, &conflict) || errors.As(err, &invalid) || errors.As(err, &denied) ||
		errors.As(err, &notFound) || errors.As(err, &limit) {
		return true
	}
	var (
		throttled   *types.ThrottlingException
		internal    *types.InternalServerException
		unavailable *types.EndpointTemporarilyUnavailableException
	)
	if errors.As(err, &throttled) || errors.As(err, &internal) || errors.As(err, &unavailable) {
		return false
	}
	// An error the model does not name (InvalidSignatureException,
	// UnrecognizedClientException, a bare 5xx): the fault and the status decide.
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	if _, ok := retry.DefaultThrottleErrorCodes[apiErr.ErrorCode()]; ok || apiErr.ErrorFault() == smithy.FaultServer {
		return false
	}
	var resp *smithyhttp.ResponseError
	if !errors.As(err, &resp) {
		return false
	}
	s := resp.HTTPStatusCode()
	return s >= 400 && s < 500 && s != http.StatusTooManyRequests
}
