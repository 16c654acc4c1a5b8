package templatecheck

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// ZonePairParameter is the parameter that makes a stack one region of a
// zone pair (docs/zone-pairs.md); "none", its default, deploys no pair.
const ZonePairParameter = "ZonePairRegion"

// PairParameters are the parameters only a zone pair uses: an unpaired
// stack refers to none of them, so it is the stack it was before pairs.
var PairParameters = []string{ZonePairParameter, "ZonePairUserPoolId", "ZonePairAppClientId",
	"ZonePairDeadLetterQueueUrl", "ZonePairDeadLetterQueueArn", "ZonePairQueueUrl", "ZonePairQueueArn",
	"PairTableName", "PairTableRegion", "PairWitnessRegion",
	"ZonePairApiDomainName", "ZonePairApiHostedZoneId", "ZonePairApiCertificateArn"}

// PairVariant is one deployment of a template that CheckZonePair checks:
// the parameter values (AWS::Region included) its conditions are resolved
// with.
type PairVariant struct {
	Name   string
	Params map[string]string
	// Paired says the variant is one region of a pair; CreatesTable that it
	// is the region whose stack creates the pair table; ServesPartnerName
	// that it serves the partner's API name (PairDNSParameters set).
	Paired, CreatesTable, ServesPartnerName bool
}

// PairVariants are the deployments every template with ZonePairParameter
// is checked in: unpaired, and both regions of the pair eu-west-1 <->
// eu-central-1 (the table's region with the ARC switch, the partner with
// the health check), each a failover primary and each serving its own API
// name (api-w, api-c) and the partner's; pairDNSConditions checks the pair
// without API names.
var PairVariants = []PairVariant{
	{Name: "unpaired", Params: map[string]string{"AWS::Region": "eu-west-1", "RegistryRegion": "eu-west-1", "SecondaryRegion": "eu-central-1"}},
	{Name: "paired, table region", Paired: true, CreatesTable: true, ServesPartnerName: true, Params: withParams(map[string]string{"AWS::Region": "eu-west-1", "RegistryRegion": "eu-west-1",
		ZonePairParameter: "eu-central-1", "PairTableRegion": "eu-west-1", "PairWitnessRegion": "eu-west-3", "PairTableName": "orders-pair",
		"SecondaryRegion": "eu-central-1", "FailoverSwitch": "arc"}, pairDNSParams("api-w.example.com", "api-c.example.com"))},
	{Name: "paired, partner region", Paired: true, ServesPartnerName: true, Params: withParams(map[string]string{"AWS::Region": "eu-central-1", "RegistryRegion": "eu-west-1",
		ZonePairParameter: "eu-west-1", "PairTableRegion": "eu-west-1", "PairWitnessRegion": "eu-west-3", "PairTableName": "orders-pair",
		"SecondaryRegion": "eu-west-1"}, pairDNSParams("api-c.example.com", "api-w.example.com"))},
}

// Resolve returns t as deployed with params (unset parameters take their
// defaults; AWS::Region and the other pseudo parameters as given): the
// resources whose Condition is false are left out, every Fn::If whose
// condition can be evaluated is replaced by its branch, and AWS::NoValue is
// dropped. An Fn::If whose condition the rule evaluator cannot evaluate is
// kept as it is (so a check expecting a value there fails, never passes).
func Resolve(t *template.Template, params map[string]string) *template.Template {
	e := newRuleEval(t, params)
	out := *t
	out.Resources = nil
	for _, r := range t.Resources {
		if r.Condition != "" {
			on, err := e.boolean(map[string]any{"Condition": r.Condition})
			if err == nil && !on {
				continue
			}
		}
		c := *r
		c.Properties, _ = e.resolveLenient(r.Properties).(map[string]any)
		if c.Properties == nil {
			c.Properties = map[string]any{}
		}
		out.Resources = append(out.Resources, &c)
	}
	return &out
}

// noValue marks a resolved AWS::NoValue (dropped from maps and lists).
type noValue struct{}

func (e ruleEval) resolveLenient(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			if r := e.resolveLenient(el); r != (noValue{}) {
				out = append(out, r)
			}
		}
		return out
	case map[string]any:
		if len(x) == 1 && x["Ref"] == "AWS::NoValue" {
			return noValue{}
		}
		if f, ok := x["Fn::If"].([]any); ok && len(x) == 1 && len(f) == 3 {
			if b, err := e.boolean(map[string]any{"Condition": f[0]}); err == nil {
				if b {
					return e.resolveLenient(f[1])
				}
				return e.resolveLenient(f[2])
			}
		}
		out := make(map[string]any, len(x))
		for k, el := range x {
			if r := e.resolveLenient(el); r != (noValue{}) {
				out[k] = r
			}
		}
		return out
	}
	return v
}

// CheckZonePair checks a template with ZonePairParameter in each of
// PairVariants: the checks that cannot see through an Fn::If (IAM, the
// erasure worker's grants, the site roles' erasure records, Lambda
// permissions) on the resolved template, and the pair's wiring and least
// privilege:
//   - unpaired, nothing refers to a PairParameters parameter (the stack is
//     the one it was before pairs);
//   - paired, the orders API, the erasure worker and the processors use
//     the pair table as ORDERS_TABLE with PAIR_REGION the partner, the
//     triggers know the partner's pool, the erasure worker its DLQ, the
//     processors its queue;
//   - the pair table (created only in its region) is an MRSC global table
//     with a witness, replicas here and in the partner region, OrdersTable's
//     keys and indexes, encryption, deletion protection and point-in-time
//     recovery, and no TTL; nobody is granted a transaction, TTL change or
//     dynamodb:* on it (MRSC has neither);
//   - only the Cognito triggers may be invoked for the partner's pool, each
//     of them;
//   - the failover function may set only the switch FailoverSwitch names:
//     with arc the routing control (ARC's data plane), no Route 53
//     permission; otherwise the health check, no ARC permission;
//   - PairHttpApi takes the partner's tokens (multi-Region issuer, app
//     client) on OrdersHttpApi's routes to the orders API function, and
//     OrdersHttpApi moves to this pool's multi-Region issuer;
//   - the partner's API name (PairDNSParameters) is a custom domain mapped
//     to PairHttpApi with the name's SECONDARY failover record (pairDNS),
//     only in a pair with all of PairDNSParameters set, and the Rules keep
//     each region of a pair PRIMARY for its own name (pairDNSConditions).
func CheckZonePair(t *template.Template) []Finding {
	if _, ok := t.Parameters[ZonePairParameter]; !ok {
		return nil
	}
	generic := func(t *template.Template) []Finding {
		var fs []Finding
		fs = append(fs, CheckIAM(t)...)
		fs = append(fs, CheckErasureGrants(t)...)
		fs = append(fs, CheckNoErasureRecordWrites(t)...)
		fs = append(fs, CheckLambdaPermissions(t)...)
		return fs
	}
	raw := map[string]bool{}
	for _, f := range generic(t) {
		raw[f.String()] = true
	}
	var fs []Finding
	for _, v := range PairVariants {
		if v.ServesPartnerName && v.CreatesTable {
			fs = append(fs, pairDNSConditions(t, v.Params)...)
		}
		rt := Resolve(t, v.Params)
		var vfs []Finding
		for _, f := range generic(rt) {
			if !raw[f.String()] {
				vfs = append(vfs, f)
			}
		}
		vfs = append(vfs, failoverSwitch(rt, v.Params["FailoverSwitch"] == "arc")...)
		if v.Paired {
			vfs = append(vfs, pairedWiring(rt)...)
			vfs = append(vfs, pairTable(rt, v.CreatesTable)...)
			vfs = append(vfs, partnerPool(rt)...)
			vfs = append(vfs, pairHTTPAPI(rt)...)
			if v.ServesPartnerName {
				vfs = append(vfs, pairDNS(rt)...)
			}
		} else {
			vfs = append(vfs, unpaired(rt)...)
		}
		for _, f := range vfs {
			f.Message += " (" + v.Name + ")"
			fs = append(fs, f)
		}
	}
	return fs
}

// envOf returns the environment of a function, or of a task definition's
// containers.
func envOf(r *template.Resource) map[string]any {
	switch r.Type {
	case "AWS::Serverless::Function", "AWS::Lambda::Function":
		return envVariables(r.Properties)
	case "AWS::ECS::TaskDefinition":
		out := map[string]any{}
		for _, c := range template.Maps(r.Properties["ContainerDefinitions"]) {
			for _, kv := range template.Maps(c["Environment"]) {
				if n, ok := kv["Name"].(string); ok {
					out[n] = kv["Value"]
				}
			}
		}
		return out
	}
	return nil
}

// unpaired: nothing refers to a pair parameter, nothing has a PAIR_ variable.
func unpaired(t *template.Template) []Finding {
	var fs []Finding
	for _, r := range t.Resources {
		for _, p := range PairParameters {
			if mentions(r.Properties, p) {
				fs = append(fs, Finding{"zone-pair", r.LogicalID, "refers to " + p + " without a pair"})
			}
		}
		for k := range envOf(r) {
			if strings.HasPrefix(k, "PAIR_") {
				fs = append(fs, Finding{"zone-pair", r.LogicalID, "sets " + k + " without a pair"})
			}
		}
	}
	return fs
}

// pairedEnv is what a paired function or task must set: variable ->
// the parameter its value refers to.
var pairedEnv = map[string]map[string]string{
	"OrdersApiFunction": {"ORDERS_TABLE": "PairTableName", "PAIR_REGION": ZonePairParameter},
	ErasureFunctionID:   {"ORDERS_TABLE": "PairTableName", "PAIR_REGION": ZonePairParameter, "PAIR_DLQ_URL": "ZonePairDeadLetterQueueUrl"},
	// The processors (onprem.yaml).
	"PrimaryTaskDefinition": {"ORDERS_TABLE": "PairTableName", "PAIR_REGION": ZonePairParameter, "PAIR_QUEUE_URL": "ZonePairQueueUrl"},
	"StandbyTaskDefinition": {"ORDERS_TABLE": "PairTableName", "PAIR_REGION": ZonePairParameter, "PAIR_QUEUE_URL": "ZonePairQueueUrl"},
}

func init() {
	for fn := range TriggerGrants {
		pairedEnv[fn] = map[string]string{"PAIR_REGION": ZonePairParameter, "PAIR_USER_POOL_ID": "ZonePairUserPoolId"}
	}
}

func pairedWiring(t *template.Template) []Finding {
	var fs []Finding
	for _, id := range sortedKeys(pairedEnv) {
		r := t.Resource(id)
		if r == nil {
			continue
		}
		env := envOf(r)
		for _, k := range sortedKeys(pairedEnv[id]) {
			if p := pairedEnv[id][k]; !refersTo(env[k], p) {
				fs = append(fs, Finding{"zone-pair", id, fmt.Sprintf("paired, %s is %v, want a !Ref to %s", k, env[k], p)})
			}
		}
	}
	return fs
}

// PairTableForbidden are the DynamoDB actions nobody may be granted on the
// pair table: MRSC tables have no transactions and no TTL.
var PairTableForbidden = []string{"dynamodb:*", "dynamodb:ConditionCheckItem", "dynamodb:TransactWriteItems",
	"dynamodb:TransactGetItems", "dynamodb:UpdateTimeToLive"}

// statements returns every IAM policy statement of t (functions' and
// roles'), with the resource that holds it.
func statements(t *template.Template) (ids []string, sts []map[string]any) {
	for _, r := range t.Resources {
		var docs []any
		switch r.Type {
		case "AWS::Serverless::Function":
			docs = list(r.Properties["Policies"])
		case "AWS::IAM::Role":
			for _, p := range list(r.Properties["Policies"]) {
				m, _ := p.(map[string]any)
				docs = append(docs, m["PolicyDocument"])
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			docs = []any{r.Properties["PolicyDocument"]}
		}
		for _, d := range docs {
			m, _ := d.(map[string]any)
			for _, st := range list(m["Statement"]) {
				if s, ok := st.(map[string]any); ok {
					ids, sts = append(ids, r.LogicalID), append(sts, s)
				}
			}
		}
	}
	return ids, sts
}

func pairTable(t *template.Template, creates bool) []Finding {
	var fs []Finding
	ids, sts := statements(t)
	for i, s := range sts {
		if s["Effect"] != "Allow" || !mentions(s["Resource"], "PairTableName") {
			continue
		}
		for _, a := range strs(s["Action"]) {
			if slices.Contains(PairTableForbidden, a) {
				fs = append(fs, Finding{"zone-pair", ids[i], fmt.Sprintf("grants %s on the pair table (MRSC has no transactions and no TTL)", a)})
			}
		}
	}
	var tables []*template.Resource
	for _, r := range t.Resources {
		if (r.Type == "AWS::DynamoDB::GlobalTable" || r.Type == "AWS::DynamoDB::Table") && refersTo(r.Properties["TableName"], "PairTableName") {
			tables = append(tables, r)
		}
	}
	switch {
	case t.Resource("OrdersTable") == nil && len(tables) == 0:
		return fs // a template without the orders tables (onprem.yaml)
	case creates && len(tables) != 1:
		return append(fs, Finding{"zone-pair", "PairTableName", fmt.Sprintf("the pair table's region creates %d tables named PairTableName, want one", len(tables))})
	case !creates && len(tables) != 0:
		return append(fs, Finding{"zone-pair", tables[0].LogicalID, "the pair table is created outside PairTableRegion"})
	case !creates:
		return fs
	}
	r := tables[0]
	p := r.Properties
	bad := func(msg string) { fs = append(fs, Finding{"zone-pair", r.LogicalID, msg}) }
	if r.Type != "AWS::DynamoDB::GlobalTable" || p["MultiRegionConsistency"] != "STRONG" {
		bad("the pair table must be an AWS::DynamoDB::GlobalTable with MultiRegionConsistency STRONG (linearizable claims and idempotency across the pair)")
	}
	if _, ok := p["TimeToLiveSpecification"]; ok {
		bad("the pair table has a TimeToLiveSpecification: MRSC tables support no TTL")
	}
	w := template.Maps(p["GlobalTableWitnesses"])
	if len(w) != 1 || !refersTo(w[0]["Region"], "PairWitnessRegion") {
		bad("GlobalTableWitnesses must be [PairWitnessRegion]")
	}
	regions := map[string]bool{}
	for _, rep := range template.Maps(p["Replicas"]) {
		for _, want := range []string{"AWS::Region", ZonePairParameter} {
			if refersTo(rep["Region"], want) {
				regions[want] = true
			}
		}
		pitr, _ := rep["PointInTimeRecoverySpecification"].(map[string]any)
		if !isTrue(rep["DeletionProtectionEnabled"]) || !isTrue(pitr["PointInTimeRecoveryEnabled"]) {
			bad(fmt.Sprintf("replica %v lacks deletion protection or point-in-time recovery", rep["Region"]))
		}
	}
	if len(template.Maps(p["Replicas"])) != 2 || !regions["AWS::Region"] || !regions[ZonePairParameter] {
		bad("Replicas must be this region and ZonePairRegion, nothing else")
	}
	if orders := t.Resource("OrdersTable"); orders != nil {
		for _, k := range []string{"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"} {
			if !reflect.DeepEqual(p[k], orders.Properties[k]) {
				bad(k + " differs from OrdersTable's (the same code reads both)")
			}
		}
	}
	return fs
}

// partnerPool: only the triggers may be invoked for the partner's pool, and
// each may.
func partnerPool(t *template.Template) []Finding {
	var fs []Finding
	granted := map[string]bool{}
	for _, id := range t.IDs("AWS::Lambda::Permission") {
		p := t.Resource(id).Properties
		if !mentions(p["SourceArn"], "ZonePairUserPoolId") {
			continue
		}
		trigger := ""
		for fn := range TriggerGrants {
			if mentions(p["FunctionName"], fn) {
				trigger = fn
			}
		}
		if trigger == "" || p["Principal"] != "cognito-idp.amazonaws.com" {
			fs = append(fs, Finding{"zone-pair", id, "lets the partner's pool invoke something other than a Cognito trigger"})
			continue
		}
		granted[trigger] = true
	}
	for _, fn := range sortedKeys(TriggerGrants) {
		if t.Resource(fn) != nil && !granted[fn] {
			fs = append(fs, Finding{"zone-pair", fn, "paired, no AWS::Lambda::Permission lets the partner's pool (replicated here) invoke it"})
		}
	}
	return fs
}

// The orders API's HTTP APIs and function.
const (
	ordersHTTPAPIID = "OrdersHttpApi"
	pairHTTPAPIID   = "PairHttpApi"
	ordersAPIFnID   = "OrdersApiFunction"
)

func pairHTTPAPI(t *template.Template) []Finding {
	if t.Resource(ordersAPIFnID) == nil {
		return nil
	}
	var fs []Finding
	bad := func(id, msg string) { fs = append(fs, Finding{"zone-pair", id, msg}) }
	if t.Resource(pairHTTPAPIID) == nil {
		return []Finding{{"zone-pair", pairHTTPAPIID, "paired, there is no " + pairHTTPAPIID + " for the partner's users"}}
	}
	if api := t.Resource(ordersHTTPAPIID); api != nil {
		auth, _ := api.Properties["Auth"].(map[string]any)
		if !strings.Contains(fmt.Sprint(auth["Authorizers"]), "https://issuer-cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}") {
			bad(ordersHTTPAPIID, "paired, its JWT issuer must be this pool's multi-Region issuer (https://issuer-cognito-idp.${AWS::Region}.amazonaws.com/${UserPool})")
		}
	}
	authorizers := map[string]bool{}
	for _, id := range t.IDs("AWS::ApiGatewayV2::Authorizer") {
		p := t.Resource(id).Properties
		if !refersTo(p["ApiId"], pairHTTPAPIID) {
			continue
		}
		jc, _ := p["JwtConfiguration"].(map[string]any)
		aud := list(jc["Audience"])
		if p["AuthorizerType"] != "JWT" || subTemplate(jc["Issuer"]) != "https://issuer-cognito-idp.${ZonePairRegion}.amazonaws.com/${ZonePairUserPoolId}" ||
			len(aud) != 1 || !refersTo(aud[0], "ZonePairAppClientId") {
			bad(id, "must be a JWT authorizer for the partner's pool: issuer https://issuer-cognito-idp.${ZonePairRegion}.amazonaws.com/${ZonePairUserPoolId}, audience [ZonePairAppClientId]")
			continue
		}
		authorizers[id] = true
	}
	integrations := map[string]bool{}
	for _, id := range t.IDs("AWS::ApiGatewayV2::Integration") {
		p := t.Resource(id).Properties
		if refersTo(p["ApiId"], pairHTTPAPIID) {
			if !mentions(p["IntegrationUri"], ordersAPIFnID) {
				bad(id, "integrates something other than "+ordersAPIFnID)
				continue
			}
			integrations[id] = true
		}
	}
	var routes []string
	for _, id := range t.IDs("AWS::ApiGatewayV2::Route") {
		p := t.Resource(id).Properties
		if !refersTo(p["ApiId"], pairHTTPAPIID) {
			continue
		}
		key, _ := p["RouteKey"].(string)
		routes = append(routes, key)
		auth := false
		for a := range authorizers {
			auth = auth || refersTo(p["AuthorizerId"], a)
		}
		if p["AuthorizationType"] != "JWT" || !auth {
			bad(id, "route "+key+" is not behind the partner's JWT authorizer")
		}
		target := false
		for in := range integrations {
			target = target || mentions(p["Target"], in)
		}
		if !target {
			bad(id, "route "+key+" does not target the orders API function's integration")
		}
	}
	var want []string
	evs, _ := t.Resource(ordersAPIFnID).Properties["Events"].(map[string]any)
	for _, ev := range evs {
		e, _ := ev.(map[string]any)
		props, _ := e["Properties"].(map[string]any)
		if e["Type"] != "HttpApi" || !refersTo(props["ApiId"], ordersHTTPAPIID) {
			continue
		}
		method, _ := props["Method"].(string)
		path, _ := props["Path"].(string)
		if path == "$default" {
			want = append(want, path)
			continue
		}
		want = append(want, strings.ToUpper(method)+" "+path)
	}
	slices.Sort(routes)
	slices.Sort(want)
	if !slices.Equal(routes, want) {
		bad(pairHTTPAPIID, fmt.Sprintf("routes %v, want %s's %v", routes, ordersHTTPAPIID, want))
	}
	throttled := false
	for _, id := range t.IDs("AWS::ApiGatewayV2::Stage") {
		p := t.Resource(id).Properties
		drs, _ := p["DefaultRouteSettings"].(map[string]any)
		if refersTo(p["ApiId"], pairHTTPAPIID) && drs["ThrottlingRateLimit"] != nil && drs["ThrottlingBurstLimit"] != nil {
			throttled = true
		}
	}
	if !throttled {
		bad(pairHTTPAPIID, "no stage throttles it (DefaultRouteSettings ThrottlingRateLimit and ThrottlingBurstLimit)")
	}
	return fs
}

// The failover function's switch permissions.
var (
	route53Switch = []string{"route53:GetHealthCheck", "route53:UpdateHealthCheck"}
	arcSwitch     = []string{"route53-recovery-cluster:GetRoutingControlState", "route53-recovery-cluster:UpdateRoutingControlState"}
)

// failoverSwitch checks the failover function (the function whose ACTION
// is failover) against the switch of the variant.
func failoverSwitch(t *template.Template, arc bool) []Finding {
	var fs []Finding
	for _, id := range t.IDs("AWS::Serverless::Function") {
		r := t.Resource(id)
		env := envVariables(r.Properties)
		if env["ACTION"] != "failover" {
			continue
		}
		bad := func(msg string) { fs = append(fs, Finding{"zone-pair", id, msg}) }
		var acts []string
		for _, pol := range list(r.Properties["Policies"]) {
			m, _ := pol.(map[string]any)
			for _, st := range list(m["Statement"]) {
				s, _ := st.(map[string]any)
				a := strs(s["Action"])
				acts = append(acts, a...)
				if slices.Contains(a, arcSwitch[1]) {
					if !refersTo(s["Resource"], "ArcRoutingControlArn") {
						bad(fmt.Sprintf("sets routing controls on %v, want only ArcRoutingControlArn", s["Resource"]))
					}
				}
			}
		}
		unwanted, wanted := arcSwitch, route53Switch
		if arc {
			unwanted, wanted = route53Switch, arcSwitch
			if !refersTo(env["ROUTING_CONTROL_ARN"], "ArcRoutingControlArn") || !refersTo(env["ARC_ENDPOINTS"], "ArcClusterEndpoints") || env["HEALTH_CHECK_ID"] != nil {
				bad("FailoverSwitch arc: ROUTING_CONTROL_ARN and ARC_ENDPOINTS must come from ArcRoutingControlArn and ArcClusterEndpoints, and HEALTH_CHECK_ID be unset")
			}
		}
		for _, a := range unwanted {
			if slices.Contains(acts, a) {
				bad(fmt.Sprintf("may call %s, which its switch does not use", a))
			}
		}
		for _, a := range wanted {
			if !slices.Contains(acts, a) {
				bad(fmt.Sprintf("lacks %s, which its switch needs", a))
			}
		}
		if !refersTo(env["SWITCH"], "FailoverSwitch") {
			bad(fmt.Sprintf("SWITCH is %v, want a !Ref to FailoverSwitch", env["SWITCH"]))
		}
	}
	return fs
}
