package triggers

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/homeregion/homeregion/shared/registry"
)

// node returns the value under the mapping keys path, or nil.
func node(n *yaml.Node, path ...string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// scalars collects every scalar value under n.
func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, scalars(c)...)
	}
	return out
}

// TestTemplateMatchesCode checks template.yaml (the single source of truth
// for the registry's key schema and the functions' environment and IAM)
// against what this code reads and calls.
func TestTemplateMatchesCode(t *testing.T) {
	b, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	res := node(&doc, "Resources")

	t.Run("registry key schema", func(t *testing.T) {
		ks := node(res, "RegistryTable", "Properties", "KeySchema")
		if ks == nil || len(ks.Content) != 1 || node(ks.Content[0], "AttributeName").Value != registry.AttrKey || node(ks.Content[0], "KeyType").Value != "HASH" {
			t.Fatalf("RegistryTable key schema is not one HASH key %q", registry.AttrKey)
		}
		ad := node(res, "RegistryTable", "Properties", "AttributeDefinitions")
		if ad == nil || len(ad.Content) != 1 || node(ad.Content[0], "AttributeType").Value != "S" {
			t.Fatal("RegistryTable key is not a string attribute")
		}
	})

	tests := []struct {
		fn      string
		actions []string // every action the function's policies grant
	}{
		// PreSignUp: conditional PutItem in the registry region, GetItem
		// there when a conflict returns no item; GenerateMac for K.
		{"PreSignUpFunction", []string{"dynamodb:GetItem", "dynamodb:PutItem", "kms:GenerateMac"}},
		// PreAuth: GetItem in the local replica, PutItem/GetItem in the
		// registry region on a miss; GenerateMac for K.
		{"PreAuthFunction", []string{"dynamodb:GetItem", "dynamodb:PutItem", "kms:GenerateMac"}},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			p := node(res, tt.fn, "Properties")
			if p == nil {
				t.Fatalf("template has no %s", tt.fn)
			}
			vars := node(p, "Environment", "Variables")
			e := map[string]string{"AWS_REGION": "eu-central-1"}
			for _, name := range []string{"RESIDENCY_TABLE", "REGISTRY_REGION", "PII_KEY_ID"} {
				if node(vars, name) == nil {
					t.Errorf("%s lacks %s", tt.fn, name)
				}
				e[name] = "x-value-1"
			}
			if _, err := ParseEnv(func(k string) string {
				if k == "REGISTRY_REGION" {
					return "eu-west-1"
				}
				return e[k]
			}); err != nil {
				t.Errorf("the variables the template sets do not satisfy ParseEnv: %v", err)
			}
			var actions []string
			for _, stmt := range node(p, "Policies").Content {
				for _, s := range node(stmt, "Statement").Content {
					if a := node(s, "Action"); a != nil {
						actions = append(actions, scalars(a)...)
					}
					for _, r := range scalars(node(s, "Resource")) {
						if r == "*" {
							t.Errorf("%s grants on Resource *", tt.fn)
						}
					}
				}
			}
			slices.Sort(actions)
			actions = slices.Compact(actions)
			if !slices.Equal(actions, tt.actions) {
				t.Errorf("%s grants %v, want exactly %v", tt.fn, actions, tt.actions)
			}
			if mode := node(res, tt.fn, "Metadata", "BuildMethod"); mode == nil || mode.Value != "makefile" {
				t.Errorf("%s is not built with BuildMethod: makefile", tt.fn)
			}
		})
	}

	t.Run("user pool wires both triggers", func(t *testing.T) {
		lc := node(res, "UserPool", "Properties", "LambdaConfig")
		for key, fn := range map[string]string{"PreSignUp": "PreSignUpFunction", "PreAuthentication": "PreAuthFunction"} {
			if v := scalars(node(lc, key)); len(v) == 0 || !strings.HasPrefix(v[0], fn) {
				t.Errorf("UserPool LambdaConfig.%s = %v, want %s", key, v, fn)
			}
		}
		for _, attr := range []string{"region", "country"} {
			found := false
			for _, a := range node(res, "UserPool", "Properties", "Schema").Content {
				if node(a, "Name").Value == attr {
					found = true
					if m := node(a, "Mutable"); m == nil || m.Value != "false" {
						t.Errorf("custom:%s is not Mutable: false", attr)
					}
				}
			}
			if !found {
				t.Errorf("UserPool schema lacks custom:%s", attr)
			}
		}
	})
}
