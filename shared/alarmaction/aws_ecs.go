//go:build !alarmaction_failover

// This file is left out of a bootstrap built for one ACTION that does not
// use ECS (build tags alarmaction_failover, alarmaction_promote,
// alarmaction_scale; see actions.go): linking the SDK's ecs package
// initialises its schemas and endpoint tables at every cold start.

package alarmaction

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/homeregion/homeregion/shared/awsclient/ecsops"
)

// ECSAPI is the part of *ecs.Client the service adapter uses.
type ECSAPI interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// ECSServices adapts ECS to Services.
type ECSServices struct{ c ECSAPI }

// NewECSServices returns the adapter over c.
func NewECSServices(c ECSAPI) *ECSServices { return &ECSServices{c} }

// DesiredCount returns the service's desired count.
func (e *ECSServices) DesiredCount(ctx context.Context, cluster, service string) (int, error) {
	out, err := e.c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		return 0, fmt.Errorf("ecs DescribeServices %s/%s: %w", cluster, service, err)
	}
	for _, s := range out.Services {
		if aws.ToString(s.ServiceName) == service || aws.ToString(s.ServiceArn) == service {
			return int(s.DesiredCount), nil
		}
	}
	reason := "not found"
	if len(out.Failures) > 0 && out.Failures[0].Reason != nil {
		reason = *out.Failures[0].Reason
	}
	return 0, fmt.Errorf("ecs DescribeServices %s/%s: %s", cluster, service, reason)
}

// SetDesiredCount sets the service's desired count.
func (e *ECSServices) SetDesiredCount(ctx context.Context, cluster, service string, n int) error {
	_, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(service), DesiredCount: aws.Int32(int32(n))})
	if err != nil {
		return fmt.Errorf("ecs UpdateService %s/%s desiredCount=%d: %w", cluster, service, n, err)
	}
	return nil
}

// newECS is NewFromAWS's ECS client.
func newECS(awscfg aws.Config) ECSAPI { return ecsops.New(ecs.NewFromConfig(awscfg)) }
