package sqsops

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestEveryOperationBound guards against an operation added to a binding but
// not bound by its constructor (a nil func would panic at the first call).
func TestEveryOperationBound(t *testing.T) {
	c := sqs.NewFromConfig(aws.Config{Region: "eu-west-1"})
	for name, b := range map[string]any{"Sender": NewSender(c), "AttributesGetter": NewAttributesGetter(c)} {
		t.Run(name, func(t *testing.T) {
			s := reflect.ValueOf(b).Elem()
			for i := 0; i < s.NumField(); i++ {
				if s.Field(i).IsNil() {
					t.Errorf("%s.%s is not bound", name, s.Type().Field(i).Name)
				}
			}
		})
	}
}
