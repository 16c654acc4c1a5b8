package cfn

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// noValue is what Ref AWS::NoValue evaluates to: the property is removed.
type noValueT struct{}

var noValue = noValueT{}

// evaluator evaluates intrinsic functions for one region.
type evaluator struct {
	// tpl is the template whose parameters, mappings and conditions this
	// evaluator sees (each file of a Definitions has its own).
	tpl     *template.Template
	region  string
	account string
	stack   string
	params  map[string]string
	conds   map[string]bool
	busy    map[string]bool
	// attr resolves Ref (attr == "") and Fn::GetAtt of a resource.
	attr func(logicalID, attr string) (any, error)
}

func (e *evaluator) pseudo(name string) (string, bool) {
	switch name {
	case "AWS::Region":
		return e.region, true
	case "AWS::AccountId":
		return e.account, true
	case "AWS::StackName":
		return e.stack, true
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/local", e.region, e.account, e.stack), true
	case "AWS::Partition":
		return "aws", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	}
	return "", false
}

// condition evaluates a named condition (memoized).
func (e *evaluator) condition(name string) (bool, error) {
	if v, ok := e.conds[name]; ok {
		return v, nil
	}
	c, ok := e.tpl.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	if e.busy["cond:"+name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	e.busy["cond:"+name] = true
	defer delete(e.busy, "cond:"+name)
	v, err := e.eval(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s: not a boolean: %v", name, v)
	}
	e.conds[name] = b
	return b, nil
}

// eval evaluates v, returning plain values; properties that evaluate to
// AWS::NoValue are dropped from maps and lists.
func (e *evaluator) eval(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return e.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			r, err := e.eval(val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, val := range x {
			r, err := e.eval(val)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (e *evaluator) evalString(v any) (string, error) {
	r, err := e.eval(v)
	if err != nil {
		return "", err
	}
	return template.ScalarString(r)
}

// args checks that fn's argument v is a list of n and evaluates its first
// strs elements to strings (the others are left to fn: Fn::If evaluates
// only the branch it takes).
func (e *evaluator) args(v any, fn string, n, strs int) ([]any, []string, error) {
	l, ok := v.([]any)
	if !ok || len(l) != n {
		return nil, nil, fmt.Errorf("%s: want a list of %d arguments", fn, n)
	}
	s := make([]string, strs)
	for i := range s {
		var err error
		if s[i], err = e.evalString(l[i]); err != nil {
			return nil, nil, err
		}
	}
	return l, s, nil
}

func (e *evaluator) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, err := e.evalString(arg)
		if err != nil {
			return nil, fmt.Errorf("intrinsic Ref: %w", err)
		}
		if name == "AWS::NoValue" {
			return noValue, nil
		}
		if name == "AWS::NotificationARNs" {
			return []any{}, nil
		}
		if p, ok := e.pseudo(name); ok {
			return p, nil
		}
		if p, ok := e.params[name]; ok {
			if t := e.tpl.Parameters[name].Type; strings.HasPrefix(t, "List<") || t == "CommaDelimitedList" {
				return splitList(p), nil
			}
			return p, nil
		}
		return e.attr(name, "")
	case "Condition":
		name, err := e.evalString(arg)
		if err != nil {
			return nil, err
		}
		return e.condition(name)
	case "Fn::GetAtt":
		_, s, err := e.args(arg, fn, 2, 2)
		if err != nil {
			return nil, err
		}
		return e.attr(s[0], s[1])
	case "Fn::Sub":
		return e.sub(arg)
	case "Fn::If":
		l, s, err := e.args(arg, fn, 3, 1)
		if err != nil {
			return nil, err
		}
		c, err := e.condition(s[0])
		if err != nil {
			return nil, err
		}
		if c {
			return e.eval(l[1])
		}
		return e.eval(l[2])
	case "Fn::Equals":
		_, s, err := e.args(arg, fn, 2, 2)
		if err != nil {
			return nil, err
		}
		return s[0] == s[1], nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		l, ok := arg.([]any)
		if !ok || len(l) == 0 || (fn == "Fn::Not" && len(l) != 1) {
			return nil, fmt.Errorf("%s: want a list of conditions", fn)
		}
		var bs []bool
		for _, c := range l {
			v, err := e.eval(c)
			if err != nil {
				return nil, err
			}
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: %v is not a boolean", fn, v)
			}
			bs = append(bs, b)
		}
		switch fn {
		case "Fn::Not":
			return !bs[0], nil
		case "Fn::And":
			for _, b := range bs {
				if !b {
					return false, nil
				}
			}
			return true, nil
		default:
			for _, b := range bs {
				if b {
					return true, nil
				}
			}
			return false, nil
		}
	case "Fn::Join":
		l, s, err := e.args(arg, fn, 2, 1)
		if err != nil {
			return nil, err
		}
		items, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		il, ok := items.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: second argument is not a list")
		}
		parts := make([]string, 0, len(il))
		for _, it := range il {
			s, err := template.ScalarString(it)
			if err != nil {
				return nil, fmt.Errorf("Fn::Join: %w", err)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, s[0]), nil
	case "Fn::Select":
		l, s, err := e.args(arg, fn, 2, 1)
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(s[0])
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: index %q: %w", s[0], err)
		}
		items, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		il, ok := items.([]any)
		if !ok || i < 0 || i >= len(il) {
			return nil, fmt.Errorf("Fn::Select: index %d out of range", i)
		}
		return il[i], nil
	case "Fn::Split":
		_, s, err := e.args(arg, fn, 2, 2)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s[1], s[0]) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::FindInMap":
		_, keys, err := e.args(arg, fn, 3, 3)
		if err != nil {
			return nil, err
		}
		m1, _ := e.tpl.Mappings[keys[0]].(map[string]any)
		m2, _ := m1[keys[1]].(map[string]any)
		v, ok := m2[keys[2]]
		if !ok {
			return nil, fmt.Errorf("Fn::FindInMap: %s/%s/%s not found", keys[0], keys[1], keys[2])
		}
		return e.eval(v)
	case "Fn::GetAZs":
		return []any{e.region + "a", e.region + "b", e.region + "c"}, nil
	case "Fn::Base64":
		s, err := e.evalString(arg)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::ToJsonString":
		v, err := e.eval(arg)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("Fn::ToJsonString: %w", err)
		}
		return string(b), nil
	case "Fn::Length":
		v, err := e.eval(arg)
		if err != nil {
			return nil, err
		}
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Length: not a list")
		}
		return len(l), nil
	}
	return nil, fmt.Errorf("%s is not supported locally", fn)
}

// sub evaluates Fn::Sub in its string and [string, {vars}] forms.
func (e *evaluator) sub(arg any) (any, error) {
	var tmpl string
	vars := map[string]string{}
	switch x := arg.(type) {
	case string:
		tmpl = x
	case []any:
		if len(x) != 2 {
			return nil, fmt.Errorf("Fn::Sub: want [template, variables]")
		}
		t, ok := x[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub: template is not a string")
		}
		tmpl = t
		vm, ok := x[1].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub: variables are not a mapping")
		}
		for k, v := range vm {
			s, err := e.evalString(v)
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub variable %s: %w", k, err)
			}
			vars[k] = s
		}
	default:
		return nil, fmt.Errorf("Fn::Sub: want a string or a list")
	}
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		b.WriteString(tmpl[:i])
		j := strings.Index(tmpl[i:], "}")
		if j < 0 {
			return nil, fmt.Errorf("Fn::Sub: unterminated ${ in %q", tmpl)
		}
		name := tmpl[i+2 : i+j]
		tmpl = tmpl[i+j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		if v, ok := vars[name]; ok {
			b.WriteString(v)
			continue
		}
		var r any
		var err error
		if id, at, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			r, err = e.attr(id, at)
		} else {
			r, err = e.intrinsic("Ref", name)
		}
		if err != nil {
			return nil, fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		s, err := template.ScalarString(r)
		if err != nil {
			return nil, fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		b.WriteString(s)
	}
}

func splitList(s string) []any {
	var out []any
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}
