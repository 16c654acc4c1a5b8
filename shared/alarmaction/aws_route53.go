//go:build !alarmaction_promote && !alarmaction_scale

// This file is left out of a bootstrap built for one ACTION that does not
// use Route 53 (build tags alarmaction_failover, alarmaction_promote,
// alarmaction_scale; see actions.go): linking the SDK's route53 package
// initialises its schemas and endpoint tables at every cold start.

package alarmaction

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/homeregion/homeregion/shared/awsclient/route53ops"
)

// Route53API is the part of *route53.Client the health check adapter uses.
type Route53API interface {
	GetHealthCheck(ctx context.Context, in *route53.GetHealthCheckInput, optFns ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error)
	UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error)
}

// Route53HealthChecks adapts Route 53 to HealthChecks.
type Route53HealthChecks struct{ c Route53API }

// NewRoute53HealthChecks returns the adapter over c.
func NewRoute53HealthChecks(c Route53API) *Route53HealthChecks { return &Route53HealthChecks{c} }

// Inverted returns the health check's Inverted flag.
func (r *Route53HealthChecks) Inverted(ctx context.Context, id string) (bool, error) {
	out, err := r.c.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return false, fmt.Errorf("route53 GetHealthCheck %s: %w", id, err)
	}
	if out.HealthCheck == nil || out.HealthCheck.HealthCheckConfig == nil {
		return false, fmt.Errorf("route53 GetHealthCheck %s: no configuration in response", id)
	}
	return aws.ToBool(out.HealthCheck.HealthCheckConfig.Inverted), nil
}

// SetInverted sets the health check's Inverted flag.
func (r *Route53HealthChecks) SetInverted(ctx context.Context, id string, inverted bool) error {
	_, err := r.c.UpdateHealthCheck(ctx, &route53.UpdateHealthCheckInput{HealthCheckId: aws.String(id), Inverted: aws.Bool(inverted)})
	if err != nil {
		return fmt.Errorf("route53 UpdateHealthCheck %s inverted=%t: %w", id, inverted, err)
	}
	return nil
}

// newRoute53 is NewFromAWS's Route 53 client. Route 53 is a global service:
// the SDK resolves its endpoint from any region.
func newRoute53(awscfg aws.Config) Route53API { return route53ops.New(route53.NewFromConfig(awscfg)) }
