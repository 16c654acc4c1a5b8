package awsclient

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestEveryOperationBound guards against an operation added to a struct but
// not bound in its constructor (a nil func would panic at the first call).
func TestEveryOperationBound(t *testing.T) {
	cfg := aws.Config{Region: "eu-west-1"}
	for name, v := range map[string]any{
		"DynamoDB":   NewDynamoDB(dynamodb.NewFromConfig(cfg)),
		"KMS":        NewKMS(kms.NewFromConfig(cfg)),
		"SQS":        NewSQS(sqs.NewFromConfig(cfg)),
		"ECS":        NewECS(ecs.NewFromConfig(cfg)),
		"Route53":    NewRoute53(route53.NewFromConfig(cfg)),
		"CloudWatch": NewCloudWatch(cloudwatch.NewFromConfig(cfg)),
	} {
		s := reflect.ValueOf(v).Elem()
		for i := 0; i < s.NumField(); i++ {
			if s.Field(i).IsNil() {
				t.Errorf("%s.%s is not bound", name, s.Type().Field(i).Name)
			}
		}
	}
}
