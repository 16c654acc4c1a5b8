package cfn

import (
	"reflect"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

func newTestEvaluator(t *testing.T, region string) *evaluator {
	t.Helper()
	d, err := LoadFiles("../testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &evaluator{
		tpl: d.main(), region: region, account: DefaultAccountID, stack: DefaultStackName,
		params: map[string]string{"RegistryRegion": "eu-west-1", "StandbyTasks": "2", "List": "a, b"},
		conds:  map[string]bool{}, busy: map[string]bool{},
		attr: func(id, at string) (any, error) {
			if id == "Missing" {
				return nil, errString("unknown resource Missing")
			}
			if at == "" {
				return "ref-" + id, nil
			}
			return id + "." + at, nil
		},
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestEval(t *testing.T) {
	tests := []struct {
		name   string
		region string
		in     any
		want   any
		err    string
	}{
		{"ref param", "eu-west-1", map[string]any{"Ref": "StandbyTasks"}, "2", ""},
		{"ref pseudo", "us-east-1", map[string]any{"Ref": "AWS::Region"}, "us-east-1", ""},
		{"ref resource", "eu-west-1", map[string]any{"Ref": "OrdersQueue"}, "ref-OrdersQueue", ""},
		{"getatt", "eu-west-1", map[string]any{"Fn::GetAtt": []any{"OrdersQueue", "Arn"}}, "OrdersQueue.Arn", ""},
		{"sub", "eu-west-1", map[string]any{"Fn::Sub": "${AWS::StackName}-${AWS::Region}-${OrdersQueue.QueueName}-${!Literal}"},
			"homeregion-eu-west-1-OrdersQueue.QueueName-${Literal}", ""},
		{"sub with vars", "eu-west-1", map[string]any{"Fn::Sub": []any{"${A}/${RegistryRegion}", map[string]any{"A": map[string]any{"Ref": "AWS::AccountId"}}}},
			"123456789012/eu-west-1", ""},
		{"if in registry region", "eu-west-1", map[string]any{"Fn::If": []any{"IsRegistryRegion", "yes", "no"}}, "yes", ""},
		{"if elsewhere", "us-east-1", map[string]any{"Fn::If": []any{"IsRegistryRegion", "yes", "no"}}, "no", ""},
		{"not condition", "us-east-1", map[string]any{"Condition": "IsNotRegistryRegion"}, true, ""},
		{"join", "eu-west-1", map[string]any{"Fn::Join": []any{"-", []any{"a", 1, true}}}, "a-1-true", ""},
		{"select split", "eu-west-1", map[string]any{"Fn::Select": []any{"1", map[string]any{"Fn::Split": []any{",", "x,y,z"}}}}, "y", ""},
		{"find in map", "eu-west-1", map[string]any{"Fn::FindInMap": []any{"Tiers", "Backlog", "PerTask"}}, 10, ""},
		{"list parameter", "eu-west-1", map[string]any{"Ref": "List"}, "a, b", ""},
		{"novalue dropped", "eu-west-1", map[string]any{"A": map[string]any{"Ref": "AWS::NoValue"}, "B": []any{"x", map[string]any{"Ref": "AWS::NoValue"}}},
			map[string]any{"B": []any{"x"}}, ""},
		{"if novalue", "us-east-1", map[string]any{"K": map[string]any{"Fn::If": []any{"IsRegistryRegion", "v", map[string]any{"Ref": "AWS::NoValue"}}}},
			map[string]any{}, ""},
		{"unknown ref", "eu-west-1", map[string]any{"Ref": "Missing"}, nil, "unknown resource Missing"},
		{"unknown condition", "eu-west-1", map[string]any{"Fn::If": []any{"Nope", 1, 2}}, nil, "unknown condition Nope"},
		{"unsupported fn", "eu-west-1", map[string]any{"Fn::ImportValue": "x"}, nil, "not supported locally"},
		{"bad select", "eu-west-1", map[string]any{"Fn::Select": []any{"5", []any{"a"}}}, nil, "out of range"},
		{"unterminated sub", "eu-west-1", map[string]any{"Fn::Sub": "${AWS::Region"}, nil, "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEvaluator(t, tt.region)
			got, err := e.eval(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestOrderPutsDependenciesFirst(t *testing.T) {
	d, err := LoadFiles("../testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := &Deployer{defs: d}
	rs := a.order()
	pos := map[string]int{}
	for i, r := range rs {
		pos[r.LogicalID] = i
	}
	if len(rs) != len(d.resources()) {
		t.Fatalf("ordered %d of %d resources", len(rs), len(d.resources()))
	}
	for _, pair := range [][2]string{{"OrdersDeadLetterQueue", "OrdersQueue"}, {"UserPool", "UserPoolClient"},
		{"OrdersQueue", "QueueDepthAlarm"}, {"ScaleFunction", "QueueDepthAlarm"}, {"PrimaryHealthCheck", "FailoverFunction"}} {
		if pos[pair[0]] > pos[pair[1]] {
			t.Errorf("%s comes after %s", pair[0], pair[1])
		}
	}
}

func TestParamsMissing(t *testing.T) {
	tpl, err := template.Parse("t.yaml", []byte("Parameters:\n  Need: {Type: String}\n  Has: {Type: String, Default: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Deployer{defs: &Definitions{Templates: []*template.Template{tpl}}}
	if _, err := a.params("eu-west-1", nil); err == nil || !strings.Contains(err.Error(), "Need") {
		t.Fatalf("err = %v, want it to name Need", err)
	}
	a.opts.RegionParameters = map[string]map[string]string{"eu-west-1": {"Need": "v"}}
	p, err := a.params("eu-west-1", nil)
	if err != nil || p["Need"] != "v" || p["Has"] != "x" {
		t.Fatalf("params = %v, %v", p, err)
	}
	// DeployWith's values win over Options'.
	p, err = a.params("eu-west-1", map[string]string{"Need": "w", "Has": "y"})
	if err != nil || p["Need"] != "w" || p["Has"] != "y" {
		t.Fatalf("params with overrides = %v, %v", p, err)
	}
}
