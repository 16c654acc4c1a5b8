package templatecheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// ErasureFunctionID is the erasure worker's logical id.
const ErasureFunctionID = "ErasureFunction"

// ErasureGrants is everything the erasure worker may do: each action with
// the only resources it may name (ErasureResource's classes). Nothing
// broader: the one pool, the orders table and its indexes, the registry
// table in the registry region only (never a local replica, where a delete
// would race the global table's replication), the PII key, and the orders
// queue (send) and its dead-letter queue (sweep).
var ErasureGrants = map[string][]string{
	"cognito-idp:ListUsers":        {"UserPool"},
	"cognito-idp:AdminDisableUser": {"UserPool"},
	"cognito-idp:AdminDeleteUser":  {"UserPool"},
	"dynamodb:GetItem":             {"OrdersTable", "Registry@" + RegistryRegion},
	"dynamodb:PutItem":             {"OrdersTable"},
	"dynamodb:UpdateItem":          {"OrdersTable"},
	"dynamodb:DeleteItem":          {"OrdersTable", "Registry@" + RegistryRegion},
	"dynamodb:Query":               {"OrdersTable"},
	"kms:GenerateMac":              {"PiiKey"},
	"sqs:SendMessage":              {"OrdersQueue"},
	"sqs:ReceiveMessage":           {"OrdersDeadLetterQueue"},
	"sqs:DeleteMessage":            {"OrdersDeadLetterQueue"},
	"sqs:ChangeMessageVisibility":  {"OrdersDeadLetterQueue"},
}

// PairedErasureGrants is ErasureGrants in a zone pair: the pair table in
// this region (its indexes included) instead of OrdersTable, and the
// partner's dead-letter queue swept too (ZonePairDeadLetterQueueArn).
func PairedErasureGrants() map[string][]string {
	out := map[string][]string{}
	for a, rs := range ErasureGrants {
		for _, r := range rs {
			if r == "OrdersTable" {
				r = "PairTable"
			}
			out[a] = append(out[a], r)
			if r == "OrdersDeadLetterQueue" {
				out[a] = append(out[a], "PairDeadLetterQueue")
			}
		}
	}
	return out
}

// erasureResource classifies a policy statement's resource for
// CheckErasureGrants: a logical id it names, "Registry@<region>" for
// the registry table's ARN in a region, "PairTable" for the pair table (or
// its indexes) in this region, "PairDeadLetterQueue" for the partner's DLQ.
func erasureResource(res any) string {
	if refersTo(res, "ZonePairDeadLetterQueueArn") {
		return "PairDeadLetterQueue"
	}
	if s := subTemplate(res); strings.Contains(s, ":dynamodb:"+LocalRegion+":") &&
		(strings.HasSuffix(s, ":table/${PairTableName}") || strings.HasSuffix(s, ":table/${PairTableName}/index/*")) {
		return "PairTable"
	}
	for _, id := range []string{"UserPool", "OrdersTable", "OrdersDeadLetterQueue", "OrdersQueue", "PiiKey", "PiiReplicaKey"} {
		if refersTo(res, id) || mentions(res, id) {
			if id == "PiiReplicaKey" {
				return "PiiKey"
			}
			return id
		}
	}
	if m, ok := res.(map[string]any); ok && m["Fn::If"] != nil {
		// !If [IsRegistryRegion, PiiKey.Arn, PiiReplicaKey.Arn]
		if mentions(res, "PiiKey") && mentions(res, "PiiReplicaKey") {
			return "PiiKey"
		}
	}
	for _, s := range strs(res) {
		if strings.Contains(s, ":table/${RegistryTableName}") {
			for _, region := range []string{LocalRegion, RegistryRegion} {
				if strings.Contains(s, ":dynamodb:"+region+":") {
					return "Registry@" + region
				}
			}
		}
	}
	return fmt.Sprint(res)
}

// CheckErasureGrants requires the erasure worker, where the template has
// one, to be granted exactly ErasureGrants (PairedErasureGrants when its
// ORDERS_TABLE is the pair table): every action, each only on its
// resources.
func CheckErasureGrants(t *template.Template) []Finding {
	r := t.Resource(ErasureFunctionID)
	if r == nil {
		return nil
	}
	want := ErasureGrants
	if refersTo(envVariables(r.Properties)["ORDERS_TABLE"], "PairTableName") {
		want = PairedErasureGrants()
	}
	got := map[string][]string{}
	for _, pol := range list(r.Properties["Policies"]) {
		m, ok := pol.(map[string]any)
		if !ok {
			return []Finding{{"erasure-grants", ErasureFunctionID, fmt.Sprintf("policy %v is not an inline policy document", pol)}}
		}
		for _, st := range list(m["Statement"]) {
			s, _ := st.(map[string]any)
			for _, a := range strs(s["Action"]) {
				for _, res := range list(s["Resource"]) {
					got[a] = append(got[a], erasureResource(res))
				}
			}
		}
	}
	var fs []Finding
	for _, a := range sortedKeys(got) {
		if _, ok := want[a]; !ok {
			fs = append(fs, Finding{"erasure-grants", ErasureFunctionID, fmt.Sprintf("grants %s, which the worker does not need", a)})
		}
	}
	for _, a := range sortedKeys(want) {
		wa := slices.Sorted(slices.Values(want[a]))
		have := slices.Compact(slices.Sorted(slices.Values(got[a])))
		if !slices.Equal(have, wa) {
			fs = append(fs, Finding{"erasure-grants", ErasureFunctionID, fmt.Sprintf("grants %s on %v, want exactly %v", a, have, wa)})
		}
	}
	return fs
}

// CheckErasureRuns requires the erasure worker, where the template has one,
// to run its scheduled events at most once each: no asynchronous retry
// (EventInvokeConfig MaximumRetryAttempts 0) and no event older than a
// minute (MaximumEventAgeInSeconds 60), so no retried or delayed event runs
// beside the next scheduled run. Two runs at once could each hide
// dead-letter messages from the other's sweep.
func CheckErasureRuns(t *template.Template) []Finding {
	r := t.Resource(ErasureFunctionID)
	if r == nil {
		return nil
	}
	eic, _ := r.Properties["EventInvokeConfig"].(map[string]any)
	if fmt.Sprint(eic["MaximumRetryAttempts"]) != "0" || fmt.Sprint(eic["MaximumEventAgeInSeconds"]) != "60" {
		return []Finding{{"erasure-runs", ErasureFunctionID,
			"EventInvokeConfig must set MaximumRetryAttempts 0 and MaximumEventAgeInSeconds 60: a retried or delayed scheduled event would run beside the next run"}}
	}
	return nil
}

// dynamoWrites are the DynamoDB actions that can create or change an item.
var dynamoWrites = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
	"dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems"}

// CheckNoErasureRecordWrites requires every IAM role the template defines
// (onprem.yaml's site roles; the functions' grants are checked on their
// own) to write the orders table only under a dynamodb:LeadingKeys
// condition none of whose patterns can match an erasure record's key
// (ERASURE#…): whoever can write an erasure record can make the erasure
// worker delete that user. A site confirms in CONFIRM#… items instead.
func CheckNoErasureRecordWrites(t *template.Template) []Finding {
	var fs []Finding
	for _, r := range t.Resources {
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		for _, pol := range list(r.Properties["Policies"]) {
			doc, _ := pol.(map[string]any)["PolicyDocument"].(map[string]any)
			for _, st := range list(doc["Statement"]) {
				s, _ := st.(map[string]any)
				if s["Effect"] != "Allow" || !slices.ContainsFunc(strs(s["Action"]), func(a string) bool { return slices.Contains(dynamoWrites, a) }) {
					continue
				}
				cond, _ := s["Condition"].(map[string]any)
				like, _ := cond["ForAllValues:StringLike"].(map[string]any)
				keys := strs(like["dynamodb:LeadingKeys"])
				if len(keys) == 0 {
					fs = append(fs, Finding{"erasure-records", r.LogicalID, fmt.Sprintf("statement %v writes DynamoDB without a dynamodb:LeadingKeys condition", s["Sid"])})
					continue
				}
				for _, k := range keys {
					if matchesErasureKey(k) {
						fs = append(fs, Finding{"erasure-records", r.LogicalID, fmt.Sprintf("statement %v may write erasure records (leading key %q)", s["Sid"], k)})
					}
				}
			}
		}
	}
	return fs
}

// matchesErasureKey reports whether StringLike pattern p can match a key
// beginning "ERASURE#": the pattern's literal prefix (up to its first * or
// ?) and "ERASURE#" are prefixes one of the other.
func matchesErasureKey(p string) bool {
	const key = "ERASURE#"
	lit := p
	if i := strings.IndexAny(p, "*?"); i >= 0 {
		lit = p[:i]
	} else {
		return strings.HasPrefix(p, key)
	}
	return strings.HasPrefix(lit, key) || strings.HasPrefix(key, lit)
}
