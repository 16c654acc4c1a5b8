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

func confirmed(source string, attrs map[string]string) events.CognitoEventUserPoolsPostConfirmation {
	ev := events.CognitoEventUserPoolsPostConfirmation{}
	ev.TriggerSource = source
	ev.Region = "eu-central-1"
	ev.UserPoolID = testPool
	ev.Request.UserAttributes = attrs
	return ev
}

func TestPostConfirmation(t *testing.T) {
	user := func(kv ...string) map[string]string {
		m := map[string]string{AttrEmail: " Jane.Doe@Example.com", AttrEmailVerified: "true", AttrRegion: "eu-central-1", AttrCountry: "DE", "cognito:user_status": "CONFIRMED"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name       string
		ev         events.CognitoEventUserPoolsPostConfirmation
		claim      func(context.Context, string, string) (registry.Record, bool, error)
		wantErr    string // substring of the user-facing error; "" = success
		wantClaims int
	}{
		{name: "confirmed with a code: claimed here", ev: confirmed(SourceConfirmSignUp, user()), claim: claimHere(true), wantClaims: 1},
		{name: "repeated at home: succeeds", ev: confirmed(SourceConfirmSignUp, user()), claim: claimHere(false), wantClaims: 1},
		{name: "federated user, provider verified the address", ev: confirmed(SourceConfirmSignUp, user("cognito:user_status", "EXTERNAL_PROVIDER")), claim: claimHere(true), wantClaims: 1},
		{name: "another region won: error naming it", ev: confirmed(SourceConfirmSignUp, user()), claim: claimAs("us-east-1", false), wantErr: "already belongs to an account in us-east-1", wantClaims: 1},
		{name: "admin-confirmed, unverified: nothing claimed", ev: confirmed(SourceConfirmSignUp, user(AttrEmailVerified, "false")), wantErr: UnverifiedEmail},
		{name: "no email_verified attribute: nothing claimed", ev: confirmed(SourceConfirmSignUp, user(AttrEmailVerified, "-")), wantErr: UnverifiedEmail},
		{name: "federated user, provider did not verify: nothing claimed", ev: confirmed(SourceConfirmSignUp, user("cognito:user_status", "EXTERNAL_PROVIDER", AttrEmailVerified, "false")), wantErr: UnverifiedEmail},
		{name: "password reset: nothing read or claimed", ev: confirmed(SourceConfirmForgotPassword, user())},
		{name: "password reset of an unverified user: nothing claimed", ev: confirmed(SourceConfirmForgotPassword, user(AttrEmailVerified, "false"))},
		{name: "missing e-mail", ev: confirmed(SourceConfirmSignUp, user(AttrEmail, "-")), wantErr: "no e-mail address"},
		{name: "malformed e-mail", ev: confirmed(SourceConfirmSignUp, user(AttrEmail, "nope")), wantErr: "The e-mail address is not valid"},
		{name: "dotted capital I cannot be normalised safely", ev: confirmed(SourceConfirmSignUp, user(AttrEmail, "İx@example.com")), wantErr: "cannot be used"},
		{name: "Kelvin sign cannot be normalised safely", ev: confirmed(SourceConfirmSignUp, user(AttrEmail, "\u212Aate@example.com")), wantErr: "cannot be used"},
		{name: "registry error: temporarily unavailable, user told to sign in", ev: confirmed(SourceConfirmSignUp, user()), claim: func(context.Context, string, string) (registry.Record, bool, error) {
			return registry.Record{}, false, errors.New("claim in eu-west-1: ProvisionedThroughputExceeded")
		}, wantErr: ConfirmUnavailable, wantClaims: 1},
		{name: "registry never answers: error within the budget", ev: confirmed(SourceConfirmSignUp, user()), claim: func(ctx context.Context, _, _ string) (registry.Record, bool, error) {
			return hang[registry.Record](ctx)
		}, wantErr: ConfirmUnavailable, wantClaims: 1},
		{name: "unknown trigger source", ev: confirmed("PostConfirmation_Whatever", user()), wantErr: `invalid PostConfirmation event: unsupported triggerSource "PostConfirmation_Whatever"`},
		{name: "missing trigger source", ev: confirmed("", user()), wantErr: "invalid PostConfirmation event: missing triggerSource"},
		{name: "missing userAttributes", ev: confirmed(SourceConfirmSignUp, nil), wantErr: "invalid PostConfirmation event: missing request.userAttributes"},
	}
	want, _ := realKeys(t).Key(context.Background(), "jane.doe@example.com")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &fakeRegistry{t: t}
			if tt.claim != nil {
				reg.claim = func(ctx context.Context, key, region string) (registry.Record, bool, error) {
					if region != "eu-central-1" {
						t.Errorf("claimed %s, want this pool's region", region)
					}
					if key != want {
						t.Errorf("claim key %q is not the normalized e-mail's identity key", key)
					}
					return tt.claim(ctx, key, region)
				}
			}
			var buf bytes.Buffer
			h := mustPostConfirmation("eu-central-1", policy(t), realKeys(t), reg, logging.New(&buf, "DEBUG"), 50*time.Millisecond)
			start := time.Now()
			_, err := h.Handle(context.Background(), tt.ev)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Handle: %v, want success", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Handle error = %v, want %q", err, tt.wantErr)
			}
			if reg.claims != tt.wantClaims {
				t.Errorf("claims = %d, want %d", reg.claims, tt.wantClaims)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("answered after %s with a 50 ms budget", d)
			}
			low := strings.ToLower(buf.String() + "\n" + errString(err))
			if strings.Contains(low, "jane") || strings.Contains(low, "example.com") {
				t.Errorf("log or message contains the e-mail:\n%s", low)
			}
			if n := strings.Count(buf.String(), "\n"); n != 1 {
				t.Errorf("want one log record per invocation, got %d:\n%s", n, buf.String())
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestPostConfirmationJSON drives the handler through lambda.NewHandler with
// the events/ samples (those for sam local invoke) and malformed payloads.
func TestPostConfirmationJSON(t *testing.T) {
	sample := func(name string) string {
		b, err := os.ReadFile("../../events/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, payload string
		wantErr       string
		wantClaims    int
	}{
		{"sample: confirm sign-up", sample("postconfirmation-confirm-signup.json"), "", 1},
		{"sample: federated first sign-in", sample("postconfirmation-external-provider.json"), "", 1},
		{"sample: admin confirm, unverified", sample("postconfirmation-admin-confirm-unverified.json"), UnverifiedEmail, 0},
		{"sample: forgot password", sample("postconfirmation-forgot-password.json"), "", 0},
		{"empty payload", ``, "invalid PostConfirmation event: empty payload", 0},
		{"empty object", `{}`, "invalid PostConfirmation event: missing triggerSource", 0},
		{"array", `[]`, "invalid PostConfirmation event: want a JSON object", 0},
		{"request of the wrong type", `{"triggerSource":"PostConfirmation_ConfirmSignUp","request":1}`, "request must be an object, not a JSON number", 0},
		{"email_verified as a JSON boolean", `{"triggerSource":"PostConfirmation_ConfirmSignUp","request":{"userAttributes":{"email":"a@b.co","email_verified":true}}}`, "request.userAttributes must be a string, not a JSON bool", 0},
		{"truncated", `{"triggerSource":"PostConfirmation_ConfirmSignUp","request":{`, "invalid PostConfirmation event: malformed JSON", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &fakeRegistry{t: t, claim: claimHere(true)}
			var buf bytes.Buffer
			h := mustPostConfirmation("eu-central-1", policy(t), realKeys(t), reg, logging.New(&buf, "INFO"), 0)
			out, err := lambda.NewHandler(h).Invoke(context.Background(), []byte(tt.payload))
			if reg.claims != tt.wantClaims {
				t.Errorf("claims = %d, want %d", reg.claims, tt.wantClaims)
			}
			// One log record per invocation, a payload that does not decode included.
			if n := strings.Count(buf.String(), "\n"); n != 1 {
				t.Errorf("want one log record, got %d:\n%s", n, buf.String())
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Invoke error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			// Cognito expects the event back.
			var back events.CognitoEventUserPoolsPostConfirmation
			if err := json.Unmarshal(out, &back); err != nil || back.TriggerSource == "" || back.Request.UserAttributes[AttrEmail] == "" {
				t.Errorf("response %s is not the event: %v", out, err)
			}
		})
	}
}

func BenchmarkPostConfirmation(b *testing.B) {
	ks, _ := identity.FromSecret([]byte("0123456789abcdef0123456789abcdef"))
	reg := &fakeRegistry{claim: claimHere(true)}
	h := mustPostConfirmation("eu-central-1", policy(b), ks, reg, logging.New(discard{}, "INFO"), 0)
	ev := confirmed(SourceConfirmSignUp, map[string]string{AttrEmail: "jane.doe@example.com", AttrEmailVerified: "true", AttrRegion: "eu-central-1", AttrCountry: "DE"})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPostConfirmationLogFindsTheAccount: the log line of an account that
// lost the race names its pool and sub (the user name to delete), never the
// e-mail address or the event's userName.
func TestPostConfirmationLogFindsTheAccount(t *testing.T) {
	ev := confirmed(SourceConfirmSignUp, map[string]string{AttrEmail: "jane@example.com", AttrEmailVerified: "true", "sub": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"})
	ev.UserPoolID = "eu-central-1_EXAMPLE"
	ev.UserName = "jane@example.com"
	var buf bytes.Buffer
	h := mustPostConfirmation("eu-central-1", policy(t), realKeys(t), &fakeRegistry{t: t, claim: claimAs("us-east-1", false)}, logging.New(&buf, "INFO"), 0)
	if _, err := h.Handle(context.Background(), ev); err == nil {
		t.Fatal("Handle succeeded, want registered_elsewhere")
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec["reason"] != "registered_elsewhere" || rec["userPoolId"] != "eu-central-1_EXAMPLE" || rec["sub"] != "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" {
		t.Errorf("log line %s does not name the reason, pool and sub", buf.String())
	}
	if strings.Contains(buf.String(), "jane") {
		t.Errorf("log line contains the e-mail: %s", buf.String())
	}
}
