package templatecheck

import (
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

// sitePublicKeyLen is the length of a SITE_PUBLIC_KEY: base64url without
// padding of an MLKEM768X25519 public key (1216 bytes).
const sitePublicKeyLen = 1622

// TestOrdersApiEnvFitsLambdaLimit: the orders API function's environment,
// the site public key at its real size included, stays under Lambda's
// 4 KB, and the estimate does count the key.
func TestOrdersApiEnvFitsLambdaLimit(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	fn := tpl.Resource("OrdersApiFunction")
	if fn == nil {
		t.Fatal("template.yaml has no OrdersApiFunction")
	}
	key := envVariables(fn.Properties)["SITE_PUBLIC_KEY"]
	if got := valueSize(tpl, key); got != sitePublicKeyLen {
		t.Fatalf("SITE_PUBLIC_KEY (%v) counts for %d bytes, want a real key's %d", key, got, sitePublicKeyLen)
	}
	n := EnvSize(tpl, "OrdersApiFunction")
	if n < sitePublicKeyLen+len("SITE_PUBLIC_KEY")+len("ORDERS_QUEUE_URL")+len("ORDERS_TABLE") || n > LambdaEnvLimit {
		t.Fatalf("OrdersApiFunction's environment is estimated at %d bytes, want the key's %d and under %d", n, sitePublicKeyLen, LambdaEnvLimit)
	}
	t.Logf("OrdersApiFunction environment: about %d of %d bytes", n, LambdaEnvLimit)
}

// TestFunctionEnvSizeMutations: what would push the orders API function over
// the limit is found.
func TestFunctionEnvSizeMutations(t *testing.T) {
	vars := func(tpl *template.Template) map[string]any {
		return envVariables(tpl.Resource("OrdersApiFunction").Properties)
	}
	mutations := []struct {
		name   string
		mutate func(tpl *template.Template)
	}{
		{"three keys published at once", func(tpl *template.Template) {
			vars(tpl)["SITE_PUBLIC_KEY_NEXT"] = map[string]any{"Ref": "SitePublicKey"}
			vars(tpl)["SITE_PUBLIC_KEY_OLD"] = map[string]any{"Ref": "SitePublicKey"}
		}},
		{"a 2.5 KB literal next to the key", func(tpl *template.Template) {
			vars(tpl)["EXTRA"] = strings.Repeat("x", 2500)
		}},
		{"a global variable from a long parameter", func(tpl *template.Template) {
			g := envVariables(tpl.Globals["Function"].(map[string]any))
			g["SITE_PUBLIC_KEY_COPY"] = map[string]any{"Fn::Sub": "${SitePublicKey},${SitePublicKey}"}
		}},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tpl, err := template.Load(templates[0])
			if err != nil {
				t.Fatal(err)
			}
			m.mutate(tpl)
			for _, f := range Check(tpl) {
				if f.Check == "lambda-env-size" && f.Resource == "OrdersApiFunction" {
					return
				}
			}
			t.Errorf("%s: no lambda-env-size finding for OrdersApiFunction", m.name)
		})
	}
}

func TestValueSize(t *testing.T) {
	tpl, err := template.Parse("t.yaml", []byte(`
Parameters:
  Key: {Type: String, AllowedPattern: "^[A-Za-z0-9_-]{1622}$"}
  Range: {Type: String, AllowedPattern: "^[a-z]{3,40}$"}
  Level: {Type: String, Default: INFO, AllowedValues: [DEBUG, INFO, WARN, ERROR]}
  Name: {Type: String, Default: abc, MaxLength: 64}
  Free: {Type: String}
Resources:
  Queue: {Type: AWS::SQS::Queue}
`))
	if err != nil {
		t.Fatal(err)
	}
	ref := func(n string) any { return map[string]any{"Ref": n} }
	tests := []struct {
		name string
		v    any
		want int
	}{
		{"literal", "eu-west-1", 9},
		{"number", 42, 2},
		{"fixed-length pattern", ref("Key"), 1622},
		{"ranged pattern", ref("Range"), 40},
		{"allowed values", ref("Level"), 5},
		{"max length", ref("Name"), 64},
		{"free parameter", ref("Free"), intrinsicSize},
		{"resource", ref("Queue"), intrinsicSize},
		{"get att", map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}, intrinsicSize},
		{"sub", map[string]any{"Fn::Sub": "k=${Key};q=${Queue}"}, len("k=;q=") + 1622 + intrinsicSize},
		{"if", map[string]any{"Fn::If": []any{"C", "short", ref("Key")}}, 1622},
		{"join", map[string]any{"Fn::Join": []any{",", []any{"ab", ref("Level")}}}, 2 + 1 + 5},
	}
	for _, tt := range tests {
		if got := valueSize(tpl, tt.v); got != tt.want {
			t.Errorf("%s: valueSize(%v) = %d, want %d", tt.name, tt.v, got, tt.want)
		}
	}
}
