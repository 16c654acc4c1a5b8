package triggers

import (
	"testing"

	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/registry"
)

// TestTemplateMatchesCode checks template.yaml (the single source of truth
// for the registry's key schema and the functions' environment) against what
// this code reads. The template's policies (what each trigger is granted,
// how the user pool invokes them) are checked by internal/templatecheck.
func TestTemplateMatchesCode(t *testing.T) {
	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("registry key schema", func(t *testing.T) {
		r := tpl.Resource("RegistryTable")
		if r == nil {
			t.Fatal("template has no RegistryTable")
		}
		ks, _ := r.Properties["KeySchema"].([]any)
		k, _ := first(ks)["AttributeName"].(string)
		if len(ks) != 1 || k != registry.AttrKey || first(ks)["KeyType"] != "HASH" {
			t.Fatalf("RegistryTable key schema %v is not one HASH key %q", ks, registry.AttrKey)
		}
		ad, _ := r.Properties["AttributeDefinitions"].([]any)
		if len(ad) != 1 || first(ad)["AttributeType"] != "S" {
			t.Fatalf("RegistryTable key is not a string attribute: %v", ad)
		}
	})

	for _, fn := range []string{"PreSignUpFunction", "PostConfirmationFunction", "PreAuthFunction"} {
		t.Run(fn, func(t *testing.T) {
			r := tpl.Resource(fn)
			if r == nil {
				t.Fatalf("template has no %s", fn)
			}
			env, _ := r.Properties["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			e := map[string]string{"AWS_REGION": "eu-central-1"}
			for _, name := range []string{"RESIDENCY_TABLE", "REGISTRY_REGION", "PII_KEY_ID"} {
				if vars[name] == nil {
					t.Errorf("%s lacks %s", fn, name)
				}
				e[name] = "x-value-1"
			}
			// A zone pair's variables come together (ParseEnv refuses one
			// without the other): the template sets both or neither.
			if (vars["PAIR_REGION"] == nil) != (vars[EnvPairUserPoolID] == nil) {
				t.Errorf("%s sets only one of PAIR_REGION and %s", fn, EnvPairUserPoolID)
			}
			if _, err := ParseEnv(func(k string) string {
				if k == "REGISTRY_REGION" {
					return "eu-west-1"
				}
				return e[k]
			}); err != nil {
				t.Errorf("the variables the template sets do not satisfy ParseEnv: %v", err)
			}
		})
	}
}

// first is the first element of l as a mapping.
func first(l []any) map[string]any {
	if len(l) == 0 {
		return nil
	}
	m, _ := l[0].(map[string]any)
	return m
}
