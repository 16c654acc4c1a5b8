package template

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ScalarString renders a scalar the way CloudFormation passes it to a
// service: numbers and booleans as their text, nil as "".
func ScalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("%v is not a scalar", v)
}

// Refs returns the names v refers to, sorted: the targets of Ref, the
// resources of Fn::GetAtt and the ${Name} / ${Resource.Attribute} variables
// of Fn::Sub (pseudo parameters such as AWS::Region included).
func Refs(v any) []string {
	set := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, a := range x {
				switch k {
				case "Ref":
					if s, ok := a.(string); ok {
						set[s] = true
					}
				case "Fn::GetAtt":
					if l, ok := a.([]any); ok && len(l) > 0 {
						if s, ok := l[0].(string); ok {
							set[s] = true
						}
					}
				case "Fn::Sub":
					t := a
					if l, ok := a.([]any); ok && len(l) > 0 {
						t = l[0]
						walk(l[1:])
					}
					if s, ok := t.(string); ok {
						for _, name := range SubVariables(s) {
							id, _, _ := strings.Cut(name, ".")
							set[id] = true
						}
					}
					continue
				}
				walk(a)
			}
		case []any:
			for _, a := range x {
				walk(a)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SubVariables returns the ${...} variables of an Fn::Sub template string in
// order, without the escaped ${!Literal} ones.
func SubVariables(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return out
		}
		name := s[i+2 : i+j]
		s = s[i+j+1:]
		if !strings.HasPrefix(name, "!") {
			out = append(out, name)
		}
	}
}

// The helpers below read plain values (a template's literals or evaluated
// properties) the way CloudFormation passes them to a service: a number or
// boolean may be written as text.

// Int returns v as an int ("3", 3, 3.0); ok is false when v is not a number.
func Int(v any) (n int, ok bool) {
	s, err := ScalarString(v)
	if err != nil || s == "" {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, false
		}
		return int(f), true
	}
	return i, true
}

// Float returns v as a float64; ok is false when v is not a number.
func Float(v any) (f float64, ok bool) {
	s, err := ScalarString(v)
	if err != nil || s == "" {
		return 0, false
	}
	f, err = strconv.ParseFloat(s, 64)
	return f, err == nil
}

// Bool returns v as a bool (true, "true"); ok is false when v is not one.
func Bool(v any) (b bool, ok bool) {
	s, err := ScalarString(v)
	if err != nil || s == "" {
		return false, false
	}
	b, err = strconv.ParseBool(s)
	return b, err == nil
}

// Strings returns a list's scalars as text; a single scalar is a list of one.
func Strings(v any) []string {
	l, ok := v.([]any)
	if !ok {
		if s, err := ScalarString(v); err == nil && s != "" {
			return []string{s}
		}
		return nil
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, err := ScalarString(x); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// Maps returns the mappings of a list (e.g. a table's AttributeDefinitions).
func Maps(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// Field returns m[key] as text ("" when absent or not a scalar).
func Field(m map[string]any, key string) string {
	s, _ := ScalarString(m[key])
	return s
}
