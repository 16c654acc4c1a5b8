package templatecheck

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// Region variables of the registry table ARNs the triggers are granted on.
const (
	// LocalRegion is the function's own region (the table's local replica).
	LocalRegion = "${AWS::Region}"
	// RegistryRegion is the registry region (where claims are written).
	RegistryRegion = "${RegistryRegion}"
)

// TriggerGrant is what one Cognito trigger function may do: exactly Actions,
// and each DynamoDB action of Where only on the registry table in those
// regions.
type TriggerGrant struct {
	// Trigger is the user pool's LambdaConfig key that invokes the function.
	Trigger string
	Actions []string
	Where   map[string][]string
}

// TriggerGrants are the Cognito triggers by logical id, with what each may
// do. A write where a trigger only reads would reopen e-mail squatting.
var TriggerGrants = map[string]TriggerGrant{
	// PreSignUp: reads only (local replica, then the registry region);
	// GenerateMac for the e-mail's key.
	"PreSignUpFunction": {"PreSignUp", []string{"dynamodb:GetItem", "kms:GenerateMac"},
		map[string][]string{"dynamodb:GetItem": {LocalRegion, RegistryRegion}}},
	// PostConfirmation: the claim, a conditional PutItem in the registry
	// region only, GetItem there when a conflict returns no item.
	"PostConfirmationFunction": {"PostConfirmation", []string{"dynamodb:GetItem", "dynamodb:PutItem", "kms:GenerateMac"},
		map[string][]string{"dynamodb:GetItem": {RegistryRegion}, "dynamodb:PutItem": {RegistryRegion}}},
	// PreAuth: GetItem in the local replica, PutItem/GetItem in the registry
	// region on a miss.
	"PreAuthFunction": {"PreAuthentication", []string{"dynamodb:GetItem", "dynamodb:PutItem", "kms:GenerateMac"},
		map[string][]string{"dynamodb:GetItem": {LocalRegion, RegistryRegion}, "dynamodb:PutItem": {RegistryRegion}}},
}

// hasTriggers reports whether t is a template with the Cognito triggers: it
// defines one of TriggerGrants' functions or a user pool with a LambdaConfig.
func hasTriggers(t *template.Template) bool {
	for fn := range TriggerGrants {
		if t.Resource(fn) != nil {
			return true
		}
	}
	for _, id := range t.IDs("AWS::Cognito::UserPool") {
		if _, ok := t.Resource(id).Properties["LambdaConfig"]; ok {
			return true
		}
	}
	return false
}

// CheckTriggerGrants requires, in a template with the Cognito triggers, each
// trigger of TriggerGrants to be granted exactly its actions, its DynamoDB
// actions only in its regions.
func CheckTriggerGrants(t *template.Template) []Finding {
	if !hasTriggers(t) {
		return nil
	}
	var fs []Finding
	for _, fn := range sortedKeys(TriggerGrants) {
		want := TriggerGrants[fn]
		r := t.Resource(fn)
		if r == nil {
			fs = append(fs, Finding{"trigger-grants", fn, "the template has no such function"})
			continue
		}
		var actions []string
		where := map[string][]string{}
		for _, pol := range list(r.Properties["Policies"]) {
			m, _ := pol.(map[string]any)
			for _, st := range list(m["Statement"]) {
				s, _ := st.(map[string]any)
				acts := strs(s["Action"])
				actions = append(actions, acts...)
				for _, res := range strs(s["Resource"]) {
					for _, a := range acts {
						if !strings.HasPrefix(a, "dynamodb:") {
							continue
						}
						for _, region := range []string{LocalRegion, RegistryRegion} {
							if strings.Contains(res, ":dynamodb:"+region+":") {
								where[a] = append(where[a], region)
							}
						}
					}
				}
			}
		}
		slices.Sort(actions)
		actions = slices.Compact(actions)
		if !slices.Equal(actions, want.Actions) {
			fs = append(fs, Finding{"trigger-grants", fn, fmt.Sprintf("grants %v, want exactly %v", actions, want.Actions)})
		}
		for a, regions := range want.Where {
			got := slices.Clone(where[a])
			slices.Sort(got)
			regions = slices.Sorted(slices.Values(regions))
			if !slices.Equal(got, regions) {
				fs = append(fs, Finding{"trigger-grants", fn, fmt.Sprintf("grants %s in %v, want exactly %v", a, got, regions)})
			}
		}
	}
	return fs
}

// CheckUserPoolTriggers requires, in a template with the Cognito triggers,
// every user pool to invoke each trigger function of TriggerGrants from its
// LambdaConfig, an AWS::Lambda::Permission that lets Cognito invoke it for
// that pool only, and e-mail changes to take effect only once verified (the
// e-mail is the identity the triggers claim).
func CheckUserPoolTriggers(t *template.Template) []Finding {
	if !hasTriggers(t) {
		return nil
	}
	var fs []Finding
	for _, pool := range t.IDs("AWS::Cognito::UserPool") {
		p := t.Resource(pool).Properties
		lc, _ := p["LambdaConfig"].(map[string]any)
		for _, fn := range sortedKeys(TriggerGrants) {
			key := TriggerGrants[fn].Trigger
			if !refersTo(lc[key], fn) {
				fs = append(fs, Finding{"user-pool-triggers", pool, fmt.Sprintf("LambdaConfig.%s is %v, want %s", key, lc[key], fn)})
			}
			if !cognitoMayInvoke(t, fn, pool) {
				fs = append(fs, Finding{"user-pool-triggers", fn, "no AWS::Lambda::Permission lets cognito-idp.amazonaws.com invoke it for " + pool + " only"})
			}
		}
		us, _ := p["UserAttributeUpdateSettings"].(map[string]any)
		if !slices.Contains(strs(us["AttributesRequireVerificationBeforeUpdate"]), "email") {
			fs = append(fs, Finding{"user-pool-triggers", pool, "an e-mail change takes effect before it is verified (AttributesRequireVerificationBeforeUpdate lacks email)"})
		}
	}
	return fs
}

// cognitoMayInvoke reports whether a permission lets Cognito invoke fn with
// pool as the SourceArn.
func cognitoMayInvoke(t *template.Template, fn, pool string) bool {
	for _, id := range t.IDs("AWS::Lambda::Permission") {
		p := t.Resource(id).Properties
		if mentions(p["FunctionName"], fn) && p["Principal"] == "cognito-idp.amazonaws.com" && refersTo(p["SourceArn"], pool) {
			return true
		}
	}
	return false
}

// strs collects every string inside v (a Sub's template included).
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, c := range x {
			out = append(out, strs(c)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, k := range sortedKeys(x) {
			out = append(out, strs(x[k])...)
		}
		return out
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
