// Package awsclient provides the AWS operations homeregion calls, each
// bound to its SDK client as a method value, behind types that satisfy the
// consumer-side interfaces of the adapter packages.
//
// Why not pass the *Client itself: the X-Ray SDK links protobuf, which uses
// reflect.Value.MethodByName, and once that is reachable the Go linker keeps
// every exported method of every type converted to an interface. An SDK
// client stored in an interface then drags in all of its operations (ECS
// alone has 270 methods): the failover bootstrap was 20.8 MB for linux/arm64.
// A method value keeps only the operation it names.
package awsclient

import (
	"context"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// DynamoDB holds the dynamodb operations homeregion uses. Build it with NewDynamoDB.
type DynamoDB struct {
	GetItemFn            func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItemFn            func(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItemFn         func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItemFn         func(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItemsFn func(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// NewDynamoDB binds the operations to c.
func NewDynamoDB(c *dynamodb.Client) *DynamoDB {
	return &DynamoDB{
		GetItemFn:            c.GetItem,
		PutItemFn:            c.PutItem,
		UpdateItemFn:         c.UpdateItem,
		DeleteItemFn:         c.DeleteItem,
		TransactWriteItemsFn: c.TransactWriteItems,
	}
}

// GetItem calls dynamodb.Client.GetItem.
func (c *DynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return c.GetItemFn(ctx, in, optFns...)
}

// PutItem calls dynamodb.Client.PutItem.
func (c *DynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return c.PutItemFn(ctx, in, optFns...)
}

// UpdateItem calls dynamodb.Client.UpdateItem.
func (c *DynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return c.UpdateItemFn(ctx, in, optFns...)
}

// DeleteItem calls dynamodb.Client.DeleteItem.
func (c *DynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return c.DeleteItemFn(ctx, in, optFns...)
}

// TransactWriteItems calls dynamodb.Client.TransactWriteItems.
func (c *DynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return c.TransactWriteItemsFn(ctx, in, optFns...)
}

// KMS holds the kms operations homeregion uses. Build it with NewKMS.
type KMS struct {
	GenerateMacFn func(context.Context, *kms.GenerateMacInput, ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
}

// NewKMS binds the operations to c.
func NewKMS(c *kms.Client) *KMS {
	return &KMS{
		GenerateMacFn: c.GenerateMac,
	}
}

// GenerateMac calls kms.Client.GenerateMac.
func (c *KMS) GenerateMac(ctx context.Context, in *kms.GenerateMacInput, optFns ...func(*kms.Options)) (*kms.GenerateMacOutput, error) {
	return c.GenerateMacFn(ctx, in, optFns...)
}

// SQS holds the sqs operations homeregion uses. Build it with NewSQS.
type SQS struct {
	SendMessageFn                  func(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ReceiveMessageFn               func(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageFn                func(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibilityFn      func(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatchFn func(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	GetQueueAttributesFn           func(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// NewSQS binds the operations to c.
func NewSQS(c *sqs.Client) *SQS {
	return &SQS{
		SendMessageFn:                  c.SendMessage,
		ReceiveMessageFn:               c.ReceiveMessage,
		DeleteMessageFn:                c.DeleteMessage,
		ChangeMessageVisibilityFn:      c.ChangeMessageVisibility,
		ChangeMessageVisibilityBatchFn: c.ChangeMessageVisibilityBatch,
		GetQueueAttributesFn:           c.GetQueueAttributes,
	}
}

// SendMessage calls sqs.Client.SendMessage.
func (c *SQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return c.SendMessageFn(ctx, in, optFns...)
}

// ReceiveMessage calls sqs.Client.ReceiveMessage.
func (c *SQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return c.ReceiveMessageFn(ctx, in, optFns...)
}

// DeleteMessage calls sqs.Client.DeleteMessage.
func (c *SQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return c.DeleteMessageFn(ctx, in, optFns...)
}

// ChangeMessageVisibility calls sqs.Client.ChangeMessageVisibility.
func (c *SQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return c.ChangeMessageVisibilityFn(ctx, in, optFns...)
}

// ChangeMessageVisibilityBatch calls sqs.Client.ChangeMessageVisibilityBatch.
func (c *SQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return c.ChangeMessageVisibilityBatchFn(ctx, in, optFns...)
}

// GetQueueAttributes calls sqs.Client.GetQueueAttributes.
func (c *SQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return c.GetQueueAttributesFn(ctx, in, optFns...)
}

// ECS holds the ecs operations homeregion uses. Build it with NewECS.
type ECS struct {
	DescribeServicesFn func(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateServiceFn    func(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// NewECS binds the operations to c.
func NewECS(c *ecs.Client) *ECS {
	return &ECS{
		DescribeServicesFn: c.DescribeServices,
		UpdateServiceFn:    c.UpdateService,
	}
}

// DescribeServices calls ecs.Client.DescribeServices.
func (c *ECS) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return c.DescribeServicesFn(ctx, in, optFns...)
}

// UpdateService calls ecs.Client.UpdateService.
func (c *ECS) UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	return c.UpdateServiceFn(ctx, in, optFns...)
}

// Route53 holds the route53 operations homeregion uses. Build it with NewRoute53.
type Route53 struct {
	GetHealthCheckFn    func(context.Context, *route53.GetHealthCheckInput, ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error)
	UpdateHealthCheckFn func(context.Context, *route53.UpdateHealthCheckInput, ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error)
}

// NewRoute53 binds the operations to c.
func NewRoute53(c *route53.Client) *Route53 {
	return &Route53{
		GetHealthCheckFn:    c.GetHealthCheck,
		UpdateHealthCheckFn: c.UpdateHealthCheck,
	}
}

// GetHealthCheck calls route53.Client.GetHealthCheck.
func (c *Route53) GetHealthCheck(ctx context.Context, in *route53.GetHealthCheckInput, optFns ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error) {
	return c.GetHealthCheckFn(ctx, in, optFns...)
}

// UpdateHealthCheck calls route53.Client.UpdateHealthCheck.
func (c *Route53) UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error) {
	return c.UpdateHealthCheckFn(ctx, in, optFns...)
}

// CloudWatch holds the cloudwatch operations homeregion uses. Build it with NewCloudWatch.
type CloudWatch struct {
	PutMetricDataFn func(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// NewCloudWatch binds the operations to c.
func NewCloudWatch(c *cloudwatch.Client) *CloudWatch {
	return &CloudWatch{
		PutMetricDataFn: c.PutMetricData,
	}
}

// PutMetricData calls cloudwatch.Client.PutMetricData.
func (c *CloudWatch) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return c.PutMetricDataFn(ctx, in, optFns...)
}
