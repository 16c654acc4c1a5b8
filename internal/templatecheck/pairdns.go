package templatecheck

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/homeregion/homeregion/internal/template"
)

// PairDNSParameters name the partner's API name as this stack serves it:
// the partner stack's ApiDomainName and ApiHostedZoneId, and a certificate
// for that name in this region. A stack serves the name only in a pair
// with all three set.
var PairDNSParameters = []string{"ZonePairApiDomainName", "ZonePairApiHostedZoneId", "ZonePairApiCertificateArn"}

// pairDNSParams are values of PairDNSParameters and of this region's own
// API name for the variants that serve the partner's name.
func pairDNSParams(own, partner string) map[string]string {
	return map[string]string{
		"ApiDomainName": own, "ApiHostedZoneId": "Z0123456789ABC",
		"ApiCertificateArn":     "arn:aws:acm:eu-west-1:111122223333:certificate/11111111-2222-3333-4444-555555555555",
		"ZonePairApiDomainName": partner, "ZonePairApiHostedZoneId": "Z0123456789ABC",
		"ZonePairApiCertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/66666666-2222-3333-4444-555555555555",
	}
}

// withParams returns base with over's values over it (a new map).
func withParams(base, over map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, over)
	return out
}

// The resources of the partner's API name.
const (
	pairDomainType  = "AWS::ApiGatewayV2::DomainName"
	pairMappingType = "AWS::ApiGatewayV2::ApiMapping"
	recordSetType   = "AWS::Route53::RecordSet"
)

// isGetAtt reports whether v is Fn::GetAtt [id, attr].
func isGetAtt(v any, id, attr string) bool {
	m, _ := v.(map[string]any)
	g, _ := m["Fn::GetAtt"].([]any)
	return len(m) == 1 && len(g) == 2 && g[0] == id && g[1] == attr
}

// pairDNS checks a paired, resolved template whose variant serves the
// partner's API name: one custom domain for ZonePairApiDomainName with
// ZonePairApiCertificateArn, mapped to PairHttpApi's stage and nothing
// else; one failover record of that name in ZonePairApiHostedZoneId,
// SECONDARY, aliased to that domain, with a SetIdentifier no other record
// of the template uses (the partner's PRIMARY of the name carries its
// region); and PairHttpApi mapped to no other domain.
func pairDNS(t *template.Template) []Finding {
	if t.Resource(ordersAPIFnID) == nil {
		return nil
	}
	var fs []Finding
	bad := func(id, msg string) { fs = append(fs, Finding{"zone-pair", id, msg}) }
	var domains []string
	for _, id := range t.IDs(pairDomainType) {
		if refersTo(t.Resource(id).Properties["DomainName"], "ZonePairApiDomainName") {
			domains = append(domains, id)
		}
	}
	if len(domains) != 1 {
		return []Finding{{"zone-pair", "ZonePairApiDomainName", fmt.Sprintf("paired with the partner's API name set, %d %s resources are named ZonePairApiDomainName, want one (the name's SECONDARY must reach PairHttpApi)", len(domains), pairDomainType)}}
	}
	domain := domains[0]
	cfgs := template.Maps(t.Resource(domain).Properties["DomainNameConfigurations"])
	if len(cfgs) != 1 || !refersTo(cfgs[0]["CertificateArn"], "ZonePairApiCertificateArn") || cfgs[0]["EndpointType"] != "REGIONAL" {
		bad(domain, "must be one REGIONAL configuration with ZonePairApiCertificateArn (a certificate for the partner's name in this region)")
	}

	stages := map[string]bool{}
	for _, id := range t.IDs("AWS::ApiGatewayV2::Stage") {
		if refersTo(t.Resource(id).Properties["ApiId"], pairHTTPAPIID) {
			stages[id] = true
		}
	}
	mapped := 0
	for _, id := range t.IDs(pairMappingType) {
		p := t.Resource(id).Properties
		toPartnerName := refersTo(p["DomainName"], domain)
		toPairAPI := refersTo(p["ApiId"], pairHTTPAPIID)
		switch {
		case toPartnerName && !toPairAPI:
			bad(id, fmt.Sprintf("maps the partner's API name to %v, want %s (the only API here that takes the partner's tokens)", p["ApiId"], pairHTTPAPIID))
		case toPairAPI && !toPartnerName:
			bad(id, fmt.Sprintf("maps %s to %v, want only the partner's API name (%s)", pairHTTPAPIID, p["DomainName"], domain))
		case toPartnerName:
			mapped++
			stage := false
			for s := range stages {
				stage = stage || refersTo(p["Stage"], s)
			}
			if !stage {
				bad(id, fmt.Sprintf("stage %v is not a stage of %s", p["Stage"], pairHTTPAPIID))
			}
		}
	}
	if mapped == 0 {
		bad(domain, "no "+pairMappingType+" maps it to "+pairHTTPAPIID)
	}

	var records []string
	for _, id := range t.IDs(recordSetType) {
		if refersTo(t.Resource(id).Properties["Name"], "ZonePairApiDomainName") {
			records = append(records, id)
		}
	}
	if len(records) != 1 {
		bad("ZonePairApiDomainName", fmt.Sprintf("%d %s resources are named ZonePairApiDomainName, want one SECONDARY", len(records), recordSetType))
		return fs
	}
	id := records[0]
	p := t.Resource(id).Properties
	if p["Failover"] != "SECONDARY" {
		bad(id, fmt.Sprintf("Failover is %v, want SECONDARY (the partner's stack holds the PRIMARY of its own name)", p["Failover"]))
	}
	if !refersTo(p["HostedZoneId"], "ZonePairApiHostedZoneId") {
		bad(id, fmt.Sprintf("HostedZoneId is %v, want a !Ref to ZonePairApiHostedZoneId (the hosted zone of the partner's PRIMARY record)", p["HostedZoneId"]))
	}
	alias, _ := p["AliasTarget"].(map[string]any)
	if !isGetAtt(alias["DNSName"], domain, "RegionalDomainName") || !isGetAtt(alias["HostedZoneId"], domain, "RegionalHostedZoneId") {
		bad(id, fmt.Sprintf("AliasTarget is %v, want %s's RegionalDomainName and RegionalHostedZoneId", p["AliasTarget"], domain))
	}
	if p["SetIdentifier"] == nil {
		bad(id, "has no SetIdentifier (a failover record needs one)")
	}
	for _, other := range t.IDs(recordSetType) {
		if other != id && reflect.DeepEqual(t.Resource(other).Properties["SetIdentifier"], p["SetIdentifier"]) {
			bad(id, fmt.Sprintf("SetIdentifier %v is also %s's: the partner's PRIMARY of this name carries the same one", p["SetIdentifier"], other))
		}
	}
	return fs
}

// pairDNSConditions checks the raw template: its partner-name resources
// exist only in a pair with all of PairDNSParameters set (paired is a
// paired variant's parameters), and its Rules refuse what would break the
// pair's DNS: a paired region that is not PRIMARY for its own name, the
// partner's name without a pair, and the parameters set in part.
func pairDNSConditions(t *template.Template, paired map[string]string) []Finding {
	if _, ok := t.Parameters[PairDNSParameters[0]]; !ok {
		return nil
	}
	var fs []Finding
	names := pairDNSParams("api-w.example.com", "api-c.example.com")
	unpairedNames := withParams(names, map[string]string{ZonePairParameter: "none"})
	served := func(name string, params map[string]string) {
		for _, r := range Resolve(t, params).Resources {
			for _, p := range PairDNSParameters {
				if mentions(r.Properties, p) {
					fs = append(fs, Finding{"zone-pair", r.LogicalID, fmt.Sprintf("refers to %s %s (its Condition must need a pair and all of %v)", p, name, PairDNSParameters)})
				}
			}
		}
	}
	served("without a pair", withParams(paired, unpairedNames))
	for _, p := range PairDNSParameters {
		served("with "+p+" empty", withParams(paired, withParams(names, map[string]string{p: ""})))
	}

	// refused reports whether changing over on base adds a refusal.
	refused := func(base, over map[string]string) bool {
		before, err1 := RuleFailures(t, base)
		after, err2 := RuleFailures(t, withParams(base, over))
		if err1 != nil || err2 != nil {
			return true // CheckRules reports it
		}
		for _, d := range after {
			if !slices.Contains(before, d) {
				return true
			}
		}
		return false
	}
	rule := func(what string, base, over map[string]string) {
		if !refused(base, over) {
			fs = append(fs, Finding{"zone-pair", "Rules", "no Rule refuses " + what})
		}
	}
	rule("FailoverRecordRole SECONDARY in a pair (each region of a pair is PRIMARY for its own ApiDomainName)",
		withParams(paired, names), map[string]string{"FailoverRecordRole": "SECONDARY"})
	noNames := map[string]string{ZonePairParameter: "none"}
	for _, p := range PairDNSParameters {
		noNames[p] = ""
	}
	rule("ZonePairApiDomainName without a pair", withParams(paired, noNames), names)
	for _, p := range PairDNSParameters {
		rule(p+" empty while the partner's API name is set", withParams(paired, names), map[string]string{p: ""})
	}
	rule("ZonePairApiDomainName equal to this region's ApiDomainName", withParams(paired, names),
		map[string]string{"ZonePairApiDomainName": names["ApiDomainName"]})
	return fs
}
