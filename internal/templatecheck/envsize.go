package templatecheck

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// LambdaEnvLimit is Lambda's limit on a function's environment variables
// together (names and values): 4 KB. A function over it fails to deploy.
const LambdaEnvLimit = 4096

// intrinsicSize is the size assumed for a value the template only knows at
// deploy time (a queue URL, an ARN, a generated name, a pseudo parameter):
// generous, the longest the stacks produce is about 110 characters.
const intrinsicSize = 128

// CheckFunctionEnvSize finds functions whose environment (SAM's Globals
// variables and their own) would exceed LambdaEnvLimit with realistic values:
// a parameter counts for the longest value it admits (its Default, MaxLength,
// AllowedValues or the repetition count closing its AllowedPattern, as
// SitePublicKey's 1622 characters), anything else resolved at deploy time
// for intrinsicSize.
func CheckFunctionEnvSize(t *template.Template) []Finding {
	var fs []Finding
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::Lambda::Function"} {
		for _, id := range t.IDs(typ) {
			if n := EnvSize(t, id); n > LambdaEnvLimit {
				fs = append(fs, Finding{Check: "lambda-env-size", Resource: id,
					Message: fmt.Sprintf("its environment variables take about %d bytes with realistic values, over Lambda's %d-byte limit for all of them together", n, LambdaEnvLimit)})
			}
		}
	}
	return fs
}

// EnvSize is the size of function id's environment variables (names and
// values, Globals' included) with realistic values (see
// CheckFunctionEnvSize).
func EnvSize(t *template.Template, id string) int {
	vars := map[string]any{}
	if g, ok := t.Globals["Function"].(map[string]any); ok && t.Resource(id).Type == "AWS::Serverless::Function" {
		for k, v := range envVariables(g) {
			vars[k] = v
		}
	}
	for k, v := range envVariables(t.Resource(id).Properties) {
		vars[k] = v // a function's own value replaces the global one
	}
	n := 0
	for k, v := range vars {
		n += len(k) + valueSize(t, v)
	}
	return n
}

func envVariables(props map[string]any) map[string]any {
	env, _ := props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

// valueSize is the realistic size of an environment variable's value.
func valueSize(t *template.Template, v any) int {
	if s, err := template.ScalarString(v); err == nil {
		return len(s)
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return intrinsicSize
	}
	for fn, arg := range m {
		switch fn {
		case "Ref":
			name, _ := arg.(string)
			return refSize(t, name)
		case "Fn::If":
			if l, ok := arg.([]any); ok && len(l) == 3 {
				return max(valueSize(t, l[1]), valueSize(t, l[2]))
			}
		case "Fn::Sub":
			s, _ := arg.(string)
			if l, ok := arg.([]any); ok && len(l) > 0 {
				s, _ = l[0].(string) // variables of the map count as intrinsics
			}
			n := len(s)
			for _, name := range template.SubVariables(s) {
				n += refSize(t, name) - len("${"+name+"}")
			}
			return max(n, 0)
		case "Fn::Join":
			if l, ok := arg.([]any); ok && len(l) == 2 {
				sep, _ := l[0].(string)
				parts, _ := l[1].([]any)
				n := 0
				for i, p := range parts {
					if i > 0 {
						n += len(sep)
					}
					n += valueSize(t, p)
				}
				return n
			}
		}
	}
	return intrinsicSize
}

// refSize is the realistic size of a reference to name: a parameter's
// longest admitted value, else intrinsicSize.
func refSize(t *template.Template, name string) int {
	p, ok := t.Parameters[name]
	if !ok {
		return intrinsicSize
	}
	n := -1
	if p.Default != nil {
		n = len(*p.Default)
	}
	if m, ok := template.Int(p.Properties["MaxLength"]); ok {
		n = max(n, m)
	}
	for _, s := range template.Strings(p.Properties["AllowedValues"]) {
		n = max(n, len(s))
	}
	if pat, _ := p.Properties["AllowedPattern"].(string); pat != "" {
		if m := closingRepeat.FindStringSubmatch(pat); m != nil {
			k, _ := strconv.Atoi(m[len(m)-1])
			if k > 0 {
				n = max(n, k)
			}
		}
	}
	if n < 0 || strings.HasPrefix(p.Type, "List<") || p.Type == "CommaDelimitedList" {
		n = max(n, intrinsicSize)
	}
	return n
}

// closingRepeat matches an AllowedPattern ending in a repetition count,
// {n} or {m,n}, before its $ ("^[A-Za-z0-9_-]{1622}$"): n is the longest
// value it admits when the repeated class is the whole value.
var closingRepeat = regexp.MustCompile(`^\^\[[^\]]*\]\{(?:\d+,)?(\d+)\}\$$`)
