package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/residency"
)

// fuzzRegistry answers every claim and lookup with home (empty: no claim
// found) or err, and counts the calls.
type fuzzRegistry struct {
	home            string
	err             error
	claims, lookups int
}

func (r *fuzzRegistry) Claim(_ context.Context, key, region string) (registry.Record, bool, error) {
	r.claims++
	if r.err != nil {
		return registry.Record{}, false, r.err
	}
	home := r.home
	if home == "" {
		home = region
	}
	return registry.Record{Key: key, HomeRegion: home}, home == region, nil
}

func (r *fuzzRegistry) Lookup(ctx context.Context, key string) (registry.Record, bool, error) {
	return r.LookupLocal(ctx, key)
}

func (r *fuzzRegistry) LookupLocal(_ context.Context, key string) (registry.Record, bool, error) {
	r.lookups++
	if r.err != nil {
		return registry.Record{}, false, r.err
	}
	if r.home == "" {
		return registry.Record{}, false, nil
	}
	return registry.Record{Key: key, HomeRegion: r.home}, true, nil
}

// fuzzHomes are the registry outcomes a fuzz input picks from.
var fuzzHomes = []string{"", "eu-west-1", "eu-central-1", "us-east-1"}

const fuzzRegion = "eu-west-1"

func fuzzDeps(t *testing.T, pick uint8) (*residency.Policy, *identity.Keys, *fuzzRegistry) {
	p, err := residency.Default()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := identity.FromSecret([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	reg := &fuzzRegistry{home: fuzzHomes[int(pick)%len(fuzzHomes)]}
	if pick >= 200 {
		reg.err = errors.New("registry unreachable")
	}
	return p, keys, reg
}

const preSignUpSeed = `{"version":"1","triggerSource":"PreSignUp_SignUp","region":"eu-west-1","userPoolId":"eu-west-1_x","userName":"3f1c","callerContext":{},"request":{"userAttributes":{"email":"Ada@Example.com","custom:region":"eu-west-1","custom:country":"DE"}},"response":{}}`

// FuzzPreSignUp drives PreSignUp through lambda.NewHandler (the runtime's
// JSON path) with any payload and any registry outcome: it never panics, it
// never claims, it allows a sign-up only when every residency rule holds and
// the registry holds no other region's claim, it never auto-confirms, and a
// refusal's message never contains the e-mail address.
func FuzzPreSignUp(f *testing.F) {
	for _, s := range []string{
		preSignUpSeed,
		strings.Replace(preSignUpSeed, `"DE"`, `"US"`, 1),
		strings.Replace(preSignUpSeed, `"custom:region":"eu-west-1"`, `"custom:region":"us-east-1"`, 1),
		strings.Replace(preSignUpSeed, `PreSignUp_SignUp`, `PreSignUp_AdminCreateUser`, 1),
		strings.Replace(preSignUpSeed, `PreSignUp_SignUp`, `Bogus`, 1),
		`{"triggerSource":"PreSignUp_SignUp","request":{"userAttributes":null}}`,
		`{"request":{"userAttributes":{"email":1}}}`,
		`{}`, `null`, ``, `[]`, `{"request":`,
	} {
		for _, pick := range []uint8{0, 1, 2, 200} {
			f.Add([]byte(s), pick)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, pick uint8) {
		p, keys, reg := fuzzDeps(t, pick)
		h := mustPreSignUp(fuzzRegion, p, keys, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), 0)
		out, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
		var ev events.CognitoEventUserPoolsPreSignup
		_ = json.Unmarshal(payload, &ev)
		email := ev.Request.UserAttributes[AttrEmail]
		if err != nil {
			// Only an address can leak: a short non-address such as "st-1"
			// is naturally part of a message naming eu-west-1.
			if strings.Contains(email, "@") && strings.Contains(err.Error(), email) {
				t.Fatalf("refusal %q contains the e-mail", err)
			}
			if reg.claims > 0 {
				t.Fatalf("a refused sign-up claimed %d times", reg.claims)
			}
			return
		}
		if problem := signUpProblem(p, ev.Request.UserAttributes, reg); problem != "" {
			t.Fatal(problem)
		}
		var resp events.CognitoEventUserPoolsPreSignup
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("response is not a PreSignUp event: %v", err)
		}
		if resp.Response.AutoConfirmUser || resp.Response.AutoVerifyEmail || resp.Response.AutoVerifyPhone {
			t.Fatalf("response auto-confirms or auto-verifies: %+v", resp.Response)
		}
	})
}

const preAuthSeed = `{"version":"1","triggerSource":"PreAuthentication_Authentication","region":"eu-west-1","userPoolId":"eu-west-1_x","userName":"3f1c","callerContext":{},"request":{"userAttributes":{"email":"ada@example.com","custom:region":"eu-west-1","custom:country":"DE"},"validationData":{},"userNotFound":false},"response":{}}`

// FuzzPreAuth drives PreAuth the same way: it never panics and allows a
// sign-in only when the registry says this region is the user's home (a
// claim found here, or adopted here by the one conditional claim), never when
// the registry is unreachable (fail closed).
func FuzzPreAuth(f *testing.F) {
	for _, s := range []string{
		preAuthSeed,
		strings.Replace(preAuthSeed, `"userNotFound":false`, `"userNotFound":true`, 1),
		strings.Replace(preAuthSeed, `"email":"ada@example.com",`, ``, 1),
		`{"triggerSource":"PreAuthentication_Authentication","request":{}}`,
		`{"request":{"userAttributes":[]}}`,
		`{}`, `null`, ``, `"x"`,
	} {
		for _, pick := range []uint8{0, 1, 3, 200} {
			f.Add([]byte(s), pick)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, pick uint8) {
		p, keys, reg := fuzzDeps(t, pick)
		h := mustPreAuth(fuzzRegion, p, keys, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), 0)
		_, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
		var ev events.CognitoEventUserPoolsPreAuthentication
		_ = json.Unmarshal(payload, &ev)
		if err != nil {
			if email := ev.Request.UserAttributes[AttrEmail]; strings.Contains(email, "@") && strings.Contains(err.Error(), email) {
				t.Fatalf("refusal %q contains the e-mail", err)
			}
			return
		}
		if ev.Request.UserNotFound {
			return // passed through unchanged; Cognito fails the sign-in itself
		}
		if problem := signInProblem(ev.Request.UserAttributes, reg); problem != "" {
			t.Fatal(problem)
		}
	})
}

const postConfirmationSeed = `{"version":"1","triggerSource":"PostConfirmation_ConfirmSignUp","region":"eu-west-1","userPoolId":"eu-west-1_x","userName":"3f1c","callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"abc"},"request":{"userAttributes":{"sub":"3f1c","cognito:user_status":"CONFIRMED","email_verified":"true","email":"ada@example.com","custom:region":"eu-west-1","custom:country":"DE"},"clientMetadata":{}},"response":{}}`

// FuzzPostConfirmation drives PostConfirmation the same way: it never
// panics, claims only a verified address and only for this region, claims at
// most once, reports success only when the claim that holds is this
// region's, never succeeds with the registry unreachable, and never puts the
// e-mail in a message.
func FuzzPostConfirmation(f *testing.F) {
	for _, s := range []string{
		postConfirmationSeed,
		strings.Replace(postConfirmationSeed, `"email_verified":"true"`, `"email_verified":"false"`, 1),
		strings.Replace(postConfirmationSeed, `"email_verified":"true",`, ``, 1),
		strings.Replace(postConfirmationSeed, `"email_verified":"true"`, `"email_verified":true`, 1),
		strings.Replace(postConfirmationSeed, `PostConfirmation_ConfirmSignUp`, `PostConfirmation_ConfirmForgotPassword`, 1),
		strings.Replace(postConfirmationSeed, `"CONFIRMED"`, `"EXTERNAL_PROVIDER"`, 1),
		strings.Replace(postConfirmationSeed, `ada@example.com`, `İx@example.com`, 1),
		strings.Replace(postConfirmationSeed, `"email":"ada@example.com",`, ``, 1),
		`{"triggerSource":"PostConfirmation_ConfirmSignUp","request":{"userAttributes":null}}`,
		`{"triggerSource":"PostConfirmation_ConfirmSignUp","request":{"userAttributes":{"email":"a@b.co","email_verified":"true"}}}`,
		`{}`, `null`, ``, `[]`, `{"request":`,
	} {
		for _, pick := range []uint8{0, 1, 2, 200} {
			f.Add([]byte(s), pick)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, pick uint8) {
		p, keys, reg := fuzzDeps(t, pick)
		h := mustPostConfirmation(fuzzRegion, p, keys, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), 0)
		_, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
		var ev events.CognitoEventUserPoolsPostConfirmation
		_ = json.Unmarshal(payload, &ev)
		if problem := confirmProblem(ev.TriggerSource, ev.Request.UserAttributes, reg, err); problem != "" {
			t.Fatal(problem)
		}
	})
}

// confirmProblem says which rule a PostConfirmation answer (err nil: success)
// breaks, given the event and what the registry answered ("" when none).
func confirmProblem(source string, attrs map[string]string, reg *fuzzRegistry, err error) string {
	email := attrs[AttrEmail]
	switch {
	case reg.claims > 1:
		return fmt.Sprintf("%d claims for one confirmation", reg.claims)
	case reg.claims > 0 && source != SourceConfirmSignUp:
		return "claimed for trigger source " + source
	case reg.claims > 0 && attrs[AttrEmailVerified] != "true":
		return "claimed an unverified e-mail address"
	case err != nil && strings.Contains(email, "@") && strings.Contains(err.Error(), email):
		return fmt.Sprintf("message %q contains the e-mail", err)
	case err != nil:
		return ""
	case source == SourceConfirmForgotPassword:
		return ""
	case reg.claims != 1:
		return "confirmed a sign-up without claiming its e-mail"
	case reg.err != nil:
		return "succeeded with the registry unreachable (fail open)"
	case reg.home != "" && reg.home != fuzzRegion:
		return "succeeded although the e-mail belongs to " + reg.home
	}
	return ""
}

// signUpProblem says why allowing a sign-up with attrs, given what the
// registry answered, breaks a residency rule ("" when it does not).
func signUpProblem(p *residency.Policy, attrs map[string]string, reg *fuzzRegistry) string {
	zone, _ := p.ZoneOfRegion(fuzzRegion)
	cz, served := p.ZoneOfCountry(attrs[AttrCountry])
	switch {
	case attrs[AttrEmail] == "":
		return "allowed a sign-up without an e-mail"
	case attrs[AttrRegion] != fuzzRegion:
		return fmt.Sprintf("allowed custom:region %q in %s", attrs[AttrRegion], fuzzRegion)
	case !served || cz != zone:
		return fmt.Sprintf("allowed country %q outside zone %s", attrs[AttrCountry], zone)
	case reg.err != nil:
		return "allowed a sign-up with the registry unreachable (fail open)"
	case reg.claims != 0:
		return fmt.Sprintf("a sign-up claimed %d times: nobody has proved they own the address yet", reg.claims)
	case reg.lookups == 0:
		return "allowed a sign-up without asking the registry"
	case reg.home != "" && reg.home != fuzzRegion:
		return "allowed a sign-up whose e-mail is registered in " + reg.home
	}
	return ""
}

// signInProblem says why allowing a sign-in of a user with attrs, given what
// the registry answered, breaks a residency rule ("" when it does not).
func signInProblem(attrs map[string]string, reg *fuzzRegistry) string {
	switch {
	case reg.claims > 0 && attrs[AttrEmailVerified] != "true":
		return "adopted an unverified e-mail address"
	case reg.err != nil:
		return "allowed a sign-in with the registry unreachable (fail open)"
	case reg.home != "" && reg.home != fuzzRegion:
		return fmt.Sprintf("allowed a sign-in in %s for a user whose home is %s", fuzzRegion, reg.home)
	case reg.lookups+reg.claims == 0:
		return "allowed a sign-in without asking the registry"
	case reg.claims > 1:
		return fmt.Sprintf("%d claims for one sign-in", reg.claims)
	}
	return ""
}

// TestFuzzChecksCatchWrongDecisions proves the fuzz targets' checks can
// fail: each "allow" below, which a broken handler could answer, is caught.
func TestFuzzChecksCatchWrongDecisions(t *testing.T) {
	p, err := residency.Default()
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]string{AttrEmail: "a@example.com", AttrRegion: fuzzRegion, AttrCountry: "DE"}
	if got := signUpProblem(p, ok, &fuzzRegistry{lookups: 1}); got != "" {
		t.Fatalf("valid sign-up flagged: %s", got)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	signUps := map[string]struct {
		attrs map[string]string
		reg   *fuzzRegistry
	}{
		"no e-mail":            {with(AttrEmail, ""), &fuzzRegistry{lookups: 1}},
		"other region":         {with(AttrRegion, "us-east-1"), &fuzzRegistry{lookups: 1}},
		"country of zone us":   {with(AttrCountry, "US"), &fuzzRegistry{lookups: 1}},
		"registry down":        {ok, &fuzzRegistry{err: errors.New("down"), lookups: 1}},
		"never asked":          {ok, &fuzzRegistry{}},
		"claimed (squatting)":  {ok, &fuzzRegistry{lookups: 1, claims: 1}},
		"registered elsewhere": {ok, &fuzzRegistry{home: "eu-central-1", lookups: 1}},
	}
	for name, tc := range signUps {
		t.Run("PreSignUp/"+name, func(t *testing.T) {
			if signUpProblem(p, tc.attrs, tc.reg) == "" {
				t.Error("not caught")
			}
		})
	}
	verifiedUser := map[string]string{AttrEmail: "a@example.com", AttrEmailVerified: "true"}
	if got := signInProblem(verifiedUser, &fuzzRegistry{lookups: 1, claims: 1}); got != "" {
		t.Fatalf("valid adoption flagged: %s", got)
	}
	signIns := map[string]struct {
		attrs map[string]string
		reg   *fuzzRegistry
	}{
		"registry down":      {verifiedUser, &fuzzRegistry{err: errors.New("down"), lookups: 1}},
		"home elsewhere":     {verifiedUser, &fuzzRegistry{home: "us-east-1", lookups: 1}},
		"never asked":        {verifiedUser, &fuzzRegistry{}},
		"claimed twice":      {verifiedUser, &fuzzRegistry{claims: 2}},
		"unverified adopted": {map[string]string{AttrEmail: "a@example.com"}, &fuzzRegistry{lookups: 1, claims: 1}},
	}
	for name, tc := range signIns {
		t.Run("PreAuth/"+name, func(t *testing.T) {
			if signInProblem(tc.attrs, tc.reg) == "" {
				t.Error("not caught")
			}
		})
	}
	if got := confirmProblem(SourceConfirmSignUp, verifiedUser, &fuzzRegistry{claims: 1}, nil); got != "" {
		t.Fatalf("valid confirmation flagged: %s", got)
	}
	confirms := map[string]struct {
		source string
		attrs  map[string]string
		reg    *fuzzRegistry
		err    error
	}{
		"unverified claimed":      {SourceConfirmSignUp, map[string]string{AttrEmail: "a@example.com", AttrEmailVerified: "false"}, &fuzzRegistry{claims: 1}, errors.New("x")},
		"no claim but success":    {SourceConfirmSignUp, verifiedUser, &fuzzRegistry{}, nil},
		"claimed twice":           {SourceConfirmSignUp, verifiedUser, &fuzzRegistry{claims: 2}, nil},
		"registry down, success":  {SourceConfirmSignUp, verifiedUser, &fuzzRegistry{claims: 1, err: errors.New("down")}, nil},
		"lost the race, success":  {SourceConfirmSignUp, verifiedUser, &fuzzRegistry{claims: 1, home: "us-east-1"}, nil},
		"forgot password claimed": {SourceConfirmForgotPassword, verifiedUser, &fuzzRegistry{claims: 1}, nil},
		"e-mail in the message":   {SourceConfirmSignUp, verifiedUser, &fuzzRegistry{claims: 1}, errors.New("a@example.com is taken")},
	}
	for name, tc := range confirms {
		t.Run("PostConfirmation/"+name, func(t *testing.T) {
			if confirmProblem(tc.source, tc.attrs, tc.reg, tc.err) == "" {
				t.Error("not caught")
			}
		})
	}
}
