package triggers

import (
	"bytes"
	"context"
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

func signIn(attrs map[string]string) events.CognitoEventUserPoolsPreAuthentication {
	ev := events.CognitoEventUserPoolsPreAuthentication{}
	ev.TriggerSource = SourceAuthentication
	ev.Region = "eu-central-1"
	ev.UserPoolID = testPool
	ev.Request.UserAttributes = attrs
	return ev
}

func TestPreAuth(t *testing.T) {
	user := map[string]string{AttrEmail: "Jane.Doe@Example.com ", AttrEmailVerified: "true", AttrRegion: "eu-central-1", AttrCountry: "DE"}
	unverified := map[string]string{AttrEmail: "Jane.Doe@Example.com", AttrRegion: "eu-central-1", AttrCountry: "DE"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range unverified {
			m[a] = b
		}
		m[k] = v
		return m
	}
	boom := func(context.Context, string) (registry.Record, bool, error) {
		return registry.Record{}, false, errors.New("lookup in eu-central-1: boom")
	}
	tests := []struct {
		name       string
		ev         events.CognitoEventUserPoolsPreAuthentication
		lookup     func(context.Context, string) (registry.Record, bool, error)
		claim      func(context.Context, string, string) (registry.Record, bool, error)
		wantErr    string
		wantClaims int
	}{
		{name: "home region: one local read", ev: signIn(user), lookup: found("eu-central-1")},
		{name: "other home region: refused naming it", ev: signIn(user), lookup: found("us-east-1"), wantErr: "home region is us-east-1. Sign in there"},
		{name: "replication lag: registry region says here", ev: signIn(user), lookup: notFound, claim: claimHere(false), wantClaims: 1},
		{name: "replication lag: registry region says elsewhere", ev: signIn(user), lookup: notFound, claim: claimAs("eu-west-1", false), wantErr: "home region is eu-west-1", wantClaims: 1},
		{name: "legacy user adopted here", ev: signIn(user), lookup: notFound, claim: claimHere(true), wantClaims: 1},
		{name: "legacy user without custom attributes adopted", ev: signIn(map[string]string{AttrEmail: "old@example.com", AttrEmailVerified: "true"}), lookup: notFound, claim: claimHere(true), wantClaims: 1},
		{name: "unverified, no claim: refused, nothing written", ev: signIn(unverified), lookup: notFound, wantErr: UnverifiedEmail},
		{name: "email_verified false: refused", ev: signIn(with(AttrEmailVerified, "false")), lookup: notFound, wantErr: UnverifiedEmail},
		{name: "email_verified True (not Cognito's spelling): refused", ev: signIn(with(AttrEmailVerified, "True")), lookup: notFound, wantErr: UnverifiedEmail},
		{name: "unverified with a claim here: allowed (claimed while verified)", ev: signIn(unverified), lookup: found("eu-central-1")},
		{name: "unverified with a claim elsewhere: refused naming it", ev: signIn(unverified), lookup: found("us-east-1"), wantErr: "home region is us-east-1"},
		{name: "user not found: nothing read or claimed", ev: func() events.CognitoEventUserPoolsPreAuthentication {
			e := signIn(nil)
			e.Request.UserNotFound = true
			return e
		}()},
		{name: "missing e-mail", ev: signIn(map[string]string{AttrRegion: "eu-central-1"}), wantErr: "no e-mail address"},
		{name: "malformed e-mail", ev: signIn(map[string]string{AttrEmail: "nope"}), wantErr: "The e-mail address is not valid"},
		{name: "lookup error: temporarily unavailable", ev: signIn(user), lookup: boom, wantErr: SignInUnavailable},
		{name: "claim error: temporarily unavailable", ev: signIn(user), lookup: notFound, claim: func(context.Context, string, string) (registry.Record, bool, error) {
			return registry.Record{}, false, errors.New("claim in eu-west-1: boom")
		}, wantErr: SignInUnavailable, wantClaims: 1},
		{name: "local replica never answers", ev: signIn(user), lookup: func(ctx context.Context, _ string) (registry.Record, bool, error) {
			return hang[registry.Record](ctx)
		}, wantErr: SignInUnavailable},
		{name: "registry region never answers", ev: signIn(user), lookup: notFound, claim: func(ctx context.Context, _, _ string) (registry.Record, bool, error) {
			return hang[registry.Record](ctx)
		}, wantErr: SignInUnavailable, wantClaims: 1},
		{name: "wrong trigger source", ev: func() events.CognitoEventUserPoolsPreAuthentication {
			e := signIn(user)
			e.TriggerSource = "PreSignUp_SignUp"
			return e
		}(), wantErr: `invalid PreAuthentication event: unsupported triggerSource "PreSignUp_SignUp"`},
		{name: "missing userAttributes", ev: signIn(nil), wantErr: "invalid PreAuthentication event: missing request.userAttributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &fakeRegistry{t: t, lookup: tt.lookup, claim: tt.claim}
			h := mustPreAuth("eu-central-1", policy(t), realKeys(t), reg, logging.Discard(), 50*time.Millisecond)
			_, err := h.Handle(context.Background(), tt.ev)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Handle: %v, want allowed", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Handle error = %v, want %q", err, tt.wantErr)
			}
			if reg.claims != tt.wantClaims {
				t.Errorf("claims = %d, want %d", reg.claims, tt.wantClaims)
			}
		})
	}
}

func TestPreAuthJSON(t *testing.T) {
	sample, err := os.ReadFile("../../events/preauth-authentication.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, payload, wantErr string
	}{
		{"sample event", string(sample), ""},
		{"empty payload", ``, "invalid PreAuthentication event: empty payload"},
		{"empty object", `{}`, "invalid PreAuthentication event: missing triggerSource"},
		{"missing request", `{"triggerSource":"PreAuthentication_Authentication"}`, "invalid PreAuthentication event: missing request.userAttributes"},
		{"request of the wrong type", `{"triggerSource":"PreAuthentication_Authentication","request":[]}`, "request must be an object, not a JSON array"},
		{"userNotFound of the wrong type", `{"triggerSource":"PreAuthentication_Authentication","request":{"userNotFound":"yes"}}`, "request.userNotFound must be a boolean, not a JSON string"},
		{"not JSON", `hello`, "invalid PreAuthentication event: want a JSON object"},
	}
	for _, tt := range tests {
		for _, form := range []struct {
			name    string
			handler func(*PreAuth) lambda.Handler
			exact   bool
		}{
			{"handler", func(h *PreAuth) lambda.Handler { return lambda.NewHandler(h) }, true},
			{"func", func(h *PreAuth) lambda.Handler { return lambda.NewHandler(h.Handle) }, false},
		} {
			t.Run(form.name+"/"+tt.name, func(t *testing.T) {
				reg := &fakeRegistry{t: t, lookup: found("eu-central-1")}
				h := mustPreAuth("eu-central-1", policy(t), realKeys(t), reg, logging.Discard(), 0)
				out, err := form.handler(h).Invoke(context.Background(), []byte(tt.payload))
				if tt.wantErr == "" {
					if err != nil || !bytes.Contains(out, []byte(`"triggerSource":"PreAuthentication_Authentication"`)) {
						t.Fatalf("Invoke = %s, %v", out, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("Invoke accepted %q", tt.payload)
				}
				if form.exact && !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Invoke error = %v, want %q", err, tt.wantErr)
				}
			})
		}
	}
}

func BenchmarkPreAuth(b *testing.B) {
	ks, _ := identity.FromSecret([]byte("0123456789abcdef0123456789abcdef"))
	reg := &fakeRegistry{lookup: found("eu-central-1")}
	h := mustPreAuth("eu-central-1", policy(b), ks, reg, logging.New(discard{}, "INFO"), 0)
	ev := signIn(map[string]string{AttrEmail: "jane.doe@example.com", AttrRegion: "eu-central-1", AttrCountry: "DE"})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
