package templatecheck

import (
	"strings"
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

// TestNoErasureRecordWrites: onprem.yaml's roles cannot write erasure
// records, and the check catches the grants that could.
func TestNoErasureRecordWrites(t *testing.T) {
	tpl, err := template.Load(templates[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range CheckNoErasureRecordWrites(tpl) {
		t.Error(f)
	}
	for _, tt := range []struct {
		pattern string
		want    bool
	}{
		{"ERASURE#*", true}, {"*", true}, {"E*", true}, {"ERASURE#abc", true}, {"ERA?URE#*", true},
		{"ORDER#*", false}, {"CONFIRM#*", false}, {"SITES", false}, {"ERASURES", false},
	} {
		if got := matchesErasureKey(tt.pattern); got != tt.want {
			t.Errorf("matchesErasureKey(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
	mutated := func(keys []string, drop bool) *template.Template {
		doc := `Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Sid: W
                Effect: Allow
                Action: dynamodb:UpdateItem
                Resource: arn:aws:dynamodb:eu-west-1:1:table/t
`
		if !drop {
			doc += "                Condition:\n                  ForAllValues:StringLike:\n                    dynamodb:LeadingKeys: [" + strings.Join(keys, ", ") + "]\n"
		}
		tpl, err := template.Parse("mutated.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return tpl
	}
	if fs := CheckNoErasureRecordWrites(mutated([]string{`"ORDER#*"`, `"CONFIRM#*"`}, false)); len(fs) != 0 {
		t.Errorf("a site's grant flagged: %v", fs)
	}
	for name, tpl := range map[string]*template.Template{
		"ERASURE# listed": mutated([]string{`"ORDER#*"`, `"ERASURE#*"`}, false),
		"no condition":    mutated(nil, true),
		"any key":         mutated([]string{`"*"`}, false),
	} {
		if fs := CheckNoErasureRecordWrites(tpl); len(fs) == 0 {
			t.Errorf("%s: not flagged", name)
		}
	}
}
