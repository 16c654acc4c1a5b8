// Package template reads CloudFormation and SAM templates (template.yaml,
// onprem.yaml) into one model that every tool of the repository shares: the
// local provisioner, the template policy checks and the tests that hold the
// code to the template.
//
// The YAML is read with the yaml.v3 Node API so CloudFormation's short-form
// intrinsic tags (!Ref, !Sub, !GetAtt, !If, ...) are kept: they are rewritten
// to their long form ({"Ref": x}, {"Fn::GetAtt": [resource, attribute]},
// {"Fn::Sub": ...}), so every value of the model is a map[string]any, []any,
// string, bool, int, float64 or nil. Nothing is evaluated here.
package template

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is one parsed template file.
type Template struct {
	// Path is the file the template was read from (or the name given to Parse).
	Path string
	// Parameters by name.
	Parameters map[string]Parameter
	// Mappings for Fn::FindInMap.
	Mappings map[string]any
	// Conditions by name, unevaluated.
	Conditions map[string]any
	// Rules by name (RuleCondition, Assertions), unevaluated.
	Rules map[string]any
	// Resources in file order.
	Resources []*Resource
	// Outputs by name.
	Outputs map[string]Output
	// Globals is SAM's Globals section (e.g. Globals["Function"]["Timeout"]),
	// unevaluated; nil when the template has none.
	Globals map[string]any
}

// Parameter is one template parameter.
type Parameter struct {
	// Type is the parameter's Type (String, Number, List<...> ...).
	Type string
	// Default is the default value as text, nil when there is none.
	Default *string
	// Properties is the whole declaration (Type, Default, AllowedValues,
	// AllowedPattern, MinValue ...), unconverted.
	Properties map[string]any
}

// Resource is one entry of the Resources section, unevaluated.
type Resource struct {
	LogicalID string
	Type      string
	// Condition names the condition the resource is created under ("" always).
	Condition string
	// DependsOn lists the explicit dependencies.
	DependsOn []string
	// Properties is never nil.
	Properties map[string]any
	// Metadata is the resource's Metadata attribute (e.g. SAM's BuildMethod).
	Metadata map[string]any
	// DeletionPolicy and UpdateReplacePolicy are the resource attributes
	// ("" when absent).
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// Output is one entry of the Outputs section.
type Output struct {
	// Value is unevaluated.
	Value any
	// Condition names the condition the output exists under ("" always).
	Condition string
}

// Load reads the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return Parse(path, b)
}

// Parse parses one template held in memory; name is its Path and is used in
// errors.
func Parse(name string, src []byte) (*Template, error) {
	t, err := parse(src)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	t.Path = name
	return t, nil
}

func parse(src []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a template: top level is not a mapping")
	}
	top := doc.Content[0]
	t := &Template{Parameters: map[string]Parameter{}, Mappings: map[string]any{}, Conditions: map[string]any{}, Rules: map[string]any{}, Outputs: map[string]Output{}}
	sections := map[string]map[string]any{}
	for _, s := range []string{"Parameters", "Mappings", "Conditions", "Rules", "Outputs", "Globals"} {
		n := mappingValue(top, s)
		if n == nil {
			continue
		}
		v, err := convert(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return nil, fmt.Errorf("the %s section is not a mapping", s)
		}
		sections[s] = m
	}
	for name, v := range sections["Parameters"] {
		pm, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parameter %s is not a mapping", name)
		}
		p := Parameter{Type: str(pm["Type"]), Properties: pm}
		if def, ok := pm["Default"]; ok && def != nil {
			s, err := ScalarString(def)
			if err != nil {
				return nil, fmt.Errorf("parameter %s default: %w", name, err)
			}
			p.Default = &s
		}
		t.Parameters[name] = p
	}
	for k, v := range sections["Mappings"] {
		t.Mappings[k] = v
	}
	t.Globals = sections["Globals"]
	for k, v := range sections["Conditions"] {
		t.Conditions[k] = v
	}
	for k, v := range sections["Rules"] {
		t.Rules[k] = v
	}
	for name, v := range sections["Outputs"] {
		om, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("output %s is not a mapping", name)
		}
		t.Outputs[name] = Output{Value: om["Value"], Condition: str(om["Condition"])}
	}
	// Resources in file order: walk the node, not the map.
	res := mappingValue(top, "Resources")
	if res == nil || res.Tag == "!!null" {
		return t, nil
	}
	if res.Kind != yaml.MappingNode {
		return nil, errors.New("the Resources section is not a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id := res.Content[i].Value
		if seen[id] {
			return nil, fmt.Errorf("resource %s defined twice", id)
		}
		seen[id] = true
		v, err := convert(res.Content[i+1])
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		rm, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("resource %s is not a mapping", id)
		}
		r := &Resource{LogicalID: id, Type: str(rm["Type"]), Condition: str(rm["Condition"]),
			DeletionPolicy: str(rm["DeletionPolicy"]), UpdateReplacePolicy: str(rm["UpdateReplacePolicy"])}
		if r.Type == "" {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		switch dep := rm["DependsOn"].(type) {
		case string:
			r.DependsOn = []string{dep}
		case []any:
			for _, x := range dep {
				r.DependsOn = append(r.DependsOn, str(x))
			}
		}
		r.Properties, _ = rm["Properties"].(map[string]any)
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		r.Metadata, _ = rm["Metadata"].(map[string]any)
		t.Resources = append(t.Resources, r)
	}
	return t, nil
}

// Resource returns the resource with the logical id, or nil.
func (t *Template) Resource(id string) *Resource {
	for _, r := range t.Resources {
		if r.LogicalID == id {
			return r
		}
	}
	return nil
}

// IDs returns the logical ids of the resources of type typ, sorted.
func (t *Template) IDs(typ string) []string {
	var ids []string
	for _, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, r.LogicalID)
		}
	}
	sort.Strings(ids)
	return ids
}

// Remove deletes the resource with the logical id (tests that break a
// template use it).
func (t *Template) Remove(id string) {
	for i, r := range t.Resources {
		if r.LogicalID == id {
			t.Resources = append(t.Resources[:i], t.Resources[i+1:]...)
			return
		}
	}
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// shortTags maps CloudFormation's short-form tags to their long form.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!If": "Fn::If", "!Equals": "Fn::Equals",
	"!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap",
	"!GetAZs": "Fn::GetAZs", "!Base64": "Fn::Base64", "!ImportValue": "Fn::ImportValue",
	"!Cidr": "Fn::Cidr", "!ToJsonString": "Fn::ToJsonString", "!Length": "Fn::Length",
}

// convert turns a yaml node into plain values (map[string]any, []any, string,
// bool, int, float64, nil), rewriting short-form tags to the long form.
func convert(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return convert(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn, ok := shortTags[n.Tag]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		inner := *n
		inner.Tag = ""
		if n.Kind == yaml.ScalarNode {
			inner.Tag = "!!str"
		}
		v, err := convert(&inner)
		if err != nil {
			return nil, err
		}
		if fn == "Fn::GetAtt" {
			if s, ok := v.(string); ok {
				id, attr, found := strings.Cut(s, ".")
				if !found {
					return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
				}
				v = []any{id, attr}
			}
		}
		return map[string]any{fn: v}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected yaml node", n.Line)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
