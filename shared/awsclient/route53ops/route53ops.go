// Package route53ops holds the Route 53 operations homeregion calls, bound to a
// *route53.Client as method values (see package awsclient for why).
package route53ops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/route53"
)

// Ops holds the bound operations; it satisfies any adapter interface made of
// a subset of them. Build it with New.
type Ops struct {
	GetHealthCheckFn    func(context.Context, *route53.GetHealthCheckInput, ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error)
	UpdateHealthCheckFn func(context.Context, *route53.UpdateHealthCheckInput, ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error)
}

// New binds the operations to c.
func New(c *route53.Client) *Ops {
	return &Ops{
		GetHealthCheckFn:    c.GetHealthCheck,
		UpdateHealthCheckFn: c.UpdateHealthCheck,
	}
}

// GetHealthCheck calls route53.Client.GetHealthCheck.
func (o *Ops) GetHealthCheck(ctx context.Context, in *route53.GetHealthCheckInput, optFns ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error) {
	return o.GetHealthCheckFn(ctx, in, optFns...)
}

// UpdateHealthCheck calls route53.Client.UpdateHealthCheck.
func (o *Ops) UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error) {
	return o.UpdateHealthCheckFn(ctx, in, optFns...)
}
