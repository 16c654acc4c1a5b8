package templatecheck

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/homeregion/homeregion/internal/template"
)

// CheckArcSafetyRule holds a template's ARC routing controls (arc.yaml) to
// the zone pair's "both Off" protection: some assertion safety rule of
// the same template asserts every one of its routing controls, with Type
// ATLEAST, Threshold 1 and Inverted false, so ARC refuses the update that
// would turn the last region of the pair Off. A template without routing
// controls has nothing to check.
func CheckArcSafetyRule(t *template.Template) []Finding {
	controls := t.IDs("AWS::Route53RecoveryControl::RoutingControl")
	if len(controls) == 0 {
		return nil
	}
	var why []string
	for _, id := range t.IDs("AWS::Route53RecoveryControl::SafetyRule") {
		p := t.Resource(id).Properties
		if msg := atLeastOneOn(p, controls); msg != "" {
			why = append(why, id+": "+msg)
			continue
		}
		return nil
	}
	msg := fmt.Sprintf("no assertion safety rule keeps at least 1 of the routing controls %v On", controls)
	if len(why) > 0 {
		msg += fmt.Sprintf(" (%v)", why)
	}
	return []Finding{{Check: "arc-safety-rule", Resource: controls[0], Message: msg}}
}

// atLeastOneOn returns "" when the safety rule's properties p assert every
// routing control in controls with ATLEAST 1, not inverted, else why not.
func atLeastOneOn(p map[string]any, controls []string) string {
	rule, ok := p["AssertionRule"].(map[string]any)
	if !ok {
		return "not an assertion rule"
	}
	asserted := list(rule["AssertedControls"])
	for _, id := range controls {
		if !slices.ContainsFunc(asserted, func(v any) bool { return refersTo(v, id) }) {
			return "does not assert " + id
		}
	}
	cfg, _ := p["RuleConfig"].(map[string]any)
	if cfg["Type"] != "ATLEAST" {
		return fmt.Sprintf("Type %v, want ATLEAST", cfg["Type"])
	}
	if n, err := strconv.Atoi(fmt.Sprint(cfg["Threshold"])); err != nil || n != 1 {
		return fmt.Sprintf("Threshold %v, want 1", cfg["Threshold"])
	}
	if !isFalse(cfg["Inverted"]) {
		return fmt.Sprintf("Inverted %v, want false", cfg["Inverted"])
	}
	return ""
}
