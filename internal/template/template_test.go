package template

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const sample = `
Parameters:
  StandbyTasks: {Type: Number, Default: 2, MinValue: 0}
Rules:
  OneTask:
    Assertions:
      - Assert: !Equals [!Ref StandbyTasks, "1"]
Resources:
  OrdersDeadLetterQueue:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
  OrdersQueue:
    Type: AWS::SQS::Queue
    DependsOn: OrdersDeadLetterQueue
    Metadata: {BuildMethod: makefile}
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt OrdersDeadLetterQueue.Arn
      Name: !Sub "${AWS::StackName}-${!Literal}"
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Condition: IsPrimary
    Properties:
      EvaluationPeriods: !Ref StandbyTasks
      Enabled: true
Outputs:
  QueueUrl:
    Condition: IsPrimary
    Value: !Ref OrdersQueue
`

func TestParse(t *testing.T) {
	tpl, err := Parse("t.yaml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range tpl.Resources {
		ids = append(ids, r.LogicalID)
	}
	if want := []string{"OrdersDeadLetterQueue", "OrdersQueue", "Alarm"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("resources %v, want file order %v", ids, want)
	}
	q := tpl.Resource("OrdersQueue")
	rp := q.Properties["RedrivePolicy"].(map[string]any)
	if got, want := rp["deadLetterTargetArn"], map[string]any{"Fn::GetAtt": []any{"OrdersDeadLetterQueue", "Arn"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("!GetAtt = %#v, want %#v", got, want)
	}
	if !reflect.DeepEqual(q.DependsOn, []string{"OrdersDeadLetterQueue"}) || q.Metadata["BuildMethod"] != "makefile" {
		t.Errorf("DependsOn %v, Metadata %v", q.DependsOn, q.Metadata)
	}
	a := tpl.Resource("Alarm")
	if got, want := a.Properties["EvaluationPeriods"], map[string]any{"Ref": "StandbyTasks"}; !reflect.DeepEqual(got, want) {
		t.Errorf("!Ref = %#v, want %#v", got, want)
	}
	if a.Condition != "IsPrimary" || a.Properties["Enabled"] != true {
		t.Errorf("alarm = %+v", a)
	}
	if tpl.Resource("OrdersDeadLetterQueue").DeletionPolicy != "Retain" {
		t.Error("DeletionPolicy lost")
	}
	if p := tpl.Parameters["StandbyTasks"]; p.Default == nil || *p.Default != "2" || p.Type != "Number" || p.Properties["MinValue"] != 0 {
		t.Errorf("StandbyTasks = %+v", p)
	}
	r, _ := tpl.Rules["OneTask"].(map[string]any)
	if got, want := r["Assertions"], []any{map[string]any{"Assert": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "StandbyTasks"}, "1"}}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rule OneTask = %#v, want %#v", got, want)
	}
	if o := tpl.Outputs["QueueUrl"]; o.Condition != "IsPrimary" || !reflect.DeepEqual(o.Value, map[string]any{"Ref": "OrdersQueue"}) {
		t.Errorf("output = %+v", o)
	}
	if got := tpl.IDs("AWS::SQS::Queue"); !reflect.DeepEqual(got, []string{"OrdersDeadLetterQueue", "OrdersQueue"}) {
		t.Errorf("IDs = %v", got)
	}
	tpl.Remove("OrdersQueue")
	if tpl.Resource("OrdersQueue") != nil || len(tpl.Resources) != 2 {
		t.Error("Remove kept the resource")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"not yaml", "a: [", "parse yaml"},
		{"not a mapping", "- a", "top level is not a mapping"},
		{"unknown tag", "Resources:\n  A:\n    Type: X\n    Properties:\n      B: !Nope x\n", "unknown tag !Nope"},
		{"bad getatt", "Resources:\n  A:\n    Type: X\n    Properties:\n      B: !GetAtt nodot\n", "want Resource.Attribute"},
		{"no type", "Resources:\n  A:\n    Properties: {}\n", "has no Type"},
		{"twice", "Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n", "defined twice"},
		{"parameter", "Parameters:\n  P: x\n", "parameter P is not a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	v := map[string]any{
		"a": map[string]any{"Ref": "X"},
		"b": []any{map[string]any{"Fn::GetAtt": []any{"Y", "Arn"}}},
		"c": map[string]any{"Fn::Sub": []any{"${Z.Name}-${AWS::Region}-${!Lit}", map[string]any{"v": map[string]any{"Ref": "W"}}}},
	}
	if got, want := Refs(v), []string{"AWS::Region", "W", "X", "Y", "Z"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Refs = %v, want %v", got, want)
	}
}

func TestScalarString(t *testing.T) {
	tests := []struct {
		in   any
		want string
		err  bool
	}{
		{"x", "x", false}, {true, "true", false}, {3, "3", false}, {2.0, "2", false}, {0.5, "0.5", false}, {nil, "", false},
		{[]any{"a"}, "", true},
	}
	for _, tt := range tests {
		got, err := ScalarString(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ScalarString(%v) = %q, %v", tt.in, got, err)
		}
	}
}

// BenchmarkParseRealTemplate parses template.yaml (yaml.v3 nodes, short-form
// tags rewritten) - the cost reading it adds to make run's start-up.
func BenchmarkParseRealTemplate(b *testing.B) {
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		b.Skip("no template.yaml")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("template.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}

func TestValueReaders(t *testing.T) {
	m := map[string]any{"N": 5}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"Int text", pair(Int("3")), pair(3, true)},
		{"Int float", pair(Int(2.0)), pair(2, true)},
		{"Int not a number", pair(Int("x")), pair(0, false)},
		{"Float", pair(Float("0.5")), pair(0.5, true)},
		{"Bool text", pair(Bool("true")), pair(true, true)},
		{"Bool nil", pair(Bool(nil)), pair(false, false)},
		{"Strings list", Strings([]any{"a", 1, true}), []string{"a", "1", "true"}},
		{"Strings scalar", Strings("one"), []string{"one"}},
		{"Maps", Maps([]any{m, "x"}), []map[string]any{m}},
		{"Field", Field(m, "N"), "5"},
		{"Field absent", Field(m, "absent"), ""},
		{"SubVariables", SubVariables("${A}-${!B}-${C.D}"), []string{"A", "C.D"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func pair[V any](v V, ok bool) [2]any { return [2]any{v, ok} }
