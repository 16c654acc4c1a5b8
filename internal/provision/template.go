// Package provision creates in moto_server, per local region, what
// template.yaml (and, when present, onprem.yaml next to it) defines: DynamoDB
// tables and global tables, SQS queues with their redrive policies, the
// multi-Region KMS key and its replicas, Cognito user pools and app clients,
// CloudWatch alarms, Route 53 health checks and the ECS cluster and services of
// the on-prem sites.
//
// The template is read with the yaml.v3 Node API so CloudFormation's
// short-form intrinsic tags (!Ref, !Sub, !GetAtt, !If, ...) are kept; they are
// evaluated per region exactly like CloudFormation would for a stack named
// "homeregion" (conditions such as IsRegistryRegion included). Resource types
// moto cannot or need not host (functions, roles, APIs, permissions) get
// deterministic placeholder names and ARNs so references to them resolve.
//
// What moto does not do is supplied here honestly: global tables are created
// as plain tables in every local region (moto does not replicate; the
// registry-region read fallback keeps that correct), a multi-Region key is
// created in the registry region and replicated with ReplicateKey to the
// others, and ECS services are created without a launch type (moto rejects
// EXTERNAL).
package provision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Definitions is a parsed template: parameters, mappings, conditions and
// resources with intrinsic functions kept as unevaluated values
// (map[string]any{"Ref": ...}, {"Fn::Sub": ...}, ...).
type Definitions struct {
	// Parameters by name.
	Parameters map[string]Parameter
	// Mappings for Fn::FindInMap.
	Mappings map[string]any
	// Conditions by name, unevaluated.
	Conditions map[string]any
	// Resources in file order.
	Resources []Resource
	// Outputs of the main template (the first file), unevaluated.
	Outputs map[string]any
	// Files the definitions were read from; the first is the main template.
	Files []string
	// perFile holds each file's own parameters and conditions: a second
	// stack's template (onprem.yaml) may reuse a name with another meaning.
	perFile map[string]*fileDefs
}

// fileDefs are one template file's parameters and conditions.
type fileDefs struct {
	params map[string]Parameter
	conds  map[string]any
}

// fileOf returns file's parameters and conditions (the merged ones when the
// file is unknown, e.g. Definitions built by hand).
func (d *Definitions) fileOf(file string) *fileDefs {
	if f, ok := d.perFile[file]; ok {
		return f
	}
	return &fileDefs{params: d.Parameters, conds: d.Conditions}
}

// mainFile is the first template read.
func (d *Definitions) mainFile() string {
	if len(d.Files) == 0 {
		return ""
	}
	return d.Files[0]
}

// Parameter is one template parameter.
type Parameter struct {
	Type    string
	Default *string
	// File is the template that declared it.
	File string
}

// Resource is one template resource, unevaluated.
type Resource struct {
	LogicalID  string
	Type       string
	Condition  string
	DependsOn  []string
	Properties map[string]any
	// File is the template the resource came from.
	File string
}

// OnPremFile is the name of the on-prem site definitions Load also reads when
// the file exists next to the template.
const OnPremFile = "onprem.yaml"

// Load reads templatePath and, if it exists in the same directory, onprem.yaml
// (the on-prem ECS definitions) into one set of Definitions.
func Load(templatePath string) (*Definitions, error) {
	paths := []string{templatePath}
	onprem := filepath.Join(filepath.Dir(templatePath), OnPremFile)
	if filepath.Clean(onprem) != filepath.Clean(templatePath) {
		if _, err := os.Stat(onprem); err == nil {
			paths = append(paths, onprem)
		}
	}
	return LoadFiles(paths...)
}

// LoadFiles reads and merges the given templates; the first is the main
// one. A logical id defined in two files is an error. Each file's resources
// see that file's own parameters and conditions (a second stack's template
// may reuse a name such as StandbyTasks with another meaning); a later
// file's parameter without a value takes the main template's output of the
// same name, as a deployment passes one stack's outputs to the next. The
// merged Parameters/Conditions keep the first declaration. Resources of the
// later files are optional locally: Apply reports what it cannot create from
// them in Stack.Warnings instead of failing.
func LoadFiles(paths ...string) (*Definitions, error) {
	d := &Definitions{
		Parameters: map[string]Parameter{},
		Mappings:   map[string]any{},
		Conditions: map[string]any{},
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("provision: read template: %w", err)
		}
		if err := d.add(p, b); err != nil {
			return nil, fmt.Errorf("provision: %s: %w", p, err)
		}
		d.Files = append(d.Files, p)
	}
	return d, nil
}

// Parse parses one template held in memory (name is used in errors).
func Parse(name string, src []byte) (*Definitions, error) {
	d := &Definitions{
		Parameters: map[string]Parameter{},
		Mappings:   map[string]any{},
		Conditions: map[string]any{},
	}
	if err := d.add(name, src); err != nil {
		return nil, fmt.Errorf("provision: %s: %w", name, err)
	}
	d.Files = []string{name}
	return d, nil
}

func (d *Definitions) add(file string, src []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return errors.New("not a template: top level is not a mapping")
	}
	top, err := convert(doc.Content[0])
	if err != nil {
		return err
	}
	m := top.(map[string]any)
	if d.perFile == nil {
		d.perFile = map[string]*fileDefs{}
	}
	fd := &fileDefs{params: map[string]Parameter{}, conds: map[string]any{}}
	d.perFile[file] = fd
	if d.Outputs == nil {
		d.Outputs = map[string]any{}
		if outs, ok := m["Outputs"].(map[string]any); ok {
			for k, v := range outs {
				if om, ok := v.(map[string]any); ok {
					d.Outputs[k] = om["Value"]
				}
			}
		}
	}
	if ps, ok := m["Parameters"].(map[string]any); ok {
		for name, v := range ps {
			pm, _ := v.(map[string]any)
			p := Parameter{Type: str(pm["Type"]), File: file}
			if def, ok := pm["Default"]; ok && def != nil {
				s, err := scalarString(def)
				if err != nil {
					return fmt.Errorf("parameter %s default: %w", name, err)
				}
				p.Default = &s
			}
			fd.params[name] = p
			if prev, dup := d.Parameters[name]; dup {
				if prev.Default == nil && p.Default != nil {
					prev.Default = p.Default
					d.Parameters[name] = prev
				}
				continue
			}
			d.Parameters[name] = p
		}
	}
	if ms, ok := m["Mappings"].(map[string]any); ok {
		for k, v := range ms {
			d.Mappings[k] = v
		}
	}
	if cs, ok := m["Conditions"].(map[string]any); ok {
		for name, v := range cs {
			fd.conds[name] = v
			if _, dup := d.Conditions[name]; !dup {
				d.Conditions[name] = v
			}
		}
	}
	// Resources in file order: walk the node, not the map.
	res := mappingValue(doc.Content[0], "Resources")
	if res == nil {
		return nil
	}
	if res.Kind != yaml.MappingNode {
		return errors.New("the Resources section is not a mapping")
	}
	seen := map[string]bool{}
	for _, r := range d.Resources {
		seen[r.LogicalID] = true
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id := res.Content[i].Value
		if seen[id] {
			return fmt.Errorf("resource %s defined twice", id)
		}
		seen[id] = true
		v, err := convert(res.Content[i+1])
		if err != nil {
			return fmt.Errorf("resource %s: %w", id, err)
		}
		rm, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("resource %s is not a mapping", id)
		}
		r := Resource{LogicalID: id, Type: str(rm["Type"]), Condition: str(rm["Condition"]), File: file}
		if r.Type == "" {
			return fmt.Errorf("resource %s has no Type", id)
		}
		switch dep := rm["DependsOn"].(type) {
		case string:
			r.DependsOn = []string{dep}
		case []any:
			for _, x := range dep {
				r.DependsOn = append(r.DependsOn, str(x))
			}
		}
		if props, ok := rm["Properties"].(map[string]any); ok {
			r.Properties = props
		} else {
			r.Properties = map[string]any{}
		}
		d.Resources = append(d.Resources, r)
	}
	return nil
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
