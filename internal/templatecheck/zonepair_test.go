package templatecheck

import (
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

// TestResolveZonePairVariants: the variants CheckZonePair checks are the
// deployments they say (so its checks are not vacuous).
func TestResolveZonePairVariants(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range PairVariants {
		t.Run(v.Name, func(t *testing.T) {
			rt := Resolve(tpl, v.Params)
			if got := rt.Resource("PairHttpApi") != nil; got != v.Paired {
				t.Errorf("PairHttpApi exists: %v, want %v", got, v.Paired)
			}
			if got := rt.Resource("PairTable") != nil; got != v.CreatesTable {
				t.Errorf("PairTable exists: %v, want %v", got, v.CreatesTable)
			}
			env := envOf(rt.Resource("OrdersApiFunction"))
			if want := map[bool]string{true: "PairTableName", false: "OrdersTable"}[v.Paired]; !refersTo(env["ORDERS_TABLE"], want) {
				t.Errorf("orders-api ORDERS_TABLE = %v, want a Ref to %s", env["ORDERS_TABLE"], want)
			}
			if _, ok := env["PAIR_REGION"]; ok != v.Paired {
				t.Errorf("orders-api PAIR_REGION set: %v, want %v", ok, v.Paired)
			}
		})
	}
}

// zonePairMutations break the pair's wiring or least privilege in the real
// templates; each must raise its finding.
var zonePairMutations = []struct {
	name      string
	path      string
	wantCheck string
	mutate    func(tpl *template.Template) bool
}{
	{"the pair table gets a TTL", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PairTable")
		if r == nil {
			return false
		}
		r.Properties["TimeToLiveSpecification"] = map[string]any{"AttributeName": "expiresAt", "Enabled": true}
		return true
	}},
	{"the pair table is eventually consistent", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PairTable")
		if r == nil {
			return false
		}
		r.Properties["MultiRegionConsistency"] = "EVENTUAL"
		return true
	}},
	{"the pair table lacks the erasure worker's index", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PairTable")
		if r == nil {
			return false
		}
		gsis := list(r.Properties["GlobalSecondaryIndexes"])
		if len(gsis) < 2 {
			return false
		}
		r.Properties["GlobalSecondaryIndexes"] = gsis[:1]
		return true
	}},
	{"the pair table has no witness", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PairTable")
		if r == nil {
			return false
		}
		delete(r.Properties, "GlobalTableWitnesses")
		return true
	}},
	{"the pair table is created in every region of the pair", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PairTable")
		if r == nil {
			return false
		}
		r.Condition = "HasZonePair"
		return true
	}},
	{"the paired orders API may run transactions", templates[0], "zone-pair", func(tpl *template.Template) bool {
		for _, st := range functionStatements(tpl, "OrdersApiFunction") {
			if st["Sid"] == "OrdersTable" {
				st["Action"] = []any{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:ConditionCheckItem"}
				return true
			}
		}
		return false
	}},
	{"the paired orders API keeps the regional table", templates[0], "zone-pair", func(tpl *template.Template) bool {
		vars := envOf(tpl.Resource("OrdersApiFunction"))
		if vars == nil {
			return false
		}
		vars["ORDERS_TABLE"] = map[string]any{"Ref": "OrdersTable"}
		return true
	}},
	{"the unpaired orders API refers to the pair table", templates[0], "zone-pair", func(tpl *template.Template) bool {
		vars := envOf(tpl.Resource("OrdersApiFunction"))
		if vars == nil {
			return false
		}
		vars["ORDERS_TABLE"] = map[string]any{"Ref": "PairTableName"}
		return true
	}},
	{"the paired erasure worker also keeps the regional table", templates[0], "erasure-grants", func(tpl *template.Template) bool {
		for _, st := range functionStatements(tpl, ErasureFunctionID) {
			if st["Sid"] == "OrdersTable" {
				f, _ := st["Resource"].(map[string]any)["Fn::If"].([]any)
				if len(f) != 3 {
					return false
				}
				f[1] = append(list(f[1]), map[string]any{"Fn::GetAtt": []any{"OrdersTable", "Arn"}})
				return true
			}
		}
		return false
	}},
	{"the erasure worker does not sweep the partner's DLQ", templates[0], "erasure-grants", func(tpl *template.Template) bool {
		for _, st := range functionStatements(tpl, ErasureFunctionID) {
			if st["Sid"] == "DeadLetterSweep" {
				st["Resource"] = map[string]any{"Fn::GetAtt": []any{"OrdersDeadLetterQueue", "Arn"}}
				return true
			}
		}
		return false
	}},
	{"the orders API may be invoked for the partner's pool", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PreAuthPairPoolInvokePermission")
		if r == nil {
			return false
		}
		c := *r
		c.LogicalID = "OrdersApiPairPoolInvokePermission"
		c.Properties = map[string]any{}
		for k, v := range r.Properties {
			c.Properties[k] = v
		}
		c.Properties["FunctionName"] = map[string]any{"Fn::GetAtt": []any{"OrdersApiFunction", "Arn"}}
		tpl.Resources = append(tpl.Resources, &c)
		return true
	}},
	{"a trigger cannot be invoked for the partner's pool", templates[0], "zone-pair", func(tpl *template.Template) bool {
		if tpl.Resource("PreAuthPairPoolInvokePermission") == nil {
			return false
		}
		tpl.Remove("PreAuthPairPoolInvokePermission")
		return true
	}},
	{"a trigger does not know the partner's pool", templates[0], "zone-pair", func(tpl *template.Template) bool {
		vars := envOf(tpl.Resource("PostConfirmationFunction"))
		if vars == nil || vars["PAIR_USER_POOL_ID"] == nil {
			return false
		}
		delete(vars, "PAIR_USER_POOL_ID")
		return true
	}},
	{"PairHttpApi trusts the partner's regional issuer", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PairHttpApiAuthorizer")
		if r == nil {
			return false
		}
		r.Properties["JwtConfiguration"].(map[string]any)["Issuer"] = map[string]any{"Fn::Sub": "https://cognito-idp.${ZonePairRegion}.amazonaws.com/${ZonePairUserPoolId}"}
		return true
	}},
	{"PairHttpApi lacks a route of OrdersHttpApi", templates[0], "zone-pair", func(tpl *template.Template) bool {
		if tpl.Resource("PairHttpApiEraseMeRoute") == nil {
			return false
		}
		tpl.Remove("PairHttpApiEraseMeRoute")
		return true
	}},
	{"a PairHttpApi route without the authorizer", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("PairHttpApiGetOrderRoute")
		if r == nil {
			return false
		}
		r.Properties["AuthorizationType"] = "NONE"
		delete(r.Properties, "AuthorizerId")
		return true
	}},
	{"the paired OrdersHttpApi keeps the regional issuer", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("OrdersHttpApi")
		if r == nil {
			return false
		}
		auth := r.Properties["Auth"].(map[string]any)["Authorizers"].(map[string]any)
		for _, a := range auth {
			a.(map[string]any)["JwtConfiguration"].(map[string]any)["issuer"] = map[string]any{"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}
		}
		return true
	}},
	{"the ARC switch keeps the Route 53 permission", templates[0], "zone-pair", func(tpl *template.Template) bool {
		r := tpl.Resource("FailoverFunction")
		if r == nil {
			return false
		}
		for _, pol := range list(r.Properties["Policies"]) {
			m, _ := pol.(map[string]any)
			sts := list(m["Statement"])
			for i, st := range sts {
				if f, _ := st.(map[string]any)["Fn::If"].([]any); len(f) == 3 {
					sts[i] = f[1]
					m["Statement"] = append(sts, f[2])
					return true
				}
			}
		}
		return false
	}},
	{"the ARC switch on any routing control", templates[0], "iam", func(tpl *template.Template) bool {
		for _, st := range functionStatements(tpl, "FailoverFunction") {
			f, _ := st["Fn::If"].([]any)
			if len(f) == 3 {
				arc := f[1].(map[string]any)
				arc["Resource"] = "*"
				return true
			}
		}
		return false
	}},
	{"the paired site drains its own queue only", templates[1], "zone-pair", func(tpl *template.Template) bool {
		changed := false
		for _, id := range tpl.IDs("AWS::ECS::TaskDefinition") {
			for _, c := range template.Maps(tpl.Resource(id).Properties["ContainerDefinitions"]) {
				var keep []any
				for _, e := range list(c["Environment"]) {
					if strings.Contains(strings.Join(strs(e), " "), "PAIR_QUEUE_URL") {
						changed = true
						continue
					}
					keep = append(keep, e)
				}
				c["Environment"] = keep
			}
		}
		return changed
	}},
	{"the paired site may write erasure records in the pair table", templates[1], "erasure-records", func(tpl *template.Template) bool {
		for _, st := range roleStatements(tpl, "ProcessorTaskRole") {
			if st["Sid"] == "OrderStatusAndErasures" {
				st["Condition"] = map[string]any{"Fn::If": []any{"HasZonePair", map[string]any{}, st["Condition"]}}
				return true
			}
		}
		return false
	}},
	{"the unpaired site refers to the partner's queue", templates[1], "zone-pair", func(tpl *template.Template) bool {
		for _, st := range roleStatements(tpl, "ProcessorTaskRole") {
			if st["Sid"] == "DrainOrdersQueue" {
				st["Resource"] = []any{st["Resource"], map[string]any{"Ref": "ZonePairQueueArn"}}
				return true
			}
		}
		return false
	}},
}

// functionStatements returns a SAM function's inline policy statements.
func functionStatements(tpl *template.Template, fn string) []map[string]any {
	r := tpl.Resource(fn)
	if r == nil {
		return nil
	}
	var out []map[string]any
	for _, p := range list(r.Properties["Policies"]) {
		m, _ := p.(map[string]any)
		for _, st := range list(m["Statement"]) {
			if s, ok := st.(map[string]any); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// roleStatements returns an IAM role's inline policy statements.
func roleStatements(tpl *template.Template, role string) []map[string]any {
	r := tpl.Resource(role)
	if r == nil {
		return nil
	}
	var out []map[string]any
	for _, p := range list(r.Properties["Policies"]) {
		m, _ := p.(map[string]any)
		doc, _ := m["PolicyDocument"].(map[string]any)
		for _, st := range list(doc["Statement"]) {
			if s, ok := st.(map[string]any); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func TestZonePairMutations(t *testing.T) {
	for _, m := range zonePairMutations {
		t.Run(m.name, func(t *testing.T) {
			tpl, err := template.Load(m.path)
			if err != nil {
				t.Fatal(err)
			}
			if !m.mutate(tpl) {
				t.Fatalf("%s has nothing to mutate for %q", m.path, m.name)
			}
			for _, f := range Check(tpl) {
				if f.Check == m.wantCheck {
					return
				}
			}
			t.Errorf("breaking %q produced no %s finding", m.name, m.wantCheck)
		})
	}
}

// TestResolvePairDNS: the partner's API name is served exactly in the
// variants that say so, and not in a pair without the names.
func TestResolvePairDNS(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"PairApiCustomDomain", "PairApiCustomDomainMapping", "PairApiFailoverRecord"}
	for _, v := range PairVariants {
		rt := Resolve(tpl, v.Params)
		for _, id := range ids {
			if got := rt.Resource(id) != nil; got != v.ServesPartnerName {
				t.Errorf("%s: %s exists: %v, want %v", v.Name, id, got, v.ServesPartnerName)
			}
		}
		if v.ServesPartnerName {
			if fs := pairDNS(rt); len(fs) > 0 {
				t.Errorf("%s: pairDNS = %v", v.Name, fs)
			}
		}
	}
	noNames := withParams(PairVariants[1].Params, nil)
	for _, p := range PairDNSParameters {
		delete(noNames, p)
	}
	rt := Resolve(tpl, noNames)
	for _, id := range ids {
		if rt.Resource(id) != nil {
			t.Errorf("paired without the partner's API name: %s exists", id)
		}
	}
	if rt.Resource("PairHttpApi") == nil {
		t.Error("paired without the partner's API name: no PairHttpApi")
	}
}

// pairDNSMutations break the DNS of a pair in the real regional template;
// each must raise a zone-pair finding.
var pairDNSMutations = []struct {
	name   string
	mutate func(tpl *template.Template) bool
}{
	{"the partner's name is mapped to OrdersHttpApi", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiCustomDomainMapping", "ApiId", map[string]any{"Ref": "OrdersHttpApi"})
	}},
	{"PairHttpApi is mapped to this region's own name", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiCustomDomainMapping", "DomainName", map[string]any{"Ref": "ApiCustomDomain"})
	}},
	{"the partner's name is mapped to OrdersHttpApi's stage", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiCustomDomainMapping", "Stage", map[string]any{"Ref": "OrdersHttpApiApiGatewayDefaultStage"})
	}},
	{"the partner's name is not mapped at all", func(tpl *template.Template) bool {
		return remove(tpl, "PairApiCustomDomainMapping")
	}},
	{"no custom domain for the partner's name", func(tpl *template.Template) bool {
		return remove(tpl, "PairApiCustomDomain")
	}},
	{"the partner's custom domain has this region's own certificate", func(tpl *template.Template) bool {
		r := tpl.Resource("PairApiCustomDomain")
		if r == nil {
			return false
		}
		template.Maps(r.Properties["DomainNameConfigurations"])[0]["CertificateArn"] = map[string]any{"Ref": "ApiCertificateArn"}
		return true
	}},
	{"no record for the partner's name", func(tpl *template.Template) bool {
		return remove(tpl, "PairApiFailoverRecord")
	}},
	{"the partner's name gets a second PRIMARY", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiFailoverRecord", "Failover", "PRIMARY")
	}},
	{"the partner's name follows FailoverRecordRole", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiFailoverRecord", "Failover", map[string]any{"Ref": "FailoverRecordRole"})
	}},
	{"the SECONDARY record is in this region's hosted zone", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiFailoverRecord", "HostedZoneId", map[string]any{"Ref": "ApiHostedZoneId"})
	}},
	{"the SECONDARY record aliases this region's own custom domain", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiFailoverRecord", "AliasTarget", map[string]any{
			"DNSName":              map[string]any{"Fn::GetAtt": []any{"ApiCustomDomain", "RegionalDomainName"}},
			"HostedZoneId":         map[string]any{"Fn::GetAtt": []any{"ApiCustomDomain", "RegionalHostedZoneId"}},
			"EvaluateTargetHealth": false})
	}},
	{"the SECONDARY record's SetIdentifier is the PRIMARY's", func(tpl *template.Template) bool {
		return setProp(tpl, "PairApiFailoverRecord", "SetIdentifier", map[string]any{"Ref": "AWS::Region"})
	}},
	{"the partner's name is served without a pair", func(tpl *template.Template) bool {
		c, ok := tpl.Conditions["HasZonePairApiDomain"].(map[string]any)
		if !ok {
			return false
		}
		and, _ := c["Fn::And"].([]any)
		if len(and) < 2 {
			return false
		}
		c["Fn::And"] = and[1:] // drop HasZonePair
		return true
	}},
	{"the partner's name is served in every pair", func(tpl *template.Template) bool {
		if _, ok := tpl.Conditions["HasZonePairApiDomain"]; !ok {
			return false
		}
		tpl.Conditions["HasZonePairApiDomain"] = map[string]any{"Condition": "HasZonePair"}
		return true
	}},
	{"a paired region may be SECONDARY for its own name", func(tpl *template.Template) bool {
		return deleteRule(tpl, "ZonePairRegionsArePrimary")
	}},
	{"the partner's name may be set without a pair or in part", func(tpl *template.Template) bool {
		return deleteRule(tpl, "ZonePairApiDomainIsComplete")
	}},
	{"the partner's name may be this region's own", func(tpl *template.Template) bool {
		r, _ := tpl.Rules["ZonePairApiDomainIsComplete"].(map[string]any)
		as := list(r["Assertions"])
		if len(as) != 3 {
			return false
		}
		r["Assertions"] = as[:2]
		return true
	}},
}

func setProp(tpl *template.Template, id, key string, v any) bool {
	r := tpl.Resource(id)
	if r == nil {
		return false
	}
	r.Properties[key] = v
	return true
}

func remove(tpl *template.Template, id string) bool {
	if tpl.Resource(id) == nil {
		return false
	}
	tpl.Remove(id)
	return true
}

func deleteRule(tpl *template.Template, name string) bool {
	if _, ok := tpl.Rules[name]; !ok {
		return false
	}
	delete(tpl.Rules, name)
	return true
}

func TestPairDNSMutations(t *testing.T) {
	for _, m := range pairDNSMutations {
		t.Run(m.name, func(t *testing.T) {
			tpl, err := template.Load(templates[0])
			if err != nil {
				t.Fatal(err)
			}
			if !m.mutate(tpl) {
				t.Fatalf("%s has nothing to mutate for %q", templates[0], m.name)
			}
			for _, f := range Check(tpl) {
				if f.Check == "zone-pair" {
					t.Logf("found: %s", f)
					return
				}
			}
			t.Errorf("breaking %q produced no zone-pair finding", m.name)
		})
	}
}
