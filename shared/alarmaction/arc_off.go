//go:build alarmaction_promote || alarmaction_scale

// A bootstrap built for ACTION=promote or scale (see actions.go) has these
// stand-ins instead of the ARC routing control adapter, so that it links no
// ARC client: nothing builds them (NewFromAWS makes no ARC client, and New
// refuses SWITCH=arc without one).

package alarmaction

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ARCAPI has no implementation in this bootstrap.
type ARCAPI interface{ notLinked() }

// ARCRoutingControl is the stand-in for the ARC routing control adapter.
type ARCRoutingControl struct{}

// NewARCRoutingControl returns the stand-in.
func NewARCRoutingControl(ARCAPI, string, []ArcEndpoint) *ARCRoutingControl {
	return &ARCRoutingControl{}
}

// FailedOver fails: ARC is not linked into this bootstrap.
func (*ARCRoutingControl) FailedOver(context.Context) (bool, error) {
	return false, errNotBuilt("ARC")
}

// SetFailedOver fails: ARC is not linked into this bootstrap.
func (*ARCRoutingControl) SetFailedOver(context.Context, bool) error {
	return errNotBuilt("ARC")
}

// newARC makes no client: ARC is not linked into this bootstrap.
func newARC(aws.Config) ARCAPI { return nil }
