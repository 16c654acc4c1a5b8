// Package templatecheck checks the project's CloudFormation/SAM templates
// (template.yaml, onprem.yaml, arc.yaml) for the security properties the project
// claims: least-privilege IAM (no "*" action or resource outside a reviewed
// allow-list of actions that have no resource-level permissions), encryption
// at rest on every table and queue, immutable residency attributes that the
// app client cannot write after sign-up, and a dead-letter queue or failure
// destination on every asynchronously invoked function, parameterised log
// retention, explicit deletion policies on stateful resources, KMS grants
// limited to AWS services, hardened ECS containers, Cognito triggers
// granted exactly what each needs and invoked by the user pool only, Rules
// that evaluate and accept the defaults, on-prem sites whose SQLite
// database (one file on one server) never runs more than one processor, and
// zone pairs wired with least privilege, each region PRIMARY for its own
// API name and serving the partner's as SECONDARY through PairHttpApi: each
// template with ZonePairRegion is also checked as deployed unpaired and as
// both regions of a pair (Resolve, PairVariants), so what an Fn::If hides
// is checked too; and ARC routing controls that a safety rule keeps from
// being all Off.
//
// The templates are read with internal/template, the repository's one
// template reader. Its test runs the checks on the real templates and on
// broken variants that each check must catch.
package templatecheck

import (
	"slices"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// refersTo reports whether v is a Ref to id or a GetAtt on id.
func refersTo(v any, id string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if r, ok := m["Ref"].(string); ok {
		return r == id
	}
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) > 0 {
		return g[0] == id
	}
	return false
}

// mentions reports whether id is referenced anywhere inside v (Ref, GetAtt,
// or a ${id} / ${id.Attr} in a Sub).
func mentions(v any, id string) bool { return slices.Contains(template.Refs(v), id) }

// list returns v as a list: a single value becomes a one-element list.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// isTrue reports whether v is true or the string "true".
func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// isFalse reports whether v is false or the string "false".
func isFalse(v any) bool {
	switch x := v.(type) {
	case bool:
		return !x
	case string:
		return strings.EqualFold(x, "false")
	}
	return false
}
