package templatecheck

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

// samEnvs parses the deploy sections of a samconfig.toml: config env ->
// parameter_overrides as name -> value. Only the subset of TOML samconfig.toml
// uses ([env.deploy.parameters] tables of key = "string" pairs) is read.
func samEnvs(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	envs := map[string]map[string]string{}
	section := regexp.MustCompile(`^\[([A-Za-z0-9_-]+)\.deploy\.parameters\]$`)
	env := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			env = ""
			if m := section.FindStringSubmatch(line); m != nil && m[1] != "default" {
				env = m[1]
				envs[env] = map[string]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if env == "" || !ok || strings.TrimSpace(k) != "parameter_overrides" {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSpace(v))
		if err != nil {
			t.Fatalf("%s: [%s] parameter_overrides: %v", path, env, err)
		}
		for _, kv := range strings.Fields(s) {
			name, val, _ := strings.Cut(kv, "=")
			envs[env][name] = strings.Trim(val, `"'`)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return envs
}

// fakeKeyARN matches the documentation-style ARNs that pass the template's
// pattern but name no real key: the example accounts AWS documents and key
// ids of one repeated digit.
func fakeKeyARN(arn string) bool {
	if regexp.MustCompile(`:(123456789012|111122223333|000000000000):`).MatchString(arn) {
		return true
	}
	_, id, ok := strings.Cut(arn, "key/mrk-")
	return ok && id != "" && strings.Count(id, id[:1]) == len(id)
}

// TestSamconfigPiiPrimaryKeyIsNotAPlausibleFake: every non-registry
// environment must either carry a real PII key ARN or a placeholder the
// template's AllowedPattern rejects, so that `sam deploy --config-env <env>`
// fails at once instead of trying to replicate a key that does not exist.
func TestSamconfigPiiPrimaryKeyIsNotAPlausibleFake(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	pat, _ := tpl.Parameters["PiiPrimaryKeyArn"].Properties["AllowedPattern"].(string)
	if pat == "" {
		t.Fatal("template.yaml: PiiPrimaryKeyArn has no AllowedPattern")
	}
	allowed := regexp.MustCompile(pat)
	envs := samEnvs(t, "../../samconfig.toml")
	checked := 0
	for env, params := range envs {
		if params["RegistryRegion"] == env {
			continue
		}
		checked++
		arn, ok := params["PiiPrimaryKeyArn"]
		switch {
		case !ok:
			t.Errorf("samconfig.toml [%s]: no PiiPrimaryKeyArn (the default %q would deploy without the PII key replica)", env, "none")
		case !allowed.MatchString(arn):
			// A placeholder CloudFormation rejects: fails loudly.
		case arn == "none":
			t.Errorf("samconfig.toml [%s]: PiiPrimaryKeyArn=none outside the registry region", env)
		case fakeKeyARN(arn):
			t.Errorf("samconfig.toml [%s]: PiiPrimaryKeyArn %s passes the template's pattern but is an example ARN: deploy would try to replicate a key that does not exist", env, arn)
		}
	}
	if checked == 0 {
		t.Fatal("samconfig.toml: no non-registry environment found (parser broken?)")
	}
}

// TestSamconfigSetsSitePublicKey: SitePublicKey has no default, so every
// environment names it, with a real key or a placeholder the template's
// constraints reject (a deploy before the key is set fails at once).
func TestSamconfigSetsSitePublicKey(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tpl.Parameters["SitePublicKey"]
	if !ok || p.Default != nil {
		t.Fatal("template.yaml: SitePublicKey must exist without a default")
	}
	pat, _ := p.Properties["AllowedPattern"].(string)
	re, err := regexp.Compile(pat)
	minLen, _ := template.Int(p.Properties["MinLength"])
	maxLen, _ := template.Int(p.Properties["MaxLength"])
	admits := func(v string) bool { return re.MatchString(v) && len(v) >= minLen && len(v) <= maxLen }
	if pat == "" || err != nil || admits("SET-ME-processor-keygen-output") || !admits(strings.Repeat("A", sitePublicKeyLen)) || admits("a b") {
		t.Fatalf("SitePublicKey (pattern %q, length %d-%d) must admit a %d-character base64url key and nothing else (%v)", pat, minLen, maxLen, sitePublicKeyLen, err)
	}
	envs := samEnvs(t, "../../samconfig.toml")
	if len(envs) == 0 {
		t.Fatal("samconfig.toml has no environment")
	}
	for env, params := range envs {
		if v, ok := params["SitePublicKey"]; !ok || (!admits(v) && !strings.HasPrefix(v, "SET-ME-")) {
			t.Errorf("samconfig.toml [%s] sets SitePublicKey to neither a key nor a SET-ME- placeholder", env)
		}
	}
}
