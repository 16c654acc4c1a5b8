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
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	makeTargets := map[string]bool{}
	for _, line := range strings.Split(string(mk), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(name, "build-") {
			makeTargets[strings.TrimPrefix(name, "build-")] = true
		}
	}

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

	const (
		local = "${AWS::Region}"
		home  = "${RegistryRegion}"
	)
	tests := []struct {
		fn      string
		actions []string // every action the function's policies grant
		// where is, per DynamoDB action, the regions of the registry table
		// it is granted on (the Resource's region variable).
		where map[string][]string
	}{
		// PreSignUp: reads only (local replica, then the registry region);
		// GenerateMac for K. A write here would reopen e-mail squatting.
		{"PreSignUpFunction", []string{"dynamodb:GetItem", "kms:GenerateMac"},
			map[string][]string{"dynamodb:GetItem": {local, home}}},
		// PostConfirmation: the claim, a conditional PutItem in the registry
		// region only, GetItem there when a conflict returns no item.
		{"PostConfirmationFunction", []string{"dynamodb:GetItem", "dynamodb:PutItem", "kms:GenerateMac"},
			map[string][]string{"dynamodb:GetItem": {home}, "dynamodb:PutItem": {home}}},
		// PreAuth: GetItem in the local replica, PutItem/GetItem in the
		// registry region on a miss; GenerateMac for K.
		{"PreAuthFunction", []string{"dynamodb:GetItem", "dynamodb:PutItem", "kms:GenerateMac"},
			map[string][]string{"dynamodb:GetItem": {local, home}, "dynamodb:PutItem": {home}}},
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
			where := map[string][]string{}
			for _, stmt := range node(p, "Policies").Content {
				for _, s := range node(stmt, "Statement").Content {
					acts := scalars(node(s, "Action"))
					actions = append(actions, acts...)
					for _, r := range scalars(node(s, "Resource")) {
						if r == "*" {
							t.Errorf("%s grants on Resource *", tt.fn)
						}
						for _, a := range acts {
							if !strings.HasPrefix(a, "dynamodb:") {
								continue
							}
							for _, region := range []string{local, home} {
								if strings.Contains(r, ":dynamodb:"+region+":") {
									where[a] = append(where[a], region)
								}
							}
						}
					}
				}
			}
			slices.Sort(actions)
			actions = slices.Compact(actions)
			if !slices.Equal(actions, tt.actions) {
				t.Errorf("%s grants %v, want exactly %v", tt.fn, actions, tt.actions)
			}
			for a, want := range tt.where {
				got := where[a]
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s grants %s in %v, want exactly %v", tt.fn, a, got, want)
				}
			}
			if mode := node(res, tt.fn, "Metadata", "BuildMethod"); mode == nil || mode.Value != "makefile" {
				t.Errorf("%s is not built with BuildMethod: makefile", tt.fn)
			}
		})
	}

	t.Run("user pool wires the three triggers", func(t *testing.T) {
		lc := node(res, "UserPool", "Properties", "LambdaConfig")
		for key, fn := range map[string]string{"PreSignUp": "PreSignUpFunction", "PostConfirmation": "PostConfirmationFunction", "PreAuthentication": "PreAuthFunction"} {
			if v := scalars(node(lc, key)); len(v) == 0 || !strings.HasPrefix(v[0], fn) {
				t.Errorf("UserPool LambdaConfig.%s = %v, want %s", key, v, fn)
			}
			// Cognito may invoke it, for this pool only.
			found := false
			for _, r := range res.Content {
				if node(r, "Type") == nil || node(r, "Type").Value != "AWS::Lambda::Permission" {
					continue
				}
				props := node(r, "Properties")
				if f := scalars(node(props, "FunctionName")); len(f) > 0 && strings.HasPrefix(f[0], fn) {
					found = true
					if pr := node(props, "Principal"); pr == nil || pr.Value != "cognito-idp.amazonaws.com" {
						t.Errorf("%s's permission is not for cognito-idp.amazonaws.com", fn)
					}
					if sa := scalars(node(props, "SourceArn")); len(sa) == 0 || !strings.HasPrefix(sa[0], "UserPool") {
						t.Errorf("%s's permission has SourceArn %v, want the user pool", fn, sa)
					}
				}
			}
			if !found {
				t.Errorf("no AWS::Lambda::Permission lets Cognito invoke %s", fn)
			}
			if !makeTargets[fn] {
				t.Errorf("Makefile has no build-%s target (sam build, BuildMethod: makefile)", fn)
			}
		}
		upd := scalars(node(res, "UserPool", "Properties", "UserAttributeUpdateSettings", "AttributesRequireVerificationBeforeUpdate"))
		if !slices.Contains(upd, "email") {
			t.Errorf("UserPool lets an e-mail change take effect before it is verified: AttributesRequireVerificationBeforeUpdate = %v", upd)
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
