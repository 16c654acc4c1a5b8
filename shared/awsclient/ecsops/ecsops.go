// Package ecsops holds the ECS operations homeregion calls, bound to a
// *ecs.Client as method values (see package awsclient for why).
package ecsops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// Ops holds the bound operations; it satisfies any adapter interface made of
// a subset of them. Build it with New.
type Ops struct {
	DescribeServicesFn func(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateServiceFn    func(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// New binds the operations to c.
func New(c *ecs.Client) *Ops {
	return &Ops{
		DescribeServicesFn: c.DescribeServices,
		UpdateServiceFn:    c.UpdateService,
	}
}

// DescribeServices calls ecs.Client.DescribeServices.
func (o *Ops) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return o.DescribeServicesFn(ctx, in, optFns...)
}

// UpdateService calls ecs.Client.UpdateService.
func (o *Ops) UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	return o.UpdateServiceFn(ctx, in, optFns...)
}
