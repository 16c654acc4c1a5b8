package dynamodbops

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// TestEveryOperationBound guards against an operation added to a binding
// type but not bound by its constructor (a nil func would panic at the first
// call).
func TestEveryOperationBound(t *testing.T) {
	c := dynamodb.NewFromConfig(aws.Config{Region: "eu-west-1"})
	for name, v := range map[string]any{"ItemReadWriter": NewItemReadWriter(c), "Ops": New(c)} {
		checkBound(t, name, reflect.ValueOf(v).Elem())
	}
}

func checkBound(t *testing.T, name string, s reflect.Value) {
	t.Helper()
	for i := 0; i < s.NumField(); i++ {
		f := s.Field(i)
		if f.Kind() == reflect.Struct {
			checkBound(t, name+"."+s.Type().Field(i).Name, f)
			continue
		}
		if f.IsNil() {
			t.Errorf("%s.%s is not bound", name, s.Type().Field(i).Name)
		}
	}
}
