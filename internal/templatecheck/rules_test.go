package templatecheck

import (
	"errors"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

func TestRuleFailuresCannotEvaluate(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"unknown parameter", `
Parameters:
  PrimaryTasks: {Type: Number, Default: 1}
Rules:
  R:
    Assertions:
      - Assert:
          Fn::Contains: [["0", "1"], !Ref PrimaryTaskz]
`},
		{"unknown function", `
Rules:
  R:
    Assertions:
      - Assert:
          Fn::ValueOf: [Subnet, VpcId]
`},
		{"a condition that refers to itself", `
Conditions:
  Loop: !Not [!Condition Loop]
Rules:
  R:
    RuleCondition: !Condition Loop
    Assertions:
      - Assert: !Equals [a, a]
`},
		{"unknown condition in a RuleCondition", `
Rules:
  R:
    RuleCondition: !Condition Nope
    Assertions:
      - Assert: !Equals [a, a]
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := template.Parse(tc.name, []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := RuleFailures(tpl, nil); !errors.Is(err, errUnknown) {
				t.Errorf("err = %v, want one that says it cannot evaluate", err)
			}
			if fs := CheckRules(tpl); len(fs) != 1 || fs[0].Check != "rules" {
				t.Errorf("CheckRules = %v, want one rules finding", fs)
			}
		})
	}
}

// TestRulesMutations breaks the real templates' Rules and asserts the rules
// check notices what cfn-lint does not.
func TestRulesMutations(t *testing.T) {
	mutations := []struct {
		name, path string
		mutate     func(tpl *template.Template) bool
	}{
		{"regional: MaxTasks default back to 4", templates[0], func(tpl *template.Template) bool {
			p, ok := tpl.Parameters["MaxTasks"]
			four := "4"
			p.Default = &four
			tpl.Parameters["MaxTasks"] = p
			return ok
		}},
		{"on-prem: a rule on a parameter that does not exist", templates[1], func(tpl *template.Template) bool {
			p, ok := tpl.Parameters["PrimaryTasks"]
			delete(tpl.Parameters, "PrimaryTasks")
			tpl.Parameters["PrimaryTaskz"] = p
			return ok
		}},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tpl, err := template.Load(m.path)
			if err != nil {
				t.Fatal(err)
			}
			if !m.mutate(tpl) {
				t.Fatalf("%s has nothing to mutate", m.path)
			}
			for _, f := range Check(tpl) {
				if f.Check == "rules" {
					return
				}
			}
			t.Errorf("breaking %q produced no rules finding", m.name)
		})
	}
}
