package templatecheck

import (
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

// erasureStatements returns ErasureFunction's policy statements.
func erasureStatements(tpl *template.Template) []any {
	r := tpl.Resource(ErasureFunctionID)
	if r == nil {
		return nil
	}
	pols := list(r.Properties["Policies"])
	if len(pols) == 0 {
		return nil
	}
	m, _ := pols[0].(map[string]any)
	return list(m["Statement"])
}

// erasureMutations break the erasure worker's least privilege; each must
// raise an erasure-grants finding (TestMutationsOfTheRealTemplate).
var erasureMutations = []struct {
	name      string
	wantCheck string
	mutate    func(t *testing.T, tpl *template.Template) bool
}{
	{"the erasure worker deletes in the local registry replica", "erasure-grants", func(t *testing.T, tpl *template.Template) bool {
		r := tpl.Resource(ErasureFunctionID)
		if r == nil {
			return false
		}
		pols := list(r.Properties["Policies"])
		r.Properties["Policies"] = append(pols, map[string]any{"Statement": []any{map[string]any{
			"Effect": "Allow", "Action": "dynamodb:DeleteItem",
			"Resource": map[string]any{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${RegistryTableName}"},
		}}})
		return true
	}},
	{"the erasure worker may delete users of any pool", "erasure-grants", func(t *testing.T, tpl *template.Template) bool {
		for _, st := range erasureStatements(tpl) {
			s := st.(map[string]any)
			if s["Sid"] == "UserPool" {
				s["Resource"] = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*"}
				return true
			}
		}
		return false
	}},
	{"the erasure worker may receive from the orders queue", "erasure-grants", func(t *testing.T, tpl *template.Template) bool {
		for _, st := range erasureStatements(tpl) {
			s := st.(map[string]any)
			if s["Sid"] == "SiteMessages" {
				s["Action"] = []any{"sqs:SendMessage", "sqs:ReceiveMessage"}
				return true
			}
		}
		return false
	}},
	{"the erasure worker's scheduled events are retried", "erasure-runs", func(t *testing.T, tpl *template.Template) bool {
		r := tpl.Resource(ErasureFunctionID)
		if r == nil {
			return false
		}
		delete(r.Properties, "EventInvokeConfig")
		return true
	}},
	{"the erasure worker lacks AdminDisableUser", "erasure-grants", func(t *testing.T, tpl *template.Template) bool {
		for _, st := range erasureStatements(tpl) {
			s := st.(map[string]any)
			if s["Sid"] == "UserPool" {
				s["Action"] = []any{"cognito-idp:ListUsers", "cognito-idp:AdminDeleteUser"}
				return true
			}
		}
		return false
	}},
}

func TestErasureGrantsOfTheRealTemplate(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Resource(ErasureFunctionID) == nil {
		t.Fatal("template.yaml has no ErasureFunction")
	}
	for _, f := range CheckErasureGrants(tpl) {
		t.Error(f)
	}
}

// TestErasureRunsOfTheRealTemplate: the erasure worker's scheduled events
// are neither retried nor run late (CheckErasureRuns).
func TestErasureRunsOfTheRealTemplate(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Resource(ErasureFunctionID) == nil {
		t.Fatal("template.yaml has no ErasureFunction")
	}
	for _, f := range CheckErasureRuns(tpl) {
		t.Error(f)
	}
}
