// Package templatecheck checks the project's CloudFormation/SAM templates
// (template.yaml, onprem.yaml) for the security properties the project
// claims: least-privilege IAM (no "*" action or resource outside a reviewed
// allow-list of actions that have no resource-level permissions), encryption
// at rest on every table and queue, immutable residency attributes that the
// app client cannot write after sign-up, and a dead-letter queue or failure
// destination on every asynchronously invoked function, parameterised log
// retention, explicit deletion policies on stateful resources, KMS grants
// limited to AWS services, and hardened ECS containers.
//
// Its test runs the checks on the real templates and on broken variants that
// each check must catch.
package templatecheck

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template: short-form intrinsic functions (!Ref,
// !GetAtt, !Sub ...) are expanded to their long form ({"Ref": x},
// {"Fn::GetAtt": [r, a]} ...), so a value is a map[string]any, []any, string,
// bool, int, float64 or nil.
type Template struct {
	Path      string
	Resources map[string]Resource
	// Parameters is the template's Parameters section: name -> properties
	// (Type, Default, AllowedValues, AllowedPattern ...).
	Parameters map[string]map[string]any
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	Type       string
	Properties map[string]any
	Condition  string
	// DeletionPolicy and UpdateReplacePolicy are the resource attributes
	// ("" when absent).
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("templatecheck: %s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// Parse parses template text.
func Parse(b []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("parse: empty document")
	}
	doc, ok := convert(root.Content[0]).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse: top level is not a mapping")
	}
	t := &Template{Resources: map[string]Resource{}, Parameters: map[string]map[string]any{}}
	params, _ := doc["Parameters"].(map[string]any)
	for name, v := range params {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse: parameter %s is not a mapping", name)
		}
		t.Parameters[name] = m
	}
	res, _ := doc["Resources"].(map[string]any)
	for id, v := range res {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse: resource %s is not a mapping", id)
		}
		r := Resource{}
		r.Type, _ = m["Type"].(string)
		r.Properties, _ = m["Properties"].(map[string]any)
		r.Condition, _ = m["Condition"].(string)
		r.DeletionPolicy, _ = m["DeletionPolicy"].(string)
		r.UpdateReplacePolicy, _ = m["UpdateReplacePolicy"].(string)
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		t.Resources[id] = r
	}
	return t, nil
}

// IDs returns the logical ids of the resources of type typ, sorted.
func (t *Template) IDs(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func convert(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return convert(n.Content[0])
		}
		return nil
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = convert(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			s = append(s, convert(c))
		}
		v = s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			var b bool
			_ = n.Decode(&b)
			v = b
		case "!!int":
			var i int
			_ = n.Decode(&i)
			v = i
		case "!!float":
			var f float64
			_ = n.Decode(&f)
			v = f
		case "!!null":
			v = nil
		default:
			v = n.Value
		}
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := strings.TrimPrefix(n.Tag, "!")
		switch name {
		case "Ref", "Condition":
			return map[string]any{name: v}
		case "GetAtt":
			if s, ok := v.(string); ok {
				parts := strings.SplitN(s, ".", 2)
				list := make([]any, len(parts))
				for i, p := range parts {
					list[i] = p
				}
				v = list
			}
		}
		return map[string]any{"Fn::" + name: v}
	}
	return v
}

// refersTo reports whether v is a Ref to id or a GetAtt on id.
func refersTo(v any, id string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if r, ok := m["Ref"].(string); ok {
		return r == id
	}
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) > 0 {
		return g[0] == id
	}
	return false
}

// mentions reports whether id is referenced anywhere inside v (Ref, GetAtt,
// or a ${id} / ${id.Attr} in a Sub).
func mentions(v any, id string) bool {
	switch x := v.(type) {
	case map[string]any:
		if refersTo(x, id) {
			return true
		}
		if s, ok := x["Fn::Sub"]; ok {
			var str string
			switch y := s.(type) {
			case string:
				str = y
			case []any:
				if len(y) > 0 {
					str, _ = y[0].(string)
				}
			}
			if strings.Contains(str, "${"+id+"}") || strings.Contains(str, "${"+id+".") {
				return true
			}
		}
		for _, c := range x {
			if mentions(c, id) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if mentions(c, id) {
				return true
			}
		}
	}
	return false
}

// list returns v as a list: a single value becomes a one-element list.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// isTrue reports whether v is true or the string "true".
func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// isFalse reports whether v is false or the string "false".
func isFalse(v any) bool {
	switch x := v.(type) {
	case bool:
		return !x
	case string:
		return strings.EqualFold(x, "false")
	}
	return false
}
