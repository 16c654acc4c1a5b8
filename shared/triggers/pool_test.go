package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/registry"
)

// The zone pair of these tests: eu-central-1's triggers, partner eu-west-1,
// whose pool (replicated into eu-central-1) is pairPool.
const (
	pairPool  = "eu-west-1_Pair1"
	usPool    = "us-east-1_Us1"       // a us-east-1 user's pool
	thirdPool = "eu-west-3_Third1"    // a pool of a third EU region
	otherPool = "eu-west-1_NotPaired" // a partner-region pool that is not the replicated one
)

func TestPoolHome(t *testing.T) {
	unpaired := Config{Region: "eu-central-1"}
	paired := pairedConfig(t, "eu-central-1", "eu-west-1", pairPool)
	tests := []struct {
		name string
		c    Config
		pool string
		want string // "" = not served (unknown_pool)
	}{
		{"unpaired: own pool", unpaired, testPool, "eu-central-1"},
		// Unpaired, the pool decides nothing (the invoke permission admits
		// one pool): every event is this region's, as before zone pairs.
		{"unpaired: the would-be partner's pool", unpaired, pairPool, "eu-central-1"},
		{"unpaired: us-east-1 pool", unpaired, usPool, "eu-central-1"},
		{"unpaired: third region's pool", unpaired, thirdPool, "eu-central-1"},
		{"unpaired: no pool id", unpaired, "", "eu-central-1"},
		{"unpaired: region without id", unpaired, "eu-central-1", "eu-central-1"},
		{"paired: own pool", paired, testPool, "eu-central-1"},
		{"paired: the partner's pool", paired, pairPool, "eu-west-1"},
		{"paired: another pool of the partner's region", paired, otherPool, ""},
		{"paired: the partner's pool id padded (not a pool id of a region)", paired, " " + pairPool, "eu-central-1"},
		{"paired: us-east-1 pool", paired, usPool, ""},
		{"paired: third region's pool", paired, thirdPool, ""},
		{"paired: no pool id", paired, "", "eu-central-1"},
		{"paired: empty id of this region", paired, "eu-central-1_", "eu-central-1"},
		{"hand-built: pool without PAIR_REGION", Config{Region: "eu-central-1", PairUserPoolID: pairPool}, pairPool, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, ok := tt.c.PoolHome(tt.pool)
			if home != tt.want || ok != (tt.want != "") {
				t.Errorf("PoolHome(%q) = %q, %v; want %q", tt.pool, home, ok, tt.want)
			}
		})
	}
}

// TestZonePairTriggers runs each trigger of eu-central-1, paired with
// eu-west-1, on events of its own pool, of the partner's pool replicated
// here and of pools it does not serve, with the hand-written registry fake.
func TestZonePairTriggers(t *testing.T) {
	const email = "Jane.Doe@Example.com"
	verifiedW := map[string]string{AttrEmail: email, AttrEmailVerified: "true", AttrRegion: "eu-west-1", AttrCountry: "DE"}
	unverifiedW := map[string]string{AttrEmail: email, AttrEmailVerified: "false", AttrRegion: "eu-west-1", AttrCountry: "DE"}
	verifiedC := map[string]string{AttrEmail: email, AttrEmailVerified: "true", AttrRegion: "eu-central-1", AttrCountry: "DE"}
	usUser := map[string]string{AttrEmail: email, AttrEmailVerified: "true", AttrRegion: "us-east-1", AttrCountry: "US"}
	paired := pairedConfig(t, "eu-central-1", "eu-west-1", pairPool)
	unpaired := Config{Region: "eu-central-1"}

	type tcase struct {
		name         string
		trigger      string // presignup, preauth or postconfirmation
		c            Config
		source       string // "" = the trigger's usual source
		pool         string
		attrs        map[string]string
		userNotFound bool
		lookup       func(context.Context, string) (registry.Record, bool, error) // LookupLocal and Lookup
		claim        func(context.Context, string, string) (registry.Record, bool, error)
		wantErr      string // substring of the user-facing error; "" = allowed
		wantReason   string // the logged refusal reason
		wantClaimFor string // the region claimed ("" = no claim)
		wantReads    bool
	}
	tests := []tcase{
		// PreSignUp
		{name: "sign-up in the partner's pool: refused", trigger: "presignup", c: paired, pool: pairPool, attrs: verifiedW, wantErr: "Sign-up is possible only in eu-west-1", wantReason: "replica_no_signup"},
		{name: "sign-up by admin in the partner's pool: refused", trigger: "presignup", c: paired, source: SourceAdminCreateUser, pool: pairPool, attrs: verifiedW, wantErr: "only in eu-west-1", wantReason: "replica_no_signup"},
		{name: "sign-up in the own pool, paired: today's rules", trigger: "presignup", c: paired, pool: testPool, attrs: verifiedC, lookup: notFound, wantReads: true},
		{name: "sign-up in the own pool, paired, custom:region of the partner: refused as today", trigger: "presignup", c: paired, pool: testPool, attrs: verifiedW, wantErr: "This is region eu-central-1, not eu-west-1", wantReason: "wrong_region"},
		{name: "sign-up of a us-east-1 user's event at an EU trigger", trigger: "presignup", c: paired, pool: usPool, attrs: usUser, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "sign-up in a third region's pool", trigger: "presignup", c: paired, pool: thirdPool, attrs: verifiedC, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "sign-up in another pool of the partner's region", trigger: "presignup", c: paired, pool: otherPool, attrs: verifiedW, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "sign-up without a pool id, paired: this region's rules", trigger: "presignup", c: paired, pool: "", attrs: verifiedC, lookup: notFound, wantReads: true},
		{name: "sign-up in the partner's pool, unpaired: this region's rules refuse its user", trigger: "presignup", c: unpaired, pool: pairPool, attrs: verifiedW, wantErr: "This is region eu-central-1, not eu-west-1", wantReason: "wrong_region"},

		// PreAuthentication
		{name: "sign-in through the partner's pool, claim of the partner: allowed", trigger: "preauth", c: paired, pool: pairPool, attrs: verifiedW, lookup: found("eu-west-1"), wantReads: true},
		{name: "sign-in through the partner's pool, claim of this region: refused naming it", trigger: "preauth", c: paired, pool: pairPool, attrs: verifiedW, lookup: found("eu-central-1"), wantErr: "home region is eu-central-1. Sign in there", wantReason: "other_home_region", wantReads: true},
		{name: "sign-in through the partner's pool, us-east-1 claim: refused naming it", trigger: "preauth", c: paired, pool: pairPool, attrs: verifiedW, lookup: found("us-east-1"), wantErr: "home region is us-east-1", wantReason: "other_home_region", wantReads: true},
		{name: "sign-in through the partner's pool, no claim, verified: adopted for the partner", trigger: "preauth", c: paired, pool: pairPool, attrs: verifiedW, lookup: notFound, claim: claimHere(true), wantClaimFor: "eu-west-1", wantReads: true},
		{name: "sign-in through the partner's pool, no claim, registry region says this region: refused", trigger: "preauth", c: paired, pool: pairPool, attrs: verifiedW, lookup: notFound, claim: claimAs("eu-central-1", false), wantErr: "home region is eu-central-1", wantReason: "other_home_region", wantClaimFor: "eu-west-1", wantReads: true},
		{name: "sign-in through the partner's pool, no claim, unverified: refused, nothing written", trigger: "preauth", c: paired, pool: pairPool, attrs: unverifiedW, lookup: notFound, wantErr: UnverifiedEmail, wantReason: "unverified_email", wantReads: true},
		{name: "sign-in through the partner's pool, user not found: passed through", trigger: "preauth", c: paired, pool: pairPool, userNotFound: true},
		{name: "sign-in through the own pool, claim of the partner: refused naming it", trigger: "preauth", c: paired, pool: testPool, attrs: verifiedC, lookup: found("eu-west-1"), wantErr: "home region is eu-west-1", wantReason: "other_home_region", wantReads: true},
		{name: "sign-in through the own pool, paired: allowed as today", trigger: "preauth", c: paired, pool: testPool, attrs: verifiedC, lookup: found("eu-central-1"), wantReads: true},
		{name: "sign-in through the own pool, paired, no claim: adopted here as today", trigger: "preauth", c: paired, pool: testPool, attrs: verifiedC, lookup: notFound, claim: claimHere(true), wantClaimFor: "eu-central-1", wantReads: true},
		{name: "sign-in of a us-east-1 user's event at an EU trigger", trigger: "preauth", c: paired, pool: usPool, attrs: usUser, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "sign-in through a third region's pool", trigger: "preauth", c: paired, pool: thirdPool, attrs: verifiedC, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "sign-in through another pool of the partner's region", trigger: "preauth", c: paired, pool: otherPool, attrs: verifiedW, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "sign-in through an unknown pool, user not found: refused (fail closed)", trigger: "preauth", c: paired, pool: usPool, userNotFound: true, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "sign-in through the partner's pool, unpaired: this region's rules refuse its user", trigger: "preauth", c: unpaired, pool: pairPool, attrs: verifiedW, lookup: found("eu-west-1"), wantErr: "home region is eu-west-1", wantReason: "other_home_region", wantReads: true},

		// PostConfirmation
		{name: "confirmation in the partner's pool: refused, nothing claimed", trigger: "postconfirmation", c: paired, pool: pairPool, attrs: verifiedW, wantErr: "confirmed only in eu-west-1", wantReason: "replica_no_confirmation"},
		{name: "password reset in the partner's pool: refused", trigger: "postconfirmation", c: paired, source: SourceConfirmForgotPassword, pool: pairPool, attrs: verifiedW, wantErr: "only in eu-west-1", wantReason: "replica_no_confirmation"},
		{name: "confirmation in the own pool, paired: claimed here as today", trigger: "postconfirmation", c: paired, pool: testPool, attrs: verifiedC, claim: claimHere(true), wantClaimFor: "eu-central-1"},
		{name: "password reset in the own pool, paired: ignored as today", trigger: "postconfirmation", c: paired, source: SourceConfirmForgotPassword, pool: testPool, attrs: verifiedC},
		{name: "confirmation of a us-east-1 user's event at an EU trigger", trigger: "postconfirmation", c: paired, pool: usPool, attrs: usUser, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "password reset in a third region's pool", trigger: "postconfirmation", c: paired, source: SourceConfirmForgotPassword, pool: thirdPool, attrs: verifiedC, wantErr: UnknownPool, wantReason: "unknown_pool"},
		{name: "password reset in a us-east-1 pool, unpaired: ignored as before pairs", trigger: "postconfirmation", c: unpaired, source: SourceConfirmForgotPassword, pool: usPool, attrs: usUser},
	}
	for _, tt := range tests {
		t.Run(tt.trigger+"/"+tt.name, func(t *testing.T) {
			reg := &fakeRegistry{t: t, lookup: tt.lookup, find: tt.lookup}
			var claimedFor string
			if tt.claim != nil {
				reg.claim = func(ctx context.Context, key, region string) (registry.Record, bool, error) {
					claimedFor = region
					return tt.claim(ctx, key, region)
				}
			}
			reads := 0
			if tt.lookup != nil {
				count := func(ctx context.Context, key string) (registry.Record, bool, error) {
					reads++
					return tt.lookup(ctx, key)
				}
				reg.lookup, reg.find = count, count
			}
			var buf bytes.Buffer
			log := logging.New(&buf, "INFO")
			d := Deps{Policy: policy(t), Keys: realKeys(t), Registry: reg}
			header := events.CognitoEventUserPoolsHeader{Version: "1", Region: "eu-central-1", UserPoolID: tt.pool, UserName: "0f1e2d3c"}
			var err error
			switch tt.trigger {
			case "presignup":
				ev := events.CognitoEventUserPoolsPreSignup{CognitoEventUserPoolsHeader: header}
				ev.TriggerSource = or(tt.source, SourceSignUp)
				ev.Request.UserAttributes = tt.attrs
				_, err = mustHandler(t, NewPreSignUp, tt.c, d, log).Handle(context.Background(), ev)
			case "preauth":
				ev := events.CognitoEventUserPoolsPreAuthentication{CognitoEventUserPoolsHeader: header}
				ev.TriggerSource = or(tt.source, SourceAuthentication)
				ev.Request.UserAttributes = tt.attrs
				ev.Request.UserNotFound = tt.userNotFound
				_, err = mustHandler(t, NewPreAuth, tt.c, d, log).Handle(context.Background(), ev)
			case "postconfirmation":
				ev := events.CognitoEventUserPoolsPostConfirmation{CognitoEventUserPoolsHeader: header}
				ev.TriggerSource = or(tt.source, SourceConfirmSignUp)
				ev.Request.UserAttributes = tt.attrs
				_, err = mustHandler(t, NewPostConfirmation, tt.c, d, log).Handle(context.Background(), ev)
			default:
				t.Fatalf("unknown trigger %q", tt.trigger)
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Handle: %v, want allowed", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Handle error = %v, want %q", err, tt.wantErr)
			}
			if claimedFor != tt.wantClaimFor || (tt.wantClaimFor == "") != (reg.claims == 0) {
				t.Errorf("claimed for %q (%d claims), want %q", claimedFor, reg.claims, tt.wantClaimFor)
			}
			if (reads > 0) != tt.wantReads {
				t.Errorf("registry reads = %d, want reads %v", reads, tt.wantReads)
			}
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("want one JSON log record, got %q: %v", buf.String(), err)
			}
			if tt.wantReason != "" && rec["reason"] != tt.wantReason {
				t.Errorf("logged reason %v, want %q: %s", rec["reason"], tt.wantReason, buf.String())
			}
			if tt.wantReason == "" && rec["reason"] != nil {
				t.Errorf("logged reason %v for an allowed event: %s", rec["reason"], buf.String())
			}
			if home, _ := tt.c.PoolHome(tt.pool); home == "eu-west-1" && rec["poolHome"] != "eu-west-1" {
				t.Errorf("log of a partner-pool event lacks poolHome: %s", buf.String())
			}
			low := strings.ToLower(buf.String() + errString(err))
			if strings.Contains(low, "jane") || strings.Contains(low, "example.com") {
				t.Errorf("log or message contains the e-mail: %s", low)
			}
		})
	}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// TestReplicaSamples runs the events/ samples of eu-west-1's pool replicated
// into eu-central-1 (for sam local invoke with PAIR_REGION=eu-west-1 and
// PAIR_USER_POOL_ID=eu-west-1_EXAMPLE) through the runtime's JSON path, at
// eu-central-1 paired and unpaired.
func TestReplicaSamples(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("../../events/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	paired := pairedConfig(t, "eu-central-1", "eu-west-1", "eu-west-1_EXAMPLE")
	unpaired := Config{Region: "eu-central-1"}
	tests := []struct {
		name    string
		c       Config
		build   func(Config, Deps) lambda.Handler
		sample  string
		wantErr string
	}{
		{"sign-in through the replica, paired", paired, preAuthHandler(t), "preauth-replica.json", ""},
		{"sign-in through the replica, unpaired", unpaired, preAuthHandler(t), "preauth-replica.json", "home region is eu-west-1"},
		{"sign-up through the replica, paired", paired, preSignUpHandler(t), "presignup-replica.json", "Sign-up is possible only in eu-west-1"},
		{"sign-up through the replica, unpaired", unpaired, preSignUpHandler(t), "presignup-replica.json", "This is region eu-central-1, not eu-west-1"},
		{"own pool's sign-in, paired", paired, preAuthHandler(t), "preauth-authentication.json", "home region is eu-west-1"},
		{"own pool's sign-up, paired", paired, preSignUpHandler(t), "presignup-signup.json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The registry holds a eu-west-1 claim: the replica's user's.
			reg := &fakeRegistry{t: t, lookup: found("eu-west-1"), find: notFound}
			d := Deps{Policy: policy(t), Keys: realKeys(t), Registry: reg}
			out, err := tt.build(tt.c, d).Invoke(context.Background(), read(tt.sample))
			if tt.wantErr == "" {
				if err != nil || len(out) == 0 {
					t.Fatalf("Invoke = %s, %v; want allowed", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Invoke error = %v, want %q", err, tt.wantErr)
			}
			if reg.claims != 0 {
				t.Errorf("a refused sample claimed %d times", reg.claims)
			}
		})
	}
}

func preAuthHandler(t *testing.T) func(Config, Deps) lambda.Handler {
	return func(c Config, d Deps) lambda.Handler {
		return lambda.NewHandler(mustHandler(t, NewPreAuth, c, d, logging.Discard()))
	}
}

func preSignUpHandler(t *testing.T) func(Config, Deps) lambda.Handler {
	return func(c Config, d Deps) lambda.Handler {
		return lambda.NewHandler(mustHandler(t, NewPreSignUp, c, d, logging.Discard()))
	}
}
