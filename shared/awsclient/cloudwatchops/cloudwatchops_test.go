package cloudwatchops

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// TestEveryOperationBound guards against an operation added to Ops but not
// bound in New (a nil func would panic at the first call).
func TestEveryOperationBound(t *testing.T) {
	s := reflect.ValueOf(New(cloudwatch.NewFromConfig(aws.Config{Region: "eu-west-1"}))).Elem()
	for i := 0; i < s.NumField(); i++ {
		if s.Field(i).IsNil() {
			t.Errorf("Ops.%s is not bound", s.Type().Field(i).Name)
		}
	}
}
