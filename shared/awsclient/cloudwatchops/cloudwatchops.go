// Package cloudwatchops holds the CloudWatch operations homeregion calls, bound to a
// *cloudwatch.Client as method values (see package awsclient for why).
package cloudwatchops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// Ops holds the bound operations; it satisfies any adapter interface made of
// a subset of them. Build it with New.
type Ops struct {
	PutMetricDataFn func(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// New binds the operations to c.
func New(c *cloudwatch.Client) *Ops {
	return &Ops{
		PutMetricDataFn: c.PutMetricData,
	}
}

// PutMetricData calls cloudwatch.Client.PutMetricData.
func (o *Ops) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return o.PutMetricDataFn(ctx, in, optFns...)
}
