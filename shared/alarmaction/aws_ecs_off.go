//go:build alarmaction_failover

// A bootstrap built for one ACTION that does not use ECS (see actions.go)
// has these stand-ins instead of the ECS adapter, so that it links no ECS
// client: nothing builds them (NewFromAWS makes no ECS client, and New
// refuses an action whose clients are missing).

package alarmaction

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ECSAPI has no implementation in this bootstrap.
type ECSAPI interface{ notLinked() }

// ECSServices is the stand-in for the ECS adapter.
type ECSServices struct{}

// NewECSServices returns the stand-in.
func NewECSServices(ECSAPI) *ECSServices { return &ECSServices{} }

// DesiredCount fails: ECS is not linked into this bootstrap.
func (*ECSServices) DesiredCount(context.Context, string, string) (int, error) {
	return 0, errNotBuilt("ECS")
}

// SetDesiredCount fails: ECS is not linked into this bootstrap.
func (*ECSServices) SetDesiredCount(context.Context, string, string, int) error {
	return errNotBuilt("ECS")
}

// newECS makes no client: ECS is not linked into this bootstrap.
func newECS(aws.Config) ECSAPI { return nil }
