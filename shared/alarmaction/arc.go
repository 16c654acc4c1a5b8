//go:build !alarmaction_promote && !alarmaction_scale

// This file is left out of a bootstrap built for ACTION=promote or scale
// (see actions.go): linking package arcops initialises the ARC cluster
// client's endpoint tables at every cold start.

package alarmaction

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/homeregion/homeregion/shared/awsclient/arcops"
)

// ARCAPI is the part of *arcops.Client the routing control adapter uses: one
// attempt at one cluster endpoint per call.
type ARCAPI interface {
	GetRoutingControlState(ctx context.Context, ep arcops.Endpoint, arn string) (arcops.State, error)
	UpdateRoutingControlState(ctx context.Context, ep arcops.Endpoint, arn string, st arcops.State) error
}

// ArcEndpointBudget is how long one call may wait for one cluster endpoint
// before the next endpoint is tried.
const ArcEndpointBudget = 2 * time.Second

// arcReserve is the time of the invocation's deadline the adapter leaves to
// the control table writes that follow its call.
const arcReserve = 1500 * time.Millisecond

// ARCRoutingControl adapts an ARC routing control to Switch: failed over is
// Off. Each call tries the cluster's endpoints in turn, as ARC advises,
// starting with the one that answered last, each with its own
// ArcEndpointBudget, and within the context's deadline less a reserve for
// the control table; an answer every endpoint would give (a safety rule's
// ConflictException, a validation or access error) ends the call at once.
type ARCRoutingControl struct {
	c      ARCAPI
	arn    string
	eps    []arcops.Endpoint
	budget time.Duration
	last   atomic.Int32
}

// NewARCRoutingControl returns the adapter for routing control arn through
// the cluster endpoints eps (ParseEnv's ARC_ENDPOINTS).
func NewARCRoutingControl(c ARCAPI, arn string, eps []ArcEndpoint) *ARCRoutingControl {
	return &ARCRoutingControl{c: c, arn: arn, budget: ArcEndpointBudget, eps: slices.Clone(eps)}
}

// FailedOver reports whether the routing control is Off.
func (r *ARCRoutingControl) FailedOver(ctx context.Context) (bool, error) {
	var st arcops.State
	err := r.each(ctx, "GetRoutingControlState", func(ctx context.Context, ep arcops.Endpoint) error {
		var err error
		st, err = r.c.GetRoutingControlState(ctx, ep, r.arn)
		return err
	})
	return st == arcops.Off, err
}

// SetFailedOver sets the routing control Off (failedOver) or On.
func (r *ARCRoutingControl) SetFailedOver(ctx context.Context, failedOver bool) error {
	st := arcops.On
	if failedOver {
		st = arcops.Off
	}
	return r.each(ctx, "UpdateRoutingControlState "+string(st), func(ctx context.Context, ep arcops.Endpoint) error {
		return r.c.UpdateRoutingControlState(ctx, ep, r.arn, st)
	})
}

// each calls fn with each endpoint in turn until one answers.
func (r *ARCRoutingControl) each(ctx context.Context, op string, fn func(context.Context, arcops.Endpoint) error) error {
	if len(r.eps) == 0 {
		return fmt.Errorf("arc %s %s: no cluster endpoints", op, r.arn)
	}
	start := int(r.last.Load())
	var errs []error
	for i := range r.eps {
		budget := r.budget
		if deadline, ok := ctx.Deadline(); ok {
			left := time.Until(deadline) - arcReserve
			if left <= 0 {
				errs = append(errs, errors.New("no time left in the invocation for another endpoint"))
				break
			}
			budget = min(budget, left)
		}
		idx := (start + i) % len(r.eps)
		actx, cancel := context.WithTimeout(ctx, budget)
		err := fn(actx, r.eps[idx])
		cancel()
		if err == nil {
			r.last.Store(int32(idx))
			return nil
		}
		errs = append(errs, err)
		if arcops.Definitive(err) {
			return fmt.Errorf("arc %s %s: %w", op, r.arn, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("arc %s %s: no cluster endpoint answered: %w", op, r.arn, errors.Join(errs...))
}

// newARC is NewFromAWS's ARC cluster client: the cluster's own endpoints
// (ARC_ENDPOINTS), not the SDK's resolver.
func newARC(awscfg aws.Config) ARCAPI { return arcops.New(awscfg) }
