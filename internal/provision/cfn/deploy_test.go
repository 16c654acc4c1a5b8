package cfn

import (
	"reflect"
	"slices"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

const outputsTemplate = `
Parameters:
  Primary: {Type: String, Default: eu-west-1}
Conditions:
  IsPrimary: !Equals [!Ref Primary, !Ref "AWS::Region"]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "${AWS::StackName}-q"}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: fn}
  Check:
    Type: AWS::Route53::HealthCheck
    Condition: IsPrimary
Outputs:
  QueueRef: {Value: !Ref Queue}
  FnArn: {Value: !GetAtt Fn.Arn}
  CheckId: {Condition: IsPrimary, Value: !Ref Check}
`

// Evaluate gives every existing resource a placeholder and evaluates the
// outputs, leaving out those whose condition is false.
func TestEvaluateOutputs(t *testing.T) {
	tpl, err := template.Parse("t.yaml", []byte(outputsTemplate))
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(&Definitions{Templates: []*template.Template{tpl}}, Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		region    string
		resources []string
		outputs   map[string]string
	}{
		{"eu-west-1", []string{"Check", "Fn", "Queue"}, map[string]string{"QueueRef": "s-Queue", "FnArn": "arn:aws:lambda:eu-west-1:123456789012:function:fn", "CheckId": "s-Check"}},
		{"us-east-1", []string{"Fn", "Queue"}, map[string]string{"QueueRef": "s-Queue", "FnArn": "arn:aws:lambda:us-east-1:123456789012:function:fn"}},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			dep, err := d.Evaluate(tt.region)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for id, c := range dep.Resources {
				ids = append(ids, id)
				if !c.Placeholder {
					t.Errorf("%s is not a placeholder in an evaluation", id)
				}
			}
			if !reflect.DeepEqual(slices.Sorted(slices.Values(ids)), tt.resources) {
				t.Errorf("resources %v, want %v", slices.Sorted(slices.Values(ids)), tt.resources)
			}
			outs, err := dep.Outputs(tpl)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(outs, tt.outputs) {
				t.Errorf("outputs %v, want %v", outs, tt.outputs)
			}
		})
	}
}

// Every type moto hosts is created by exactly one creator; nothing else is.
func TestCreatorsAreTheSupportedTypes(t *testing.T) {
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::IAM::Role", "AWS::Lambda::Permission", "AWS::SNS::Topic"} {
		if creators[typ] != nil {
			t.Errorf("%s has a creator: it is a placeholder type", typ)
		}
	}
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::KMS::Key", "AWS::Cognito::UserPool", "AWS::CloudWatch::Alarm", "AWS::ECS::Service"} {
		if creators[typ] == nil {
			t.Errorf("%s has no creator", typ)
		}
	}
}
