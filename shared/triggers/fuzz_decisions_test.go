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

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/residency"
)

// fuzzRegistry answers every claim and lookup with home (empty: no claim
// found) or err, counts the calls and records the region last claimed for.
type fuzzRegistry struct {
	home            string
	err             error
	claims, lookups int
	claimedFor      string
}

func (r *fuzzRegistry) Claim(_ context.Context, key, region string) (registry.Record, bool, error) {
	r.claims++
	r.claimedFor = region
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

// The fuzz targets' region and, when a pick has fuzzPaired set, its zone
// pair: the partner's pool (replicated here) is fuzzPairPool.
const (
	fuzzRegion   = "eu-west-1"
	fuzzPartner  = "eu-central-1"
	fuzzPairPool = "eu-central-1_Pair1"
	fuzzPaired   = 0x10 // a pick with this bit configures the pair
)

// fuzzPoolHome restates the pool rule for the checks: the home region whose
// users pool holds at the fuzz targets' region, "" when it serves nobody.
func fuzzPoolHome(paired bool, pool string) string {
	switch {
	case !paired:
		return fuzzRegion // unpaired, the pool decides nothing
	case pool == fuzzPairPool:
		return fuzzPartner
	}
	if r, _, ok := strings.Cut(pool, "_"); ok && r != fuzzRegion && awsname.Region(r) && len(pool) > len(r)+1 {
		return "" // a pool of another region
	}
	return fuzzRegion
}

// fuzzDeps builds the dependencies and configuration pick selects: the
// registry's answer (fuzzHomes, an error from 200 on) and the pair
// (fuzzPaired).
func fuzzDeps(t *testing.T, pick uint8) (Config, Deps, *fuzzRegistry) {
	c := Config{Region: fuzzRegion}
	if pick&fuzzPaired != 0 {
		c = pairedConfig(t, fuzzRegion, fuzzPartner, fuzzPairPool)
	}
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
	return c, Deps{Policy: p, Keys: keys, Registry: reg}, reg
}

const preSignUpSeed = `{"version":"1","triggerSource":"PreSignUp_SignUp","region":"eu-west-1","userPoolId":"eu-west-1_x","userName":"3f1c","callerContext":{},"request":{"userAttributes":{"email":"Ada@Example.com","custom:region":"eu-west-1","custom:country":"DE"}},"response":{}}`

// FuzzPreSignUp drives PreSignUp through lambda.NewHandler (the runtime's
// JSON path) with any payload, any registry outcome, paired or not: it never
// panics, it never claims, it allows a sign-up only in this region's own pool
// when every residency rule holds and the registry holds no other region's
// claim, it never auto-confirms, and a refusal's message never contains the
// e-mail address.
func FuzzPreSignUp(f *testing.F) {
	for _, s := range []string{
		preSignUpSeed,
		strings.Replace(preSignUpSeed, `"DE"`, `"US"`, 1),
		strings.Replace(preSignUpSeed, `"custom:region":"eu-west-1"`, `"custom:region":"us-east-1"`, 1),
		strings.Replace(preSignUpSeed, `PreSignUp_SignUp`, `PreSignUp_AdminCreateUser`, 1),
		strings.Replace(preSignUpSeed, `PreSignUp_SignUp`, `Bogus`, 1),
		strings.Replace(preSignUpSeed, `eu-west-1_x`, fuzzPairPool, 1),
		strings.Replace(preSignUpSeed, `eu-west-1_x`, `us-east-1_x`, 1),
		strings.Replace(preSignUpSeed, `"userPoolId":"eu-west-1_x",`, ``, 1),
		`{"triggerSource":"PreSignUp_SignUp","request":{"userAttributes":null}}`,
		`{"request":{"userAttributes":{"email":1}}}`,
		`{}`, `null`, ``, `[]`, `{"request":`,
	} {
		for _, pick := range []uint8{0, 1, 2, 200, fuzzPaired, fuzzPaired | 1} {
			f.Add([]byte(s), pick)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, pick uint8) {
		c, d, reg := fuzzDeps(t, pick)
		h := mustHandler(t, NewPreSignUp, c, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
		if problem := signUpProblem(d.Policy, fuzzPoolHome(c.PairRegion != "", ev.UserPoolID), ev.Request.UserAttributes, reg); problem != "" {
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

// FuzzPreAuth drives PreAuth the same way, this region's own pool and (when
// paired) the partner's: it never panics, claims only a verified address and
// only for the home of the event's pool, and allows a sign-in only when the
// registry says the pool's home is the user's home (a claim found, or adopted
// by the one conditional claim), never through a pool that serves nobody here
// and never when the registry is unreachable (fail closed).
func FuzzPreAuth(f *testing.F) {
	for _, s := range []string{
		preAuthSeed,
		strings.Replace(preAuthSeed, `"userNotFound":false`, `"userNotFound":true`, 1),
		strings.Replace(preAuthSeed, `"email":"ada@example.com",`, ``, 1),
		strings.Replace(preAuthSeed, `eu-west-1_x`, fuzzPairPool, 1),
		strings.Replace(strings.Replace(preAuthSeed, `eu-west-1_x`, fuzzPairPool, 1), `"userNotFound":false`, `"userNotFound":true`, 1),
		strings.Replace(preAuthSeed, `eu-west-1_x`, `us-east-1_x`, 1),
		strings.Replace(strings.Replace(preAuthSeed, `eu-west-1_x`, `eu-west-3_x`, 1), `"userNotFound":false`, `"userNotFound":true`, 1),
		strings.Replace(preAuthSeed, `"custom:country":"DE"`, `"custom:country":"DE","email_verified":"true"`, 1),
		strings.Replace(strings.Replace(preAuthSeed, `eu-west-1_x`, fuzzPairPool, 1), `"custom:country":"DE"`, `"custom:country":"DE","email_verified":"true"`, 1),
		`{"triggerSource":"PreAuthentication_Authentication","request":{}}`,
		`{"request":{"userAttributes":[]}}`,
		`{}`, `null`, ``, `"x"`,
	} {
		for _, pick := range []uint8{0, 1, 2, 3, 200, fuzzPaired, fuzzPaired | 1, fuzzPaired | 2, fuzzPaired | 3} {
			f.Add([]byte(s), pick)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, pick uint8) {
		c, d, reg := fuzzDeps(t, pick)
		h := mustHandler(t, NewPreAuth, c, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
		_, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
		var ev events.CognitoEventUserPoolsPreAuthentication
		_ = json.Unmarshal(payload, &ev)
		home := fuzzPoolHome(c.PairRegion != "", ev.UserPoolID)
		if reg.claims > 0 && (reg.claimedFor != home || ev.Request.UserAttributes[AttrEmailVerified] != "true") {
			t.Fatalf("claimed for %q through a pool whose home is %q, email_verified %q", reg.claimedFor, home, ev.Request.UserAttributes[AttrEmailVerified])
		}
		if err != nil {
			if email := ev.Request.UserAttributes[AttrEmail]; strings.Contains(email, "@") && strings.Contains(err.Error(), email) {
				t.Fatalf("refusal %q contains the e-mail", err)
			}
			return
		}
		if home == "" {
			t.Fatalf("allowed a sign-in through pool %q, which serves nobody here", ev.UserPoolID)
		}
		if ev.Request.UserNotFound {
			return // passed through unchanged; Cognito fails the sign-in itself
		}
		if problem := signInProblem(home, ev.Request.UserAttributes, reg); problem != "" {
			t.Fatal(problem)
		}
	})
}

const postConfirmationSeed = `{"version":"1","triggerSource":"PostConfirmation_ConfirmSignUp","region":"eu-west-1","userPoolId":"eu-west-1_x","userName":"3f1c","callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"abc"},"request":{"userAttributes":{"sub":"3f1c","cognito:user_status":"CONFIRMED","email_verified":"true","email":"ada@example.com","custom:region":"eu-west-1","custom:country":"DE"},"clientMetadata":{}},"response":{}}`

// FuzzPostConfirmation drives PostConfirmation the same way: it never
// panics, claims only a verified address, only for this region and only for
// an event of this region's own pool, claims at most once, reports success
// only for this region's own pool and when the claim that holds is this
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
		strings.Replace(postConfirmationSeed, `eu-west-1_x`, fuzzPairPool, 1),
		strings.Replace(strings.Replace(postConfirmationSeed, `eu-west-1_x`, fuzzPairPool, 1), `PostConfirmation_ConfirmSignUp`, `PostConfirmation_ConfirmForgotPassword`, 1),
		strings.Replace(postConfirmationSeed, `eu-west-1_x`, `us-east-1_x`, 1),
		`{"triggerSource":"PostConfirmation_ConfirmSignUp","request":{"userAttributes":null}}`,
		`{"triggerSource":"PostConfirmation_ConfirmSignUp","request":{"userAttributes":{"email":"a@b.co","email_verified":"true"}}}`,
		`{}`, `null`, ``, `[]`, `{"request":`,
	} {
		for _, pick := range []uint8{0, 1, 2, 200, fuzzPaired, fuzzPaired | 1} {
			f.Add([]byte(s), pick)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, pick uint8) {
		c, d, reg := fuzzDeps(t, pick)
		h := mustHandler(t, NewPostConfirmation, c, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
		_, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
		var ev events.CognitoEventUserPoolsPostConfirmation
		_ = json.Unmarshal(payload, &ev)
		if problem := confirmProblem(ev.TriggerSource, fuzzPoolHome(c.PairRegion != "", ev.UserPoolID), ev.Request.UserAttributes, reg, err); problem != "" {
			t.Fatal(problem)
		}
	})
}

// confirmProblem says which rule a PostConfirmation answer (err nil: success)
// breaks, given the event, the home its pool serves here ("" none; see
// fuzzPoolHome) and what the registry answered ("" when none).
func confirmProblem(source, home string, attrs map[string]string, reg *fuzzRegistry, err error) string {
	email := attrs[AttrEmail]
	switch {
	case reg.claims > 0 && home != fuzzRegion:
		return fmt.Sprintf("claimed for an event of a pool whose home is %q (only this region's own pool confirms)", home)
	case reg.claims > 0 && reg.claimedFor != fuzzRegion:
		return "claimed for " + reg.claimedFor + ", not this region"
	case err == nil && home != fuzzRegion:
		return fmt.Sprintf("confirmed an event of a pool whose home is %q (only this region's own pool confirms)", home)
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
func signUpProblem(p *residency.Policy, home string, attrs map[string]string, reg *fuzzRegistry) string {
	zone, _ := p.ZoneOfRegion(fuzzRegion)
	cz, served := p.ZoneOfCountry(attrs[AttrCountry])
	switch {
	case home != fuzzRegion:
		return fmt.Sprintf("allowed a sign-up in a pool whose home is %q (only this region's own pool signs up)", home)
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

// signInProblem says why allowing a sign-in of a user with attrs through a
// pool whose home is home (see fuzzPoolHome), given what the registry
// answered, breaks a residency rule ("" when it does not).
func signInProblem(home string, attrs map[string]string, reg *fuzzRegistry) string {
	switch {
	case home == "":
		return "allowed a sign-in through a pool that serves nobody here"
	case reg.claims > 0 && attrs[AttrEmailVerified] != "true":
		return "adopted an unverified e-mail address"
	case reg.claims > 0 && reg.claimedFor != home:
		return fmt.Sprintf("adopted a user of a pool of %s for %s", home, reg.claimedFor)
	case reg.err != nil:
		return "allowed a sign-in with the registry unreachable (fail open)"
	case reg.home != "" && reg.home != home:
		return fmt.Sprintf("allowed a sign-in through a pool of %s for a user whose home is %s", home, reg.home)
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
	if got := signUpProblem(p, fuzzRegion, ok, &fuzzRegistry{lookups: 1}); got != "" {
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
		home  string
		attrs map[string]string
		reg   *fuzzRegistry
	}{
		"no e-mail":                    {fuzzRegion, with(AttrEmail, ""), &fuzzRegistry{lookups: 1}},
		"other region":                 {fuzzRegion, with(AttrRegion, "us-east-1"), &fuzzRegistry{lookups: 1}},
		"country of zone us":           {fuzzRegion, with(AttrCountry, "US"), &fuzzRegistry{lookups: 1}},
		"registry down":                {fuzzRegion, ok, &fuzzRegistry{err: errors.New("down"), lookups: 1}},
		"never asked":                  {fuzzRegion, ok, &fuzzRegistry{}},
		"claimed (squatting)":          {fuzzRegion, ok, &fuzzRegistry{lookups: 1, claims: 1}},
		"registered elsewhere":         {fuzzRegion, ok, &fuzzRegistry{home: "eu-central-1", lookups: 1}},
		"in the partner's pool":        {fuzzPartner, with(AttrRegion, fuzzPartner), &fuzzRegistry{lookups: 1}},
		"in a pool that serves nobody": {"", ok, &fuzzRegistry{lookups: 1}},
	}
	for name, tc := range signUps {
		t.Run("PreSignUp/"+name, func(t *testing.T) {
			if signUpProblem(p, tc.home, tc.attrs, tc.reg) == "" {
				t.Error("not caught")
			}
		})
	}
	verifiedUser := map[string]string{AttrEmail: "a@example.com", AttrEmailVerified: "true"}
	for _, home := range []string{fuzzRegion, fuzzPartner} {
		if got := signInProblem(home, verifiedUser, &fuzzRegistry{lookups: 1, claims: 1, claimedFor: home}); got != "" {
			t.Fatalf("valid adoption for %s flagged: %s", home, got)
		}
		if got := signInProblem(home, verifiedUser, &fuzzRegistry{lookups: 1, home: home}); got != "" {
			t.Fatalf("valid sign-in through a pool of %s flagged: %s", home, got)
		}
	}
	signIns := map[string]struct {
		home  string
		attrs map[string]string
		reg   *fuzzRegistry
	}{
		"registry down":                                {fuzzRegion, verifiedUser, &fuzzRegistry{err: errors.New("down"), lookups: 1}},
		"home elsewhere":                               {fuzzRegion, verifiedUser, &fuzzRegistry{home: "us-east-1", lookups: 1}},
		"never asked":                                  {fuzzRegion, verifiedUser, &fuzzRegistry{}},
		"claimed twice":                                {fuzzRegion, verifiedUser, &fuzzRegistry{claims: 2, claimedFor: fuzzRegion}},
		"unverified adopted":                           {fuzzRegion, map[string]string{AttrEmail: "a@example.com"}, &fuzzRegistry{lookups: 1, claims: 1, claimedFor: fuzzRegion}},
		"through a pool that serves nobody":            {"", verifiedUser, &fuzzRegistry{lookups: 1, home: fuzzRegion}},
		"partner's pool, home of this region":          {fuzzPartner, verifiedUser, &fuzzRegistry{lookups: 1, home: fuzzRegion}},
		"own pool, home of the partner":                {fuzzRegion, verifiedUser, &fuzzRegistry{lookups: 1, home: fuzzPartner}},
		"partner's pool, adopted for this region":      {fuzzPartner, verifiedUser, &fuzzRegistry{lookups: 1, claims: 1, claimedFor: fuzzRegion}},
		"partner's pool, unverified adopted for there": {fuzzPartner, map[string]string{AttrEmail: "a@example.com"}, &fuzzRegistry{lookups: 1, claims: 1, claimedFor: fuzzPartner}},
	}
	for name, tc := range signIns {
		t.Run("PreAuth/"+name, func(t *testing.T) {
			if signInProblem(tc.home, tc.attrs, tc.reg) == "" {
				t.Error("not caught")
			}
		})
	}
	if got := confirmProblem(SourceConfirmSignUp, fuzzRegion, verifiedUser, &fuzzRegistry{claims: 1, claimedFor: fuzzRegion}, nil); got != "" {
		t.Fatalf("valid confirmation flagged: %s", got)
	}
	here := func(r fuzzRegistry) *fuzzRegistry {
		if r.claims > 0 {
			r.claimedFor = fuzzRegion
		}
		return &r
	}
	confirms := map[string]struct {
		source string
		home   string
		attrs  map[string]string
		reg    *fuzzRegistry
		err    error
	}{
		"unverified claimed":                     {SourceConfirmSignUp, fuzzRegion, map[string]string{AttrEmail: "a@example.com", AttrEmailVerified: "false"}, here(fuzzRegistry{claims: 1}), errors.New("x")},
		"no claim but success":                   {SourceConfirmSignUp, fuzzRegion, verifiedUser, here(fuzzRegistry{}), nil},
		"claimed twice":                          {SourceConfirmSignUp, fuzzRegion, verifiedUser, here(fuzzRegistry{claims: 2}), nil},
		"registry down, success":                 {SourceConfirmSignUp, fuzzRegion, verifiedUser, here(fuzzRegistry{claims: 1, err: errors.New("down")}), nil},
		"lost the race, success":                 {SourceConfirmSignUp, fuzzRegion, verifiedUser, here(fuzzRegistry{claims: 1, home: "us-east-1"}), nil},
		"forgot password claimed":                {SourceConfirmForgotPassword, fuzzRegion, verifiedUser, here(fuzzRegistry{claims: 1}), nil},
		"e-mail in the message":                  {SourceConfirmSignUp, fuzzRegion, verifiedUser, here(fuzzRegistry{claims: 1}), errors.New("a@example.com is taken")},
		"partner's pool claimed":                 {SourceConfirmSignUp, fuzzPartner, verifiedUser, &fuzzRegistry{claims: 1, claimedFor: fuzzPartner}, errors.New("x")},
		"partner's pool, password reset success": {SourceConfirmForgotPassword, fuzzPartner, verifiedUser, &fuzzRegistry{}, nil},
		"pool that serves nobody, success":       {SourceConfirmSignUp, "", verifiedUser, here(fuzzRegistry{claims: 1}), nil},
		"claimed for another region than this":   {SourceConfirmSignUp, fuzzRegion, verifiedUser, &fuzzRegistry{claims: 1, claimedFor: fuzzPartner}, nil},
	}
	for name, tc := range confirms {
		t.Run("PostConfirmation/"+name, func(t *testing.T) {
			if confirmProblem(tc.source, tc.home, tc.attrs, tc.reg, tc.err) == "" {
				t.Error("not caught")
			}
		})
	}
}
