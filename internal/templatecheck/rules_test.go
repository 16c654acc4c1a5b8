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
