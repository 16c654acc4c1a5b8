package templatecheck

import (
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

// arcTemplate is arc.yaml, the account's ARC cluster (templates[2]).
const arcTemplate = "../../arc.yaml"

// TestArcTemplateIsNotVacuous: arc.yaml has the pair's two routing controls
// and the safety rule the arc-safety-rule check holds them to.
func TestArcTemplateIsNotVacuous(t *testing.T) {
	tpl, err := template.Load(arcTemplate)
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]int{
		"AWS::Route53RecoveryControl::Cluster":        1,
		"AWS::Route53RecoveryControl::ControlPanel":   1,
		"AWS::Route53RecoveryControl::RoutingControl": 2,
		"AWS::Route53RecoveryControl::SafetyRule":     1,
	} {
		if n := len(tpl.IDs(typ)); n != want {
			t.Errorf("arc.yaml defines %d %s, want %d", n, typ, want)
		}
	}
	for _, out := range []string{"ClusterArn", "RoutingControlArnA", "RoutingControlArnB"} {
		if _, ok := tpl.Outputs[out]; !ok {
			t.Errorf("arc.yaml has no output %s", out)
		}
	}
	if fs := CheckArcSafetyRule(tpl); len(fs) != 0 {
		t.Errorf("arc.yaml: %v", fs)
	}
}

// TestArcSafetyRuleMutations breaks arc.yaml's safety rule in each way that
// would let both regions of the pair be turned Off, and asserts the
// arc-safety-rule check notices.
func TestArcSafetyRuleMutations(t *testing.T) {
	rule := func(tpl *template.Template) map[string]any {
		ids := tpl.IDs("AWS::Route53RecoveryControl::SafetyRule")
		if len(ids) == 0 {
			return nil
		}
		return tpl.Resource(ids[0]).Properties
	}
	cfg := func(tpl *template.Template) map[string]any {
		c, _ := rule(tpl)["RuleConfig"].(map[string]any)
		return c
	}
	mutations := []struct {
		name    string
		wantMsg string
		mutate  func(tpl *template.Template)
	}{
		{"no safety rule", "no assertion safety rule", func(tpl *template.Template) {
			tpl.Remove(tpl.IDs("AWS::Route53RecoveryControl::SafetyRule")[0])
		}},
		{"asserting one control only", "does not assert RoutingControlB", func(tpl *template.Template) {
			a := rule(tpl)["AssertionRule"].(map[string]any)
			a["AssertedControls"] = list(a["AssertedControls"])[:1]
		}},
		{"a gating rule instead", "not an assertion rule", func(tpl *template.Template) {
			p := rule(tpl)
			p["GatingRule"] = p["AssertionRule"]
			delete(p, "AssertionRule")
		}},
		{"threshold 0", "Threshold 0", func(tpl *template.Template) { cfg(tpl)["Threshold"] = 0 }},
		{"threshold 2", "Threshold 2", func(tpl *template.Template) { cfg(tpl)["Threshold"] = 2 }},
		{"type OR", "Type OR", func(tpl *template.Template) { cfg(tpl)["Type"] = "OR" }},
		{"inverted", "Inverted true", func(tpl *template.Template) { cfg(tpl)["Inverted"] = true }},
		{"a third routing control outside the rule", "does not assert RoutingControlC", func(tpl *template.Template) {
			b := *tpl.Resource("RoutingControlB")
			b.LogicalID = "RoutingControlC"
			tpl.Resources = append(tpl.Resources, &b)
		}},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tpl, err := template.Load(arcTemplate)
			if err != nil {
				t.Fatal(err)
			}
			if rule(tpl) == nil || tpl.Resource("RoutingControlB") == nil {
				t.Fatal("arc.yaml has no safety rule or no RoutingControlB to mutate")
			}
			m.mutate(tpl)
			for _, f := range Check(tpl) {
				if f.Check == "arc-safety-rule" && strings.Contains(f.Message, m.wantMsg) {
					return
				}
			}
			t.Errorf("breaking %q produced no arc-safety-rule finding containing %q; got %v", m.name, m.wantMsg, Check(tpl))
		})
	}
}
