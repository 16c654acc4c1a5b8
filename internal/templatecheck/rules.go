package templatecheck

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// errUnknown is wrapped by every error of the rule evaluator.
var errUnknown = errors.New("cannot evaluate")

// CheckRules requires the template's Rules to be ones CloudFormation can
// evaluate on the template's parameters and to accept the parameters'
// defaults: a rule that refers to a parameter the template lacks would
// fail every deployment, and cfn-lint checks neither.
func CheckRules(t *template.Template) []Finding {
	failed, err := RuleFailures(t, nil)
	if err != nil {
		return []Finding{{"rules", "Rules", err.Error()}}
	}
	var fs []Finding
	for _, d := range failed {
		fs = append(fs, Finding{"rules", "Rules", "the parameters' defaults are refused: " + d})
	}
	return fs
}

// RuleFailures evaluates t's Rules the way CloudFormation does before it
// creates or updates a stack: params set parameter values, every other
// parameter takes its Default ("" without one). It returns the
// AssertDescription of each failed assertion, sorted, and an error when a
// rule refers to a parameter the template does not declare or uses a
// function the evaluator does not know (cfn-lint checks neither).
func RuleFailures(t *template.Template, params map[string]string) ([]string, error) {
	e := newRuleEval(t, params)
	var failed []string
	names := sortedKeys(t.Rules)
	for _, name := range names {
		r, _ := t.Rules[name].(map[string]any)
		if r == nil {
			return nil, fmt.Errorf("rule %s is not a mapping: %w", name, errUnknown)
		}
		if c, ok := r["RuleCondition"]; ok {
			applies, err := e.boolean(c)
			if err != nil {
				return nil, fmt.Errorf("rule %s: RuleCondition: %w", name, err)
			}
			if !applies {
				continue
			}
		}
		for i, a := range list(r["Assertions"]) {
			am, _ := a.(map[string]any)
			ok, err := e.boolean(am["Assert"])
			if err != nil {
				return nil, fmt.Errorf("rule %s: assertion %d: %w", name, i, err)
			}
			if !ok {
				d, _ := am["AssertDescription"].(string)
				if d == "" {
					d = fmt.Sprintf("rule %s: assertion %d", name, i)
				}
				failed = append(failed, d)
			}
		}
	}
	sort.Strings(failed)
	return failed, nil
}

// ruleEval evaluates the rule-specific and condition functions over
// parameter values; it also evaluates a template's Conditions (Condition).
type ruleEval struct {
	t      *template.Template
	params map[string]string
	// busy holds the conditions being evaluated (a cycle is an error).
	busy map[string]bool
}

func newRuleEval(t *template.Template, params map[string]string) ruleEval {
	return ruleEval{t: t, params: params, busy: map[string]bool{}}
}

func (e ruleEval) param(name string) ([]string, error) {
	if strings.HasPrefix(name, "AWS::") {
		// A pseudo parameter (AWS::Region ...): known only when given.
		if v, ok := e.params[name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("pseudo parameter %s has no value here: %w", name, errUnknown)
	}
	p, ok := e.t.Parameters[name]
	if !ok {
		return nil, fmt.Errorf("a Ref to %s, which is not a parameter of the template: %w", name, errUnknown)
	}
	v, set := e.params[name]
	if !set && p.Default != nil {
		v = *p.Default
	}
	if p.Type == "CommaDelimitedList" || strings.HasPrefix(p.Type, "List<") {
		return splitList(v), nil
	}
	return []string{v}, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// value evaluates v to a list of strings (a scalar is a list of one).
func (e ruleEval) value(v any) ([]string, error) {
	switch x := v.(type) {
	case []any:
		var out []string
		for _, el := range x {
			s, err := e.scalar(el)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			if name, ok := x["Ref"].(string); ok {
				return e.param(name)
			}
		}
		return nil, fmt.Errorf("%v: %w", x, errUnknown)
	}
	s, err := template.ScalarString(v)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", v, errUnknown)
	}
	return []string{s}, nil
}

func (e ruleEval) scalar(v any) (string, error) {
	l, err := e.value(v)
	if err != nil {
		return "", err
	}
	if len(l) != 1 {
		return "", fmt.Errorf("%v is a list, not one value: %w", v, errUnknown)
	}
	return l[0], nil
}

func (e ruleEval) boolean(v any) (bool, error) {
	m, _ := v.(map[string]any)
	if len(m) != 1 {
		if b, ok := template.Bool(v); ok {
			return b, nil
		}
		return false, fmt.Errorf("%v is not a condition: %w", v, errUnknown)
	}
	for fn, arg := range m {
		args := list(arg)
		switch fn {
		case "Condition":
			name, _ := arg.(string)
			c, ok := e.t.Conditions[name]
			if !ok {
				return false, fmt.Errorf("condition %s: not in the template: %w", name, errUnknown)
			}
			if e.busy[name] {
				return false, fmt.Errorf("condition %s refers to itself: %w", name, errUnknown)
			}
			e.busy[name] = true
			defer delete(e.busy, name)
			return e.boolean(c)
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes two values: %w", errUnknown)
			}
			a, err := e.scalar(args[0])
			if err != nil {
				return false, err
			}
			b, err := e.scalar(args[1])
			return a == b, err
		case "Fn::Not", "Fn::And", "Fn::Or":
			if len(args) == 0 || fn == "Fn::Not" && len(args) != 1 {
				return false, fmt.Errorf("%s: wrong number of conditions: %w", fn, errUnknown)
			}
			all, anyTrue := true, false
			for _, a := range args {
				b, err := e.boolean(a)
				if err != nil {
					return false, err
				}
				all, anyTrue = all && b, anyTrue || b
			}
			switch fn {
			case "Fn::Not":
				return !all, nil
			case "Fn::And":
				return all, nil
			}
			return anyTrue, nil
		case "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn":
			if len(args) != 2 {
				return false, fmt.Errorf("%s takes two values: %w", fn, errUnknown)
			}
			a, err := e.value(args[0])
			if err != nil {
				return false, err
			}
			b, err := e.value(args[1])
			if err != nil {
				return false, err
			}
			switch fn {
			case "Fn::Contains": // [list, value]: value is in list
				return len(b) == 1 && slices.Contains(a, b[0]), nil
			case "Fn::EachMemberEquals": // [list, value]: every member equals value
				for _, s := range a {
					if len(b) != 1 || s != b[0] {
						return false, nil
					}
				}
				return true, nil
			}
			for _, s := range a { // Fn::EachMemberIn [list, allowed]
				if !slices.Contains(b, s) {
					return false, nil
				}
			}
			return true, nil
		}
		return false, fmt.Errorf("function %s: %w", fn, errUnknown)
	}
	return false, nil // unreachable: m has one key
}

// resolve returns v with every Fn::If replaced by the branch its condition
// selects under e's parameters.
func (e ruleEval) resolve(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			r, err := e.resolve(el)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case map[string]any:
		if f, ok := x["Fn::If"].([]any); ok && len(x) == 1 {
			if len(f) != 3 {
				return nil, fmt.Errorf("Fn::If takes a condition and two values: %w", errUnknown)
			}
			b, err := e.boolean(map[string]any{"Condition": f[0]})
			if err != nil {
				return nil, err
			}
			if b {
				return e.resolve(f[1])
			}
			return e.resolve(f[2])
		}
		out := make(map[string]any, len(x))
		for k, el := range x {
			r, err := e.resolve(el)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}
