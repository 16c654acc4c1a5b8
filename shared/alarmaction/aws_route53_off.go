//go:build alarmaction_promote || alarmaction_scale

// A bootstrap built for one ACTION that does not use Route 53 (see actions.go)
// has these stand-ins instead of the Route 53 adapter, so that it links no Route 53
// client: nothing builds them (NewFromAWS makes no Route 53 client, and New
// refuses an action whose clients are missing).

package alarmaction

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Route53API has no implementation in this bootstrap.
type Route53API interface{ notLinked() }

// Route53HealthChecks is the stand-in for the Route 53 adapter.
type Route53HealthChecks struct{}

// NewRoute53HealthChecks returns the stand-in.
func NewRoute53HealthChecks(Route53API) *Route53HealthChecks { return &Route53HealthChecks{} }

// Inverted fails: Route 53 is not linked into this bootstrap.
func (*Route53HealthChecks) Inverted(context.Context, string) (bool, error) {
	return false, errNotBuilt("Route 53")
}

// SetInverted fails: Route 53 is not linked into this bootstrap.
func (*Route53HealthChecks) SetInverted(context.Context, string, bool) error {
	return errNotBuilt("Route 53")
}

// newRoute53 makes no client: Route 53 is not linked into this bootstrap.
func newRoute53(aws.Config) Route53API { return nil }
