package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/registry"
)

func signUp(source string, attrs map[string]string) events.CognitoEventUserPoolsPreSignup {
	ev := events.CognitoEventUserPoolsPreSignup{}
	ev.TriggerSource = source
	ev.Region = "eu-central-1"
	ev.UserPoolID = testPool
	ev.Request.UserAttributes = attrs
	return ev
}

func attrs(email, region, country string) map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{AttrEmail: email, AttrRegion: region, AttrCountry: country} {
		if v != "-" {
			m[k] = v
		}
	}
	return m
}

func TestPreSignUp(t *testing.T) {
	ok := attrs(" Jane.Doe@Example.com ", "eu-central-1", "DE")
	tests := []struct {
		name     string
		ev       events.CognitoEventUserPoolsPreSignup
		find     func(context.Context, string) (registry.Record, bool, error)
		keys     Keyer
		wantErr  string // substring of the user-facing error; "" = allowed
		wantFind bool
	}{
		{name: "sign-up: e-mail unknown", ev: signUp(SourceSignUp, ok), find: notFound, wantFind: true},
		{name: "admin create user: e-mail unknown", ev: signUp(SourceAdminCreateUser, ok), find: notFound, wantFind: true},
		{name: "external provider: e-mail unknown", ev: signUp(SourceExternalProvider, ok), find: notFound, wantFind: true},
		{name: "e-mail already claimed here: allowed", ev: signUp(SourceSignUp, ok), find: found("eu-central-1"), wantFind: true},
		{name: "EEA country in eu", ev: signUp(SourceSignUp, attrs("a@b.no", "eu-central-1", "NO")), find: notFound, wantFind: true},
		{name: "registered in another region: refused naming it", ev: signUp(SourceSignUp, ok), find: found("eu-west-1"), wantErr: "already registered in eu-west-1", wantFind: true},
		{name: "admin create of a user registered elsewhere", ev: signUp(SourceAdminCreateUser, ok), find: found("eu-west-3"), wantErr: "eu-west-3", wantFind: true},
		{name: "missing e-mail", ev: signUp(SourceSignUp, attrs("-", "eu-central-1", "DE")), wantErr: "An e-mail address is required"},
		{name: "empty e-mail", ev: signUp(SourceSignUp, attrs("", "eu-central-1", "DE")), wantErr: "An e-mail address is required"},
		{name: "blank e-mail", ev: signUp(SourceSignUp, attrs("   ", "eu-central-1", "DE")), wantErr: "An e-mail address is required"},
		{name: "malformed e-mail", ev: signUp(SourceSignUp, attrs("not-an-address", "eu-central-1", "DE")), wantErr: "The e-mail address is not valid"},
		{name: "external provider without e-mail", ev: signUp(SourceExternalProvider, attrs("-", "eu-central-1", "DE")), wantErr: "e-mail address is required"},
		{name: "missing custom:region", ev: signUp(SourceSignUp, attrs("a@b.de", "-", "DE")), wantErr: "custom:region is required: set it to eu-central-1"},
		{name: "external provider without custom:region", ev: signUp(SourceExternalProvider, attrs("a@b.de", "-", "DE")), wantErr: "custom:region is required"},
		{name: "custom:region of another pool", ev: signUp(SourceSignUp, attrs("a@b.de", "eu-west-1", "DE")), wantErr: "This is region eu-central-1, not eu-west-1. Sign up in eu-west-1"},
		{name: "custom:region garbage is not echoed", ev: signUp(SourceSignUp, attrs("a@b.de", "<script>", "DE")), wantErr: "custom:region must be eu-central-1 to sign up here"},
		{name: "missing custom:country", ev: signUp(SourceSignUp, attrs("a@b.de", "eu-central-1", "-")), wantErr: "custom:country is required"},
		{name: "lower-case country", ev: signUp(SourceSignUp, attrs("a@b.de", "eu-central-1", "de")), wantErr: "custom:country must be an ISO 3166 alpha-2 code"},
		{name: "alpha-3 country", ev: signUp(SourceSignUp, attrs("a@b.de", "eu-central-1", "DEU")), wantErr: "ISO 3166 alpha-2"},
		{name: "unassigned country", ev: signUp(SourceSignUp, attrs("a@b.de", "eu-central-1", "XX")), wantErr: "ISO 3166 alpha-2"},
		{name: "country in no zone", ev: signUp(SourceSignUp, attrs("a@b.uk", "eu-central-1", "GB")), wantErr: "not available for country GB"},
		{name: "country of another zone names its region", ev: signUp(SourceSignUp, attrs("a@b.us", "eu-central-1", "US")), wantErr: "served in us-east-1. Sign up in us-east-1"},
		{name: "gulf country in eu names me-central-1", ev: signUp(SourceSignUp, attrs("a@b.ae", "eu-central-1", "AE")), wantErr: "served in me-central-1"},
		{name: "registry error: temporarily unavailable", ev: signUp(SourceSignUp, ok), find: func(context.Context, string) (registry.Record, bool, error) {
			return registry.Record{}, false, errors.New("lookup in eu-west-1: ProvisionedThroughputExceeded")
		}, wantErr: SignUpUnavailable, wantFind: true},
		{name: "registry never answers: deny within the budget", ev: signUp(SourceSignUp, ok), find: func(ctx context.Context, _ string) (registry.Record, bool, error) {
			return hang[registry.Record](ctx)
		}, wantErr: SignUpUnavailable, wantFind: true},
		{name: "KMS failure: temporarily unavailable", ev: signUp(SourceSignUp, ok), keys: fakeKeys{key: func(context.Context, string) (string, error) {
			return "", errors.New("derive identity key: kms GenerateMac: AccessDeniedException")
		}}, wantErr: SignUpUnavailable},
		{name: "unknown trigger source", ev: signUp("PreSignUp_Whatever", ok), wantErr: `invalid PreSignUp event: unsupported triggerSource "PreSignUp_Whatever"`},
		{name: "missing trigger source", ev: signUp("", ok), wantErr: "invalid PreSignUp event: missing triggerSource"},
		{name: "missing userAttributes", ev: signUp(SourceSignUp, nil), wantErr: "invalid PreSignUp event: missing request.userAttributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &fakeRegistry{t: t, find: tt.find}
			keys := tt.keys
			if keys == nil {
				keys = realKeys(t)
			}
			want, _ := realKeys(t).Key(context.Background(), "jane.doe@example.com")
			if tt.find != nil {
				inner := tt.find
				reg.find = func(ctx context.Context, key string) (registry.Record, bool, error) {
					if strings.Contains(key, "@") || (tt.ev.Request.UserAttributes[AttrEmail] == ok[AttrEmail] && key != want) {
						t.Errorf("lookup key %q is not the normalized e-mail's identity key", key)
					}
					return inner(ctx, key)
				}
			}
			h := mustPreSignUp("eu-central-1", policy(t), keys, reg, logging.Discard(), 50*time.Millisecond)
			in := tt.ev
			in.Response.AutoConfirmUser, in.Response.AutoVerifyEmail, in.Response.AutoVerifyPhone = true, true, true
			out, err := h.Handle(context.Background(), in)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Handle: %v, want allowed", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Handle error = %v, want %q", err, tt.wantErr)
			}
			if out.Response.AutoConfirmUser || out.Response.AutoVerifyEmail || out.Response.AutoVerifyPhone {
				t.Errorf("response %+v auto-confirms or auto-verifies", out.Response)
			}
			if reg.claims != 0 {
				t.Errorf("PreSignUp claimed %d times: it must write nothing", reg.claims)
			}
			if (reg.finds > 0) != tt.wantFind {
				t.Errorf("lookups = %d, want lookup %v", reg.finds, tt.wantFind)
			}
			if err != nil && strings.Contains(strings.ToLower(err.Error()), "example.com") {
				t.Errorf("user-facing error %q contains the e-mail", err)
			}
		})
	}
}

// TestNewRefusesBadWiring: each constructor refuses a missing dependency or
// a region outside the policy, so no handler exists to fail an invocation.
func TestNewRefusesBadWiring(t *testing.T) {
	reg := &fakeRegistry{t: t}
	tests := []struct {
		name   string
		region string
		d      Deps
		want   string
	}{
		{"no policy", "eu-central-1", Deps{Keys: realKeys(t), Registry: reg}, "no residency policy"},
		{"no keys", "eu-central-1", Deps{Policy: policy(t), Registry: reg}, "no identity keys"},
		{"no registry", "eu-central-1", Deps{Policy: policy(t), Keys: realKeys(t)}, "no registry"},
		{"region outside the policy", "eu-west-2", Deps{Policy: policy(t), Keys: realKeys(t), Registry: reg}, `region "eu-west-2" is in no residency zone`},
		{"region in no zone", "ap-south-1", Deps{Policy: policy(t), Keys: realKeys(t), Registry: reg}, "ap-south-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Region: tt.region}
			for name, err := range map[string]error{
				"presignup":        errOf(NewPreSignUp(c, tt.d, nil)),
				"preauth":          errOf(NewPreAuth(c, tt.d, nil)),
				"postconfirmation": errOf(NewPostConfirmation(c, tt.d, nil)),
			} {
				if err == nil || !strings.HasPrefix(err.Error(), name+": ") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("New for %s = %v, want an error naming it and %q", name, err, tt.want)
				}
			}
		})
	}
}

func errOf[T any](_ T, err error) error { return err }

// TestPreSignUpJSON drives the handler through lambda.NewHandler, the path
// the runtime and the local stack use.
func TestPreSignUpJSON(t *testing.T) {
	sample, err := os.ReadFile("../../events/presignup-signup.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, payload, wantErr string
	}{
		{"sample event", string(sample), ""},
		{"empty payload", ``, "invalid PreSignUp event: empty payload"},
		{"blank payload", " \n", "invalid PreSignUp event: empty payload"},
		{"empty object", `{}`, "invalid PreSignUp event: missing triggerSource"},
		{"null", `null`, "invalid PreSignUp event: missing triggerSource"},
		{"array", `[1,2]`, "invalid PreSignUp event: want a JSON object"},
		{"string", `"x"`, "invalid PreSignUp event: want a JSON object"},
		{"missing request", `{"triggerSource":"PreSignUp_SignUp"}`, "invalid PreSignUp event: missing request.userAttributes"},
		{"request of the wrong type", `{"triggerSource":"PreSignUp_SignUp","request":"x"}`, "invalid PreSignUp event: request must be an object, not a JSON string"},
		{"trigger source of the wrong type", `{"triggerSource":5}`, "invalid PreSignUp event: triggerSource must be a string, not a JSON number"},
		{"attribute of the wrong type", `{"triggerSource":"PreSignUp_SignUp","request":{"userAttributes":{"email":1}}}`, "request.userAttributes must be a string, not a JSON number"},
		{"truncated", `{"triggerSource":"PreSignUp_SignUp","request":{`, "invalid PreSignUp event: malformed JSON at byte 47: unexpected end of JSON input"},
		{"syntax error", `{"triggerSource":}`, "invalid PreSignUp event: malformed JSON at byte"},
	}
	for _, tt := range tests {
		for _, form := range []struct {
			name    string
			handler func(*PreSignUp) lambda.Handler
			exact   bool
		}{
			{"handler", func(h *PreSignUp) lambda.Handler { return lambda.NewHandler(h) }, true},
			{"func", func(h *PreSignUp) lambda.Handler { return lambda.NewHandler(h.Handle) }, false},
		} {
			t.Run(form.name+"/"+tt.name, func(t *testing.T) {
				reg := &fakeRegistry{t: t, find: notFound}
				h := mustPreSignUp("eu-central-1", policy(t), realKeys(t), reg, logging.Discard(), 0)
				out, err := form.handler(h).Invoke(context.Background(), []byte(tt.payload))
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("Invoke: %v", err)
					}
					if !bytes.Contains(out, []byte(`"autoConfirmUser":false`)) || reg.finds != 1 || reg.claims != 0 {
						t.Errorf("response %s, lookups %d, claims %d", out, reg.finds, reg.claims)
					}
					return
				}
				if err == nil {
					t.Fatalf("Invoke accepted %q", tt.payload)
				}
				// aws-lambda-go's own decoding (the func form) has its own
				// wording for JSON errors; the handler form is ours.
				if form.exact && !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Invoke error = %v, want %q", err, tt.wantErr)
				}
				if reg.claims+reg.finds != 0 {
					t.Error("a malformed event reached the registry")
				}
			})
		}
	}
}

// TestPreSignUpLogsNoEmail captures the log of every outcome and checks the
// e-mail appears nowhere, in any case.
func TestPreSignUpLogsNoEmail(t *testing.T) {
	const email = "Secret.Person@Private-Domain.example"
	var buf bytes.Buffer
	log := logging.New(&buf, "DEBUG")
	ev := signUp(SourceSignUp, attrs(email, "eu-central-1", "DE"))
	finds := []func(context.Context, string) (registry.Record, bool, error){
		notFound,
		found("eu-west-1"),
		func(context.Context, string) (registry.Record, bool, error) {
			return registry.Record{}, false, errors.New("lookup in eu-west-1: boom")
		},
	}
	for _, f := range finds {
		h := mustPreSignUp("eu-central-1", policy(t), realKeys(t), &fakeRegistry{t: t, find: f}, log, 0)
		h.Handle(context.Background(), ev)
	}
	bad := signUp(SourceSignUp, attrs(email, "eu-central-1", "US"))
	(mustPreSignUp("eu-central-1", policy(t), realKeys(t), &fakeRegistry{t: t}, log, 0)).Handle(context.Background(), bad)

	out := strings.ToLower(buf.String())
	if n := strings.Count(out, "\n"); n != 4 {
		t.Fatalf("want 4 log records, got %d:\n%s", n, out)
	}
	for _, s := range []string{strings.ToLower(email), "secret.person", "private-domain"} {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q:\n%s", s, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if dup := duplicateKey(t, line); dup != "" {
			t.Errorf("log record has key %q twice: %s", dup, line)
		}
	}
	for _, s := range []string{`"outcome":"allow"`, `"reason":"registered_elsewhere"`, `"outcome":"unavailable"`, `"reason":"country_other_zone"`, `"keyprefix"`} {
		if !strings.Contains(out, strings.ToLower(s)) {
			t.Errorf("log lacks %s:\n%s", s, out)
		}
	}
}

func BenchmarkPreSignUp(b *testing.B) {
	ks, _ := identity.FromSecret([]byte("0123456789abcdef0123456789abcdef"))
	p := policy(b)
	reg := &fakeRegistry{find: found("eu-central-1")}
	h := mustPreSignUp("eu-central-1", p, ks, reg, logging.New(discard{}, "INFO"), 0)
	ev := signUp(SourceSignUp, attrs(" Jane.Doe@Example.com", "eu-central-1", "DE"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// discard is an io.Writer that drops everything, so benchmarks pay for
// formatting the log record like production does.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// duplicateKey returns a top-level key that occurs twice in the JSON object
// line ("" when none): encoding/json would silently keep the last one.
func duplicateKey(t *testing.T, line string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log record is not a JSON object: %s", line)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return ""
}
