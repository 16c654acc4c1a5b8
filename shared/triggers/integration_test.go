package triggers

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/registry"
)

func TestMain(m *testing.M) { mototest.Main(m) }

const registryRegion = "eu-west-1"

// regions are the three regions of the integration tests: the registry
// region, another EU region and a US region.
var regions = []string{registryRegion, "eu-central-1", "us-east-1"}

// countryFor is a country each region's zone serves.
func countryFor(region string) string {
	if strings.HasPrefix(region, "us-") {
		return "US"
	}
	return "DE"
}

// counted counts the DynamoDB round trips of one region's handlers. When
// writes is set, PutItem holds it: moto_server evaluates a condition and
// applies the write without a lock, so two concurrent conditional puts can
// both succeed there (seen here: two regions "won" one address), which
// DynamoDB never allows. Serializing the writes client-side restores
// DynamoDB's per-item atomicity; the handlers, their reads and the HTTP
// calls stay concurrent.
type counted struct {
	db     registry.DynamoDBAPI
	n      *atomic.Int64
	writes *sync.Mutex
}

func (c counted) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.n.Add(1)
	return c.db.GetItem(ctx, in, o...)
}

func (c counted) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.n.Add(1)
	if c.writes != nil {
		c.writes.Lock()
		defer c.writes.Unlock()
	}
	return c.db.PutItem(ctx, in, o...)
}

// world is the three-region system on moto: a registry table in each region
// (moto does not replicate global tables), a multi-Region HMAC key in the
// registry region replicated to the others, a user pool per region (moto
// names it "<region>_...", as Cognito does) and the three triggers per
// region, unpaired.
type world struct {
	srv     *mototest.Server
	table   string
	db      map[string]*dynamodb.Client
	pool    map[string]string             // per region: its user pool's id
	reg     map[string]*registry.Registry // per region: its handlers' registry
	logger  *slog.Logger
	calls   map[string]*atomic.Int64 // per region: DynamoDB round trips of its handlers
	signUp  map[string]*PreSignUp
	confirm map[string]*PostConfirmation
	signIn  map[string]*PreAuth
	keys    map[string]*identity.Keys
	log     *bytes.Buffer
	logMu   *sync.Mutex
	version string
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

var tableSeq atomic.Int64

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := mototest.Require(t)
	ctx := context.Background()
	w := &world{
		srv:     srv,
		table:   fmt.Sprintf("registry-%d-%d", time.Now().UnixNano()%1e9, tableSeq.Add(1)),
		db:      map[string]*dynamodb.Client{},
		pool:    map[string]string{},
		reg:     map[string]*registry.Registry{},
		calls:   map[string]*atomic.Int64{},
		signUp:  map[string]*PreSignUp{},
		confirm: map[string]*PostConfirmation{},
		signIn:  map[string]*PreAuth{},
		keys:    map[string]*identity.Keys{},
		log:     &bytes.Buffer{},
		logMu:   &sync.Mutex{},
	}
	for _, r := range regions {
		w.db[r] = dynamodb.NewFromConfig(srv.Config(r))
		mototest.CreateTable(t, w.db[r], "RegistryTable", w.table)
		out, err := cip.NewFromConfig(srv.Config(r)).CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String(w.table)})
		if err != nil {
			t.Fatalf("CreateUserPool in %s: %v", r, err)
		}
		w.pool[r] = aws.ToString(out.UserPool.Id)
	}
	primary := kms.NewFromConfig(srv.Config(registryRegion))
	key, err := primary.CreateKey(ctx, &kms.CreateKeyInput{
		MultiRegion: aws.Bool(true),
		KeySpec:     kmstypes.KeySpecHmac256,
		KeyUsage:    kmstypes.KeyUsageTypeGenerateVerifyMac,
	})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	for _, r := range regions[1:] {
		if _, err := primary.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(keyID), ReplicaRegion: aws.String(r)}); err != nil {
			t.Fatalf("ReplicateKey to %s: %v", r, err)
		}
	}
	p := policy(t)
	w.version = p.Version()
	log := logging.New(syncWriter{w.logMu, w.log}, "DEBUG")
	w.logger = log
	writes := &sync.Mutex{} // one for the registry region's table (see counted)
	for _, r := range regions {
		w.calls[r] = &atomic.Int64{}
		local := counted{w.db[r], w.calls[r], nil}
		home := counted{w.db[registryRegion], w.calls[r], writes}
		reg := registry.New(w.table, r, registryRegion, local, home, p.Version())
		w.reg[r] = reg
		w.keys[r] = identity.New(kms.NewFromConfig(srv.Config(r)), keyID)
		w.signUp[r] = mustPreSignUp(r, p, w.keys[r], reg, log, 0)
		w.confirm[r] = mustPostConfirmation(r, p, w.keys[r], reg, log, 0)
		w.signIn[r] = mustPreAuth(r, p, w.keys[r], reg, log, 0)
	}
	return w
}

func (w *world) doSignUp(t *testing.T, region, email, country string) error {
	t.Helper()
	ev := events.CognitoEventUserPoolsPreSignup{}
	ev.TriggerSource = SourceSignUp
	ev.Region = region
	ev.UserPoolID = w.pool[region]
	ev.Request.UserAttributes = map[string]string{AttrEmail: email, AttrRegion: region, AttrCountry: country}
	out, err := w.signUp[region].Handle(context.Background(), ev)
	if out.Response.AutoConfirmUser || out.Response.AutoVerifyEmail {
		t.Errorf("sign-up in %s auto-confirms", region)
	}
	return err
}

// doConfirm runs PostConfirmation_ConfirmSignUp for a user of region with
// email, verified or not (ConfirmSignUp with an e-mail code verifies it;
// AdminConfirmSignUp does not).
func (w *world) doConfirm(region, email string, verified bool) error {
	ev := events.CognitoEventUserPoolsPostConfirmation{}
	ev.TriggerSource = SourceConfirmSignUp
	ev.Region = region
	ev.UserPoolID = w.pool[region]
	ev.Request.UserAttributes = map[string]string{AttrEmail: email, AttrEmailVerified: fmt.Sprint(verified), "cognito:user_status": "CONFIRMED"}
	_, err := w.confirm[region].Handle(context.Background(), ev)
	return err
}

// doSignIn runs PreAuthentication for a user with a verified email.
func (w *world) doSignIn(region, email string) error {
	return w.doSignInAs(region, email, true)
}

func (w *world) doSignInAs(region, email string, verified bool) error {
	ev := events.CognitoEventUserPoolsPreAuthentication{}
	ev.TriggerSource = SourceAuthentication
	ev.Region = region
	ev.UserPoolID = w.pool[region]
	ev.Request.UserAttributes = map[string]string{AttrEmail: email, AttrEmailVerified: fmt.Sprint(verified)}
	_, err := w.signIn[region].Handle(context.Background(), ev)
	return err
}

func wantAllowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: refused: %v", what, err)
	}
}

func wantRefused(t *testing.T, what string, err error, mention string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: allowed, want refused naming %s", what, mention)
		return
	}
	if !strings.Contains(err.Error(), mention) {
		t.Errorf("%s: error %q does not name %s", what, err, mention)
	}
}

func (w *world) resetCalls() {
	for _, c := range w.calls {
		c.Store(0)
	}
}

func TestIntegrationSignUpAndSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const email = "Jane.Doe@Example.com"

	// Both regions derive the same identity key from the replicated key.
	a, err := w.keys["eu-central-1"].Key(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		b, err := w.keys[r].Key(context.Background(), email)
		if err != nil || a != b {
			t.Fatalf("identity key in %s = %q, %v; want %q", r, b, err, a)
		}
	}

	w.resetCalls()
	wantAllowed(t, "first sign-up in eu-central-1", w.doSignUp(t, "eu-central-1", email, "DE"))
	if n := w.calls["eu-central-1"].Load(); n != 2 {
		t.Errorf("sign-up on a replica miss made %d DynamoDB round trips, want 2 (local, then registry region)", n)
	}
	if items := scanRaw(t, w, registryRegion); len(items) != 0 {
		t.Fatalf("a sign-up wrote %d registry items, want none before the address is verified", len(items))
	}
	// Until someone proves they own the address, anyone may sign it up anywhere.
	wantAllowed(t, "unconfirmed sign-up elsewhere", w.doSignUp(t, "us-east-1", email, "US"))

	w.resetCalls()
	wantAllowed(t, "confirmation in eu-central-1", w.doConfirm("eu-central-1", email, true))
	if n := w.calls["eu-central-1"].Load(); n != 1 {
		t.Errorf("confirmation made %d DynamoDB round trips, want 1 (the conditional claim)", n)
	}
	wantAllowed(t, "repeated confirmation at home", w.doConfirm("eu-central-1", email, true))
	wantAllowed(t, "same-region sign-up again", w.doSignUp(t, "eu-central-1", email, "DE"))
	for _, variant := range []string{"jane.doe@example.com", "  JANE.DOE@EXAMPLE.COM ", "Jane.Doe@example.COM\t"} {
		wantRefused(t, "sign-up in eu-west-1 of "+variant, w.doSignUp(t, "eu-west-1", variant, "DE"), "already registered in eu-central-1")
		wantRefused(t, "sign-up in us-east-1 of "+variant, w.doSignUp(t, "us-east-1", variant, "US"), "eu-central-1")
		wantRefused(t, "confirmation in us-east-1 of "+variant, w.doConfirm("us-east-1", variant, true), "already belongs to an account in eu-central-1")
		wantAllowed(t, "same-region sign-up of "+variant, w.doSignUp(t, "eu-central-1", variant, "DE"))
	}
	wantAllowed(t, "another e-mail in eu-west-1", w.doSignUp(t, "eu-west-1", "jane.doe+other@example.com", "DE"))
	wantAllowed(t, "another e-mail confirmed in eu-west-1", w.doConfirm("eu-west-1", "jane.doe+other@example.com", true))

	// Only the registry region holds the claims (moto does not replicate):
	// eu-central-1's replica misses, so this is the replication-lag case.
	w.resetCalls()
	wantAllowed(t, "sign-in at home during replication lag", w.doSignIn("eu-central-1", " jane.DOE@example.com"))
	if n := w.calls["eu-central-1"].Load(); n != 2 {
		t.Errorf("sign-in on a replica miss made %d round trips, want 2", n)
	}
	wantRefused(t, "sign-in in the registry region", w.doSignIn("eu-west-1", email), "home region is eu-central-1")
	wantRefused(t, "sign-in in us-east-1 during lag", w.doSignIn("us-east-1", email), "home region is eu-central-1")

	// Replicate the claims by hand: a warm sign-in is one local read.
	replicate(t, w, "eu-central-1")
	replicate(t, w, "us-east-1")
	w.resetCalls()
	wantAllowed(t, "sign-in at home, replicated", w.doSignIn("eu-central-1", email))
	if n := w.calls["eu-central-1"].Load(); n != 1 {
		t.Errorf("warm sign-in made %d DynamoDB round trips, want 1", n)
	}
	wantRefused(t, "sign-in in us-east-1, replicated", w.doSignIn("us-east-1", email), "eu-central-1")
	if n := w.calls["us-east-1"].Load(); n != 1 {
		t.Errorf("refused sign-in made %d round trips, want 1", n)
	}

	// The registry holds HMACs, never the e-mail.
	items := scanRaw(t, w, registryRegion)
	if len(items) != 2 {
		t.Fatalf("registry has %d items, want 2", len(items))
	}
	for _, it := range items {
		if len(it) != 4 {
			t.Errorf("item has %d attributes, want idKey, homeRegion, createdAt, policyVersion: %v", len(it), it)
		}
		for k, v := range it {
			if strings.Contains(strings.ToLower(v), "jane") || strings.Contains(v, "@") {
				t.Errorf("registry attribute %s = %q holds the e-mail", k, v)
			}
		}
		if it[registry.AttrPolicyVersion] != w.version {
			t.Errorf("policy version %q, want %q", it[registry.AttrPolicyVersion], w.version)
		}
	}

	// Nothing above logged the e-mail.
	w.logMu.Lock()
	logs := strings.ToLower(w.log.String())
	w.logMu.Unlock()
	if strings.Contains(logs, "jane") || strings.Contains(logs, "example.com") {
		t.Errorf("log contains the e-mail:\n%s", logs)
	}
	if !strings.Contains(logs, `"outcome":"refuse"`) || !strings.Contains(logs, `"outcome":"allow"`) {
		t.Errorf("log lacks the outcomes:\n%s", logs)
	}
}

// scanRaw returns region's registry items as attribute name -> string value.
func scanRaw(t *testing.T, w *world, region string) []map[string]string {
	t.Helper()
	out, err := w.db[region].Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(w.table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]string
	for _, it := range out.Items {
		m := map[string]string{}
		for k, v := range it {
			m[k] = fmt.Sprintf("%v", v)
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				m[k] = s.Value
			}
		}
		items = append(items, m)
	}
	return items
}

// replicate copies every claim of the registry region into region's table,
// as global-table replication would.
func replicate(t *testing.T, w *world, region string) {
	t.Helper()
	out, err := w.db[registryRegion].Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(w.table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if _, err := w.db[region].PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIntegrationLegacyAdoption(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const legacy = "old.timer@example.org"
	wantAllowed(t, "legacy user's first sign-in in us-east-1", w.doSignIn("us-east-1", legacy))
	items := scanRaw(t, w, registryRegion)
	if len(items) != 1 || items[0][registry.AttrHomeRegion] != "us-east-1" {
		t.Fatalf("after adoption the registry holds %v, want one us-east-1 claim", items)
	}
	wantAllowed(t, "second sign-in in us-east-1", w.doSignIn("us-east-1", legacy))
	wantRefused(t, "legacy user's sign-in in eu-central-1", w.doSignIn("eu-central-1", legacy), "us-east-1")
	wantRefused(t, "sign-up elsewhere of the adopted e-mail", w.doSignUp(t, "eu-west-1", legacy, "DE"), "already registered in us-east-1")

	// Race: a legacy user signing in concurrently in three regions is
	// adopted by exactly one.
	const racer = "racing.legacy@example.org"
	wins := race(t, 30, func(i int) (string, error) {
		r := regions[i%len(regions)]
		return r, w.doSignIn(r, racer)
	})
	if len(wins) != 1 {
		t.Fatalf("legacy adoption race: regions that allowed = %v, want exactly one", wins)
	}
}

// race runs n calls concurrently and returns the regions whose calls were
// allowed; it fails the test when a region has both outcomes or a refusal
// does not name the winner.
func race(t *testing.T, n int, call func(i int) (string, error)) map[string]int {
	t.Helper()
	type result struct {
		region string
		err    error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := call(i)
			results[i] = result{r, err}
		}()
	}
	close(start)
	wg.Wait()
	wins := map[string]int{}
	for _, r := range results {
		if r.err == nil {
			wins[r.region]++
		}
	}
	var winner string
	for r := range wins {
		winner = r
	}
	for _, r := range results {
		switch {
		case r.err != nil && r.region == winner:
			t.Errorf("call in the winning region %s refused: %v", winner, r.err)
		case r.err != nil && !strings.Contains(r.err.Error(), winner):
			t.Errorf("refusal in %s does not name the winner %s: %v", r.region, winner, r.err)
		}
	}
	return wins
}

// TestIntegrationConcurrentVerifiedClaims confirms one address, spelled
// four ways, concurrently in three regions: exactly one region wins every
// one of its confirmations, the others fail naming it, and then only the
// winner lets the user sign in.
func TestIntegrationConcurrentVerifiedClaims(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	variants := []string{"Race@Example.com", "race@example.com", " RACE@EXAMPLE.COM ", "race@Example.Com"}
	const n = 60
	for _, r := range regions {
		wantAllowed(t, "sign-up in "+r, w.doSignUp(t, r, variants[0], countryFor(r)))
	}
	wins := race(t, n, func(i int) (string, error) {
		r := regions[i%len(regions)]
		return r, w.doConfirm(r, variants[i%len(variants)], true)
	})
	if len(wins) != 1 {
		t.Fatalf("regions whose confirmations claimed the address: %v, want exactly one", wins)
	}
	var winner string
	for r, k := range wins {
		winner = r
		if k != n/len(regions) {
			t.Errorf("winner %s succeeded %d of its %d confirmations, want all (repeats at home succeed)", r, k, n/len(regions))
		}
	}
	items := scanRaw(t, w, registryRegion)
	if len(items) != 1 || items[0][registry.AttrHomeRegion] != winner {
		t.Fatalf("registry holds %v, want one claim for %s", items, winner)
	}
	for _, r := range regions {
		replicate(t, w, r)
	}
	for _, r := range regions {
		err := w.doSignIn(r, "race@example.com")
		if r == winner {
			wantAllowed(t, "sign-in in the winning region", err)
		} else {
			wantRefused(t, "sign-in in "+r, err, "home region is "+winner)
		}
	}
}

// TestIntegrationSquatting is the attack this design closes: someone who
// knows the victim's address signs it up in us-east-1 and never confirms it
// (they cannot: the code goes to the victim). The victim then signs up,
// confirms and signs in at home, and the squatter's account, even if an
// administrator confirms it without verifying the address, signs in nowhere.
func TestIntegrationSquatting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const victim = "victim@example.org"
	wantAllowed(t, "squatter's sign-up in us-east-1", w.doSignUp(t, "us-east-1", victim, "US"))
	if items := scanRaw(t, w, registryRegion); len(items) != 0 {
		t.Fatalf("the squatter's sign-up left %d registry items", len(items))
	}

	wantAllowed(t, "owner's sign-up in eu-west-1", w.doSignUp(t, "eu-west-1", victim, "DE"))
	wantAllowed(t, "owner's confirmation", w.doConfirm("eu-west-1", victim, true))
	wantAllowed(t, "owner's sign-in at home", w.doSignIn("eu-west-1", victim))

	// The squatter's account: admin-confirmed (address unverified), or
	// confirmed with a code the squatter could never have had.
	wantRefused(t, "squatter's admin confirmation", w.doConfirm("us-east-1", victim, false), "not verified")
	wantRefused(t, "squatter's verified confirmation", w.doConfirm("us-east-1", victim, true), "eu-west-1")
	wantRefused(t, "squatter's sign-in in us-east-1, replica behind", w.doSignInAs("us-east-1", victim, false), "not verified")
	replicate(t, w, "us-east-1")
	wantRefused(t, "squatter's sign-in in us-east-1, replicated", w.doSignInAs("us-east-1", victim, false), "home region is eu-west-1")
	wantRefused(t, "squatter's sign-in in eu-central-1", w.doSignInAs("eu-central-1", victim, true), "home region is eu-west-1")
	wantRefused(t, "a new sign-up in us-east-1", w.doSignUp(t, "us-east-1", victim, "US"), "already registered in eu-west-1")

	items := scanRaw(t, w, registryRegion)
	if len(items) != 1 || items[0][registry.AttrHomeRegion] != "eu-west-1" {
		t.Fatalf("registry holds %v, want the owner's eu-west-1 claim only", items)
	}
	w.logMu.Lock()
	logs := strings.ToLower(w.log.String())
	w.logMu.Unlock()
	if strings.Contains(logs, "victim") || strings.Contains(logs, "example.org") {
		t.Errorf("log contains the e-mail:\n%s", logs)
	}
	if !strings.Contains(logs, `"reason":"unverified_email"`) || !strings.Contains(logs, `"reason":"registered_elsewhere"`) {
		t.Errorf("log lacks the refusal reasons:\n%s", logs)
	}
}

// TestIntegrationUnverifiedAdoptionRefused: a user without a claim whose
// address is not verified (an administrator-created user, or a pool that let
// an e-mail change take effect unverified) is refused and leaves nothing.
func TestIntegrationUnverifiedAdoptionRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, r := range regions {
		wantRefused(t, "unverified sign-in in "+r, w.doSignInAs(r, "changed.to@example.net", false), "not verified")
	}
	if items := scanRaw(t, w, registryRegion); len(items) != 0 {
		t.Fatalf("refused sign-ins left %d registry items", len(items))
	}
	wantAllowed(t, "the address's owner confirms in us-east-1", w.doConfirm("us-east-1", "changed.to@example.net", true))
}

// TestIntegrationRegistryBlackHole points the registry clients, built like
// production (awsconfig.Load with SDKOptions' bounded retries), at an endpoint
// that accepts connections and never answers: the three triggers deny with the
// short message before Cognito's 5 s trigger limit.
func TestIntegrationRegistryBlackHole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bh := mototest.BlackHole(t)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "eu-central-1", func(k string) string {
		return map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}[k]
	}, SDKOptions)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(bh)
	local := dynamodb.NewFromConfig(cfg)
	home := dynamodb.NewFromConfig(awsconfig.ForRegion(cfg, registryRegion))
	reg := registry.New(w.table, "eu-central-1", registryRegion, local, home, w.version)
	keys := w.keys["eu-central-1"]
	if _, err := keys.Key(ctx, "warm@example.com"); err != nil { // derive K from moto first, as an earlier invocation would have
		t.Fatal(err)
	}
	var buf bytes.Buffer
	su := mustPreSignUp("eu-central-1", policy(t), keys, reg, logging.New(&buf, "INFO"), 0)
	pa := mustPreAuth("eu-central-1", policy(t), keys, reg, logging.New(&buf, "INFO"), 0)
	pc := mustPostConfirmation("eu-central-1", policy(t), keys, reg, logging.New(&buf, "INFO"), 0)

	const cognitoLimit = 5 * time.Second
	type outcome struct {
		name    string
		err     error
		elapsed time.Duration
		want    string
	}
	results := make(chan outcome, 3)
	go func() {
		ev := events.CognitoEventUserPoolsPreSignup{}
		ev.TriggerSource = SourceSignUp
		ev.UserPoolID = w.pool["eu-central-1"]
		ev.Request.UserAttributes = map[string]string{AttrEmail: "hole@example.com", AttrRegion: "eu-central-1", AttrCountry: "DE"}
		start := time.Now()
		_, err := su.Handle(ctx, ev)
		results <- outcome{"PreSignUp", err, time.Since(start), SignUpUnavailable}
	}()
	go func() {
		ev := events.CognitoEventUserPoolsPreAuthentication{}
		ev.TriggerSource = SourceAuthentication
		ev.UserPoolID = w.pool["eu-central-1"]
		ev.Request.UserAttributes = map[string]string{AttrEmail: "hole@example.com", AttrEmailVerified: "true"}
		start := time.Now()
		_, err := pa.Handle(ctx, ev)
		results <- outcome{"PreAuth", err, time.Since(start), SignInUnavailable}
	}()
	go func() {
		ev := events.CognitoEventUserPoolsPostConfirmation{}
		ev.TriggerSource = SourceConfirmSignUp
		ev.UserPoolID = w.pool["eu-central-1"]
		ev.Request.UserAttributes = map[string]string{AttrEmail: "hole@example.com", AttrEmailVerified: "true"}
		start := time.Now()
		_, err := pc.Handle(ctx, ev)
		results <- outcome{"PostConfirmation", err, time.Since(start), ConfirmUnavailable}
	}()
	for range 3 {
		o := <-results
		if o.err == nil || o.err.Error() != o.want {
			t.Errorf("%s with a black-hole registry = %v, want %q", o.name, o.err, o.want)
		}
		if o.elapsed >= cognitoLimit {
			t.Errorf("%s answered after %s, past Cognito's %s trigger limit", o.name, o.elapsed, cognitoLimit)
		}
		t.Logf("%s denied after %s", o.name, o.elapsed.Round(time.Millisecond))
	}
}

// TestIntegrationZonePair: eu-central-1's triggers configured as eu-west-1's
// partner (ParseEnv, as their cold start reads PAIR_REGION and
// PAIR_USER_POOL_ID) get the events of eu-west-1's pool replicated into
// eu-central-1 (userPoolId = eu-west-1's moto pool), with the claims in the
// registry region's moto table.
func TestIntegrationZonePair(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const c, west = "eu-central-1", registryRegion
	cfg := pairedConfig(t, c, west, w.pool[west])
	d := Deps{Policy: policy(t), Keys: w.keys[c], Registry: w.reg[c]}
	signUp := mustHandler(t, NewPreSignUp, cfg, d, w.logger)
	confirm := mustHandler(t, NewPostConfirmation, cfg, d, w.logger)
	signIn := mustHandler(t, NewPreAuth, cfg, d, w.logger)
	ctx := context.Background()
	// replicaSignIn is PreAuthentication at eu-central-1 for a user of pool.
	replicaSignIn := func(pool, email string, verified bool) error {
		ev := events.CognitoEventUserPoolsPreAuthentication{}
		ev.TriggerSource, ev.Region, ev.UserPoolID = SourceAuthentication, c, pool
		ev.Request.UserAttributes = map[string]string{AttrEmail: email, AttrEmailVerified: fmt.Sprint(verified)}
		_, err := signIn.Handle(ctx, ev)
		return err
	}
	claims := func() map[string]int {
		m := map[string]int{}
		for _, it := range scanRaw(t, w, registryRegion) {
			m[it[registry.AttrHomeRegion]]++
		}
		return m
	}

	// A eu-west-1 user, signed up and confirmed at home, signs in at
	// eu-central-1 through the replica of eu-west-1's pool.
	const westUser = "west.user@example.com"
	wantAllowed(t, "sign-up at home", w.doSignUp(t, west, westUser, "DE"))
	wantAllowed(t, "confirmation at home", w.doConfirm(west, westUser, true))
	w.resetCalls()
	wantAllowed(t, "sign-in through the replica, replica of the registry behind", replicaSignIn(w.pool[west], westUser, true))
	if n := w.calls[c].Load(); n != 2 {
		t.Errorf("sign-in on a registry replica miss made %d round trips, want 2 (local, then the conditional claim in the registry region)", n)
	}
	replicate(t, w, c)
	w.resetCalls()
	wantAllowed(t, "sign-in through the replica, replicated", replicaSignIn(w.pool[west], westUser, true))
	if n := w.calls[c].Load(); n != 1 {
		t.Errorf("warm sign-in through the replica made %d round trips, want 1", n)
	}
	wantRefused(t, "the same user through eu-central-1's own pool", replicaSignIn(w.pool[c], westUser, true), "home region is eu-west-1")

	// Sign-up and confirmation happen only at the pool's primary.
	w.resetCalls()
	ev := events.CognitoEventUserPoolsPreSignup{}
	ev.TriggerSource, ev.Region, ev.UserPoolID = SourceSignUp, c, w.pool[west]
	ev.Request.UserAttributes = map[string]string{AttrEmail: "new.west@example.com", AttrRegion: west, AttrCountry: "DE"}
	_, err := signUp.Handle(ctx, ev)
	wantRefused(t, "sign-up through the replica", err, "only in eu-west-1")
	for _, source := range []string{SourceConfirmSignUp, SourceConfirmForgotPassword} {
		ev := events.CognitoEventUserPoolsPostConfirmation{}
		ev.TriggerSource, ev.Region, ev.UserPoolID = source, c, w.pool[west]
		ev.Request.UserAttributes = map[string]string{AttrEmail: "new.west@example.com", AttrEmailVerified: "true"}
		_, err := confirm.Handle(ctx, ev)
		wantRefused(t, source+" through the replica", err, "only in eu-west-1")
	}
	if n := w.calls[c].Load(); n != 0 {
		t.Errorf("refused replica sign-up and confirmations made %d registry calls", n)
	}
	if got := claims(); got[west] != 1 || len(got) != 1 {
		t.Fatalf("registry holds %v, want the one eu-west-1 claim", got)
	}

	// A eu-west-1 user without a claim (created before homeregion) is adopted
	// for eu-west-1, never for eu-central-1, when their address is verified.
	const legacy = "legacy.west@example.com"
	wantRefused(t, "unverified legacy user through the replica", replicaSignIn(w.pool[west], legacy, false), "not verified")
	if got := claims(); got[west] != 1 || len(got) != 1 {
		t.Fatalf("an unverified sign-in wrote: registry holds %v", got)
	}
	wantAllowed(t, "verified legacy user through the replica", replicaSignIn(w.pool[west], legacy, true))
	if got := claims(); got[west] != 2 || len(got) != 1 {
		t.Fatalf("after the adoption the registry holds %v, want two eu-west-1 claims", got)
	}
	wantAllowed(t, "the adopted user at home", w.doSignIn(west, legacy))
	wantRefused(t, "the adopted user through eu-central-1's own pool", replicaSignIn(w.pool[c], legacy, true), "home region is eu-west-1")

	// eu-central-1's own users keep today's rules.
	const centralUser = "central.user@example.com"
	wantAllowed(t, "sign-up in eu-central-1's own pool", w.doSignUp(t, c, centralUser, "DE"))
	wantAllowed(t, "confirmation in eu-central-1's own pool", w.doConfirm(c, centralUser, true))
	wantAllowed(t, "sign-in through eu-central-1's own pool", replicaSignIn(w.pool[c], centralUser, true))
	wantRefused(t, "eu-central-1's user through the replica of eu-west-1's pool", replicaSignIn(w.pool[west], centralUser, true), "home region is eu-central-1")

	// A us-east-1 user is refused whatever pool the event names.
	const usUser = "us.user@example.com"
	wantAllowed(t, "confirmation in us-east-1", w.doConfirm("us-east-1", usUser, true))
	wantRefused(t, "us-east-1 user's event at eu-central-1", replicaSignIn(w.pool["us-east-1"], usUser, true), UnknownPool)
	wantRefused(t, "us-east-1 user through the replica", replicaSignIn(w.pool[west], usUser, true), "home region is us-east-1")
	// A pool of a third region, and another pool of eu-west-1, are nobody's here.
	wantRefused(t, "a third region's pool", replicaSignIn("eu-west-3_"+strings.SplitN(w.pool[west], "_", 2)[1], centralUser, true), UnknownPool)
	wantRefused(t, "another pool of eu-west-1", replicaSignIn(w.pool[west]+"x", westUser, true), UnknownPool)
	if got := claims(); len(got) != 3 || got[west] != 2 || got[c] != 1 || got["us-east-1"] != 1 {
		t.Fatalf("registry holds %v, want 2 eu-west-1, 1 eu-central-1 and 1 us-east-1 claims", got)
	}

	w.logMu.Lock()
	logs := strings.ToLower(w.log.String())
	w.logMu.Unlock()
	for _, s := range []string{`"reason":"replica_no_signup"`, `"reason":"replica_no_confirmation"`, `"reason":"unknown_pool"`, `"poolhome":"eu-west-1"`, `"outcome":"adopt"`} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
	if strings.Contains(logs, "example.com") || strings.Contains(logs, "west.user") {
		t.Errorf("log contains an e-mail:\n%s", logs)
	}
}
