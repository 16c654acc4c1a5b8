package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/sealed"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// The people of the fixture: A is erased, B is not.
const (
	subA, emailA = "11111111-aaaa-4aaa-8aaa-111111111111", "anna.erased@example.com"
	subB, emailB = "22222222-bbbb-4bbb-8bbb-222222222222", "bert.kept@example.com"
	region       = "eu-central-1"
	siteDB       = "site-primary/db-1"
)

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// fixture is one region's erasure world: the orders table on moto, the
// rest hand-written fakes, a clock the test moves, and a site that
// confirms every erasure message it can open.
type fixture struct {
	t       *testing.T
	f       *faults
	w       *Worker
	pool    *fakePool
	reg     *fakeRegistry
	queue   *fakeQueue
	dlq     *fakeDLQ
	db      *dynamodb.Client
	table   string
	ring    *sealed.Keyring
	logs    *logtest.Buffer
	metrics *logtest.Buffer
	now     time.Time
	site    bool // the site confirms messages
}

var tableSeq struct {
	sync.Mutex
	n int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := mototest.Require(t)
	tableSeq.Lock()
	tableSeq.n++
	table := fmt.Sprintf("erasure-%d-%d", time.Now().UnixNano(), tableSeq.n)
	tableSeq.Unlock()
	db := dynamodb.NewFromConfig(srv.Config(region))
	mototest.CreateTable(t, db, "OrdersTable", table)
	keyFile := filepath.Join(t.TempDir(), "site.key")
	pub, err := sealed.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := sealed.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, f: newFaults(), db: db, table: table, ring: ring, logs: &logtest.Buffer{}, metrics: &logtest.Buffer{}, now: t0, site: true}
	fx.pool = &fakePool{f: fx.f, users: map[string]*fakeUser{
		"user-a": {username: "user-a", sub: subA, email: emailA, enabled: true},
		"user-b": {username: "user-b", sub: subB, email: emailB, enabled: true},
	}}
	fx.reg = &fakeRegistry{f: fx.f, claims: map[string]registry.Record{
		idKeyOf(emailA): {Key: idKeyOf(emailA), HomeRegion: region, CreatedAt: t0.Add(-time.Hour)},
		idKeyOf(emailB): {Key: idKeyOf(emailB), HomeRegion: region, CreatedAt: t0.Add(-time.Hour)},
	}}
	fx.queue = &fakeQueue{f: fx.f}
	fx.dlq = &fakeDLQ{f: fx.f}
	fx.w = New(Worker{
		Region: region, Table: table, QueueURL: "https://sqs.eu-central-1.amazonaws.com/1/orders", DLQURL: "https://sqs.eu-central-1.amazonaws.com/1/orders-dlq",
		PoolID: "eu-central-1_pool", SiteKey: pub,
		Pool: fx.pool, Keys: fakeKeys{fx.f}, Registry: fx.reg, DB: faultyTable{fx.f, db}, Queue: fx.queue, DLQ: fx.dlq,
		Log:     slog.New(slog.NewJSONHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: fx.metrics,
		Now:     func() time.Time { return fx.now },
	})
	ctx := context.Background()
	// Each user: an order and its idempotency record; a dead letter each
	// (A's sealed version 2 carries the owner in the clear), and a version 3
	// message of some other erasure.
	for _, u := range []string{subA, subB} {
		if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			ordertable.Create(table, ordertable.Order{ID: "order-of-" + u[:8], Owner: u, Status: orders.StatusAccepted, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour)}),
		}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			ordertable.AttrPK: ddbattr.S(ordertable.IdemKey(u, "key-1")), ordertable.AttrOwner: ddbattr.S(u),
			ordertable.AttrOrderID: ddbattr.S("order-of-" + u[:8]), "state": ddbattr.S("COMPLETE"),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	fx.dlq.add(fmt.Sprintf(`{"version":2,"orderId":"order-of-%s","region":%q,"owner":%q,"sealed":{"kid":"k","ct":"c"}}`, subA[:8], region, subA), "")
	fx.dlq.add(fmt.Sprintf(`{"version":1,"orderId":"order-of-%s","region":%q,"owner":%q,"order":{}}`, subB[:8], region, subB), "")
	fx.dlq.add(`{"version":3,"erasureId":"someone-elses","region":"eu-central-1","sealed":{"kid":"k","ct":"c"}}`, "someone-elses")
	if err := ordertable.RegisterSite(ctx, db, table, siteDB); err != nil {
		t.Fatal(err)
	}
	return fx
}

// request records A's erasure (as DELETE /me does).
func (fx *fixture) request() ordertable.Erasure {
	fx.t.Helper()
	e, _, err := ordertable.RequestErasure(context.Background(), fx.db, fx.table, subA, "erasure-1", ordertable.ViaUser, "", fx.now)
	if err != nil {
		fx.t.Fatal(err)
	}
	return e
}

// siteRound is the site: every message it can open is erased and
// confirmed (the processor's part, with ordertable.ConfirmErasure).
func (fx *fixture) siteRound() {
	fx.t.Helper()
	for _, in := range fx.queue.take() {
		if !fx.site {
			continue
		}
		var m orders.SealedErasure
		if err := json.Unmarshal([]byte(aws.ToString(in.MessageBody)), &m); err != nil {
			fx.t.Fatalf("site message: %v", err)
		}
		e, err := fx.ring.OpenErasure(m)
		if err != nil {
			fx.t.Fatalf("site message: %v", err)
		}
		if aws.ToString(in.MessageAttributes[orders.MessageAttrErasureID].StringValue) != e.ErasureID {
			fx.t.Errorf("site message attribute erasureId does not match the body's %s", e.ErasureID)
		}
		if err := ordertable.ConfirmErasure(context.Background(), fx.db, fx.table, e.ErasureID, siteDB, fx.now); err != nil {
			fx.t.Fatal(err)
		}
	}
}

// runUntilCompleted runs the schedule (10 s apart) until A's erasure is
// COMPLETED, at most runs times; it returns the number of runs.
func (fx *fixture) runUntilCompleted(runs int) int {
	fx.t.Helper()
	ctx := context.Background()
	for i := 1; i <= runs; i++ {
		if _, err := fx.w.Run(ctx); err != nil && !strings.Contains(err.Error(), errInjected.Error()) {
			fx.t.Fatalf("run %d: %v", i, err)
		}
		fx.siteRound()
		fx.dlq.unhideAll() // a crashed sweep's messages reappear after 30 s
		fx.now = fx.now.Add(10 * time.Second)
		e, err := ordertable.GetErasure(ctx, fx.db, fx.table, subA)
		if err != nil {
			fx.t.Fatal(err)
		}
		if e.Status == ordertable.ErasureCompleted {
			return i
		}
	}
	fx.t.Fatalf("not COMPLETED after %d runs; logs:\n%s", runs, fx.logs)
	return 0
}

// record is A's erasure record as stored.
func (fx *fixture) record() map[string]types.AttributeValue {
	fx.t.Helper()
	out, err := fx.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(fx.table), Key: ddbattr.Key(ordertable.AttrPK, ordertable.ErasureKey(subA)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		fx.t.Fatal(err)
	}
	return out.Item
}

// assertErased checks every place: A is gone everywhere, B untouched, the
// record holds only the proof.
func (fx *fixture) assertErased() {
	t := fx.t
	t.Helper()
	ctx := context.Background()
	if fx.pool.user(subA) != nil {
		t.Error("A is still in the pool")
	}
	if u := fx.pool.user(subB); u == nil || !u.enabled {
		t.Errorf("B was touched: %+v", u)
	}
	if _, ok := fx.reg.claim(idKeyOf(emailA)); ok {
		t.Error("A's registry claim is still there")
	}
	if _, ok := fx.reg.claim(idKeyOf(emailB)); !ok {
		t.Error("B's registry claim is gone")
	}
	if keys, err := ordertable.OwnerItems(ctx, fx.db, fx.table, subA, 0); err != nil || len(keys) != 0 {
		t.Errorf("A's items in the owner index: %v, %v", keys, err)
	}
	if keys, err := ordertable.OwnerItems(ctx, fx.db, fx.table, subB, 0); err != nil || len(keys) != 2 {
		t.Errorf("B's items in the owner index: %v, %v; want its order and idempotency record", keys, err)
	}
	out, err := fx.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(fx.table), Key: ddbattr.Key(ordertable.AttrPK, ordertable.OrderKey("order-of-"+subA[:8])), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	r := ddbattr.NewReader(out.Item)
	if r.S(ordertable.AttrStatus) != string(orders.StatusErased) || out.Item[ordertable.AttrOwner] != nil || r.S(ordertable.AttrErasureID) != "erasure-1" ||
		r.Unix(ordertable.AttrExpiresAt).Before(t0.Add(14*24*time.Hour)) {
		t.Errorf("A's order is not a tombstone with a TTL past the DLQ's retention: %v", out.Item)
	}
	if _, err := ordertable.Get(ctx, fx.db, fx.table, "order-of-"+subA[:8]); err == nil {
		t.Error("A's erased order is still readable")
	}
	want := []string{
		fmt.Sprintf(`{"version":1,"orderId":"order-of-%s","region":%q,"owner":%q,"order":{}}`, subB[:8], region, subB),
		`{"version":3,"erasureId":"someone-elses","region":"eu-central-1","sealed":{"kid":"k","ct":"c"}}`,
	}
	if got := fx.dlq.bodies(); !slices.Equal(got, want) {
		t.Errorf("DLQ = %q, want only B's and the other erasure's, visible: %q", got, want)
	}
	rec := fx.record()
	for _, a := range []string{ordertable.AttrSubject, ordertable.AttrIDKey, ordertable.AttrClaimCreatedAt, ordertable.AttrDone,
		ordertable.AttrSentAt, ordertable.AttrSends, ordertable.AttrErasurePending} {
		if _, ok := rec[a]; ok {
			t.Errorf("the completed record keeps %s", a)
		}
	}
	for name := range rec {
		if strings.HasPrefix(name, ordertable.AttrCountPrefix) {
			t.Errorf("the completed record keeps the temporary count %s", name)
		}
	}
	for _, a := range []string{ordertable.AttrErasureID, ordertable.AttrRequestedAt, ordertable.AttrCompletedAt, ordertable.AttrVia, ordertable.AttrCounts} {
		if _, ok := rec[a]; !ok {
			t.Errorf("the completed record lacks %s", a)
		}
	}
	for _, secret := range []string{subA, emailA, idKeyOf(emailA), ordertable.ErasureKey(subA)[len("ERASURE#"):]} {
		if strings.Contains(fmt.Sprint(rec), secret) {
			t.Errorf("the completed record contains %q", secret)
		}
	}
	for _, secret := range []string{subA, emailA, "user-a", subB, emailB} {
		if strings.Contains(fx.logs.String(), secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
}

func counts(t *testing.T, rec map[string]types.AttributeValue) map[string]string {
	t.Helper()
	m, ok := rec[ordertable.AttrCounts].(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("no counts map: %v", rec)
	}
	out := map[string]string{}
	for k, v := range m.Value {
		out[k] = v.(*types.AttributeValueMemberN).Value
	}
	return out
}

func TestErasureCompletes(t *testing.T) {
	fx := newFixture(t)
	fx.request()
	runs := fx.runUntilCompleted(10)
	fx.assertErased()
	want := map[string]string{KindPoolUser: "1", KindRegistryClaim: "1", KindOrders: "1", KindIdempotency: "1", KindSites: "1", KindDLQ: "1"}
	if got := counts(t, fx.record()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	// One site message, no re-send: the site confirmed within the interval.
	t.Logf("COMPLETED after %d runs (the 5 s index settling), %d calls: %v", runs, fx.f.total(), fx.f.snapshot())
	// A completed erasure leaves the pending index: the next run has
	// nothing to do and reports 0 as the oldest pending age.
	res, err := fx.w.Run(context.Background())
	if err != nil || res.Pending != 0 {
		t.Fatalf("run after completion = %+v, %v", res, err)
	}
	lines := strings.Split(strings.TrimSpace(fx.metrics.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["OldestPendingErasureAgeSeconds"] != float64(0) || last["_aws"] == nil {
		t.Errorf("EMF line = %s, want OldestPendingErasureAgeSeconds 0", lines[len(lines)-1])
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["OldestPendingErasureAgeSeconds"] != float64(0) {
		t.Errorf("first EMF line = %s, want age 0 (the erasure was just requested)", lines[0])
	}
	if len(lines) < 2 {
		t.Fatal("no EMF line per run")
	}
	var second map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil || second["OldestPendingErasureAgeSeconds"] != float64(10) {
		t.Errorf("second EMF line = %s, want age 10", lines[1])
	}
}

// TestResumeAfterAnyFailure fails, in turn, every call a complete erasure
// makes (each operation's n-th call), before it takes effect (a throttled
// call) and after (a crash or a lost answer): the next runs resume and the
// erasure ends with every place clean and nothing of B touched.
func TestResumeAfterAnyFailure(t *testing.T) {
	clean := newFixture(t)
	clean.request()
	clean.runUntilCompleted(10)
	calls := clean.f.snapshot()
	ops := make([]string, 0, len(calls))
	for op := range calls {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		for n := 1; n <= calls[op]; n++ {
			for _, after := range []bool{false, true} {
				name := fmt.Sprintf("%s#%d/before", op, n)
				if after {
					name = fmt.Sprintf("%s#%d/after", op, n)
				}
				t.Run(name, func(t *testing.T) {
					fx := newFixture(t)
					fx.request()
					fx.f.op, fx.f.n, fx.f.after = op, n, after
					fx.runUntilCompleted(12)
					fx.assertErased()
				})
			}
		}
	}
}

// TestRegistryRace: between the worker's read of the claim and its release,
// the claim is released and the address signs up again in another region.
// The new owner's claim is kept; the erasure completes without it.
func TestRegistryRace(t *testing.T) {
	fx := newFixture(t)
	fx.request()
	newClaim := registry.Record{Key: idKeyOf(emailA), HomeRegion: "eu-west-1", CreatedAt: t0.Add(time.Minute)}
	fx.reg.afterLookup = func() {
		fx.reg.mu.Lock()
		fx.reg.claims[newClaim.Key] = newClaim
		fx.reg.mu.Unlock()
	}
	fx.runUntilCompleted(10)
	if c, ok := fx.reg.claim(newClaim.Key); !ok || c != newClaim {
		t.Fatalf("the new owner's claim = %+v, %v; want it kept", c, ok)
	}
	if got := counts(t, fx.record())[KindRegistryClaim]; got != "0" {
		t.Errorf("registry claims erased = %s, want 0", got)
	}
	// The same race with a new claim in this very region (released and
	// claimed again here): its createdAt differs, so it is kept too.
	fx2 := newFixture(t)
	fx2.request()
	again := registry.Record{Key: idKeyOf(emailA), HomeRegion: region, CreatedAt: t0.Add(time.Minute)}
	fx2.reg.afterLookup = func() {
		fx2.reg.mu.Lock()
		fx2.reg.claims[again.Key] = again
		fx2.reg.mu.Unlock()
	}
	fx2.runUntilCompleted(10)
	if c, ok := fx2.reg.claim(again.Key); !ok || c != again {
		t.Fatalf("the same region's new claim = %+v, %v; want it kept", c, ok)
	}
}

// TestNoSiteDatabase: a region with no site database listed is done with
// the site step at once, and says so.
func TestNoSiteDatabase(t *testing.T) {
	fx := newFixture(t)
	if _, err := fx.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(fx.table), Key: ddbattr.Key(ordertable.AttrPK, ordertable.SitesKey)}); err != nil {
		t.Fatal(err)
	}
	fx.request()
	fx.runUntilCompleted(10)
	if n := len(fx.queue.take()); n != 0 {
		t.Errorf("%d site messages sent, want none", n)
	}
	if !strings.Contains(fx.logs.String(), "no site database is listed") {
		t.Error("no log line says the site step was skipped")
	}
	if got := counts(t, fx.record())[KindSites]; got != "0" {
		t.Errorf("site databases = %s, want 0", got)
	}
}

// TestResendInterval: an offline site gets the message again at most once
// per interval, 1 min doubling to the maximum; when it comes back and
// confirms, the erasure completes.
func TestResendInterval(t *testing.T) {
	fx := newFixture(t)
	fx.w.MaxResendInterval = 4 * time.Minute
	fx.site = false
	fx.request()
	var sentAt []time.Duration
	ctx := context.Background()
	for fx.now.Sub(t0) < 16*time.Minute {
		if _, err := fx.w.Run(ctx); err != nil {
			t.Fatal(err)
		}
		for range fx.queue.take() {
			sentAt = append(sentAt, fx.now.Sub(t0))
		}
		fx.now = fx.now.Add(10 * time.Second)
	}
	// The first at 10 s (after the orders step settles), then +1, +2, +4,
	// +4 min (the maximum).
	want := []time.Duration{10 * time.Second, 70 * time.Second, 190 * time.Second, 430 * time.Second, 670 * time.Second, 910 * time.Second}
	if !slices.Equal(sentAt, want) {
		t.Fatalf("site messages sent at %v, want %v", sentAt, want)
	}
	e, err := ordertable.GetErasure(ctx, fx.db, fx.table, subA)
	if err != nil || e.Status != ordertable.ErasureInProgress {
		t.Fatalf("erasure while the site is offline = %+v, %v; want IN_PROGRESS", e, err)
	}
	fx.site = true
	fx.now = fx.now.Add(5 * time.Minute)
	fx.runUntilCompleted(5)
	fx.assertErased()
}

// TestRunStopsBeforeTheDeadline: a run with less than Reserve left starts
// nothing.
func TestRunStopsBeforeTheDeadline(t *testing.T) {
	fx := newFixture(t)
	fx.request()
	ctx, cancel := context.WithTimeout(context.Background(), fx.w.Reserve/2)
	defer cancel()
	res, err := fx.w.Run(ctx)
	if err != nil || res.Pending != 1 || res.Skipped != 1 {
		t.Fatalf("Run = %+v, %v; want the one erasure skipped", res, err)
	}
	if e, _ := ordertable.GetErasure(context.Background(), fx.db, fx.table, subA); e.Status != ordertable.ErasureAccepted {
		t.Errorf("status = %s, want ACCEPTED (nothing started)", e.Status)
	}
}

// TestOneFailureDoesNotBlockOthers: B's erasure fails at every run (its
// user cannot be disabled); A's still completes.
func TestOneFailureDoesNotBlockOthers(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	// B first (older), failing for good.
	if _, _, err := ordertable.RequestErasure(ctx, fx.db, fx.table, subB, "erasure-b", ordertable.ViaUser, "", fx.now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	fx.w.Pool = &failingDisable{fakePool: fx.pool, sub: subB}
	fx.request()
	fx.runUntilCompleted(10)
	e, err := ordertable.GetErasure(ctx, fx.db, fx.table, subB)
	if err != nil || e.Status != ordertable.ErasureInProgress {
		t.Fatalf("B's erasure = %+v, %v; want IN_PROGRESS", e, err)
	}
	if !strings.Contains(fx.logs.String(), "erasure-b") || !strings.Contains(fx.logs.String(), "step disable") {
		t.Errorf("the failure is not logged with its erasure id and step:\n%s", fx.logs)
	}
}

// failingDisable refuses to disable the user with sub.
type failingDisable struct {
	*fakePool
	sub string
}

func (p *failingDisable) AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, o ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error) {
	if u := p.fakePool.user(p.sub); u != nil && u.username == aws.ToString(in.Username) {
		return nil, fmt.Errorf("throttled: %w", errInjected)
	}
	return p.fakePool.AdminDisableUser(ctx, in, o...)
}

// keyFunc is a Keyer.
type keyFunc func(ctx context.Context, email string) (string, error)

func (f keyFunc) Key(ctx context.Context, email string) (string, error) { return f(ctx, email) }

// TestAddressWithoutKey: an address identity refuses for good has no
// claim; the erasure completes without one instead of retrying for ever,
// while a KMS failure is retried.
func TestAddressWithoutKey(t *testing.T) {
	fx := newFixture(t)
	fx.request()
	calls := 0
	fx.w.Keys = keyFunc(func(context.Context, string) (string, error) {
		calls++
		if calls == 1 {
			return "", errors.New("kms: throttled")
		}
		return "", fmt.Errorf("%w: character '(' is not allowed before the '@'", identity.ErrMalformedEmail)
	})
	fx.runUntilCompleted(10)
	if calls != 2 {
		t.Errorf("identity keys computed %d times, want 2 (a retry after the KMS failure)", calls)
	}
	rec := fx.record()
	if got := counts(t, rec)[KindRegistryClaim]; got != "0" {
		t.Errorf("registry claims erased = %s, want 0", got)
	}
	if _, ok := fx.reg.claim(idKeyOf(emailA)); !ok {
		t.Error("a claim the worker could not name was deleted")
	}
	if fx.pool.user(subA) != nil {
		t.Error("A is still in the pool")
	}
}

// laggingIndex is the orders table whose owner index lags its table: while
// the clock stands still (within one run), an owner index query answers what
// the first one answered, at most replays times, as a global secondary
// index does for a moment after its items change.
type laggingIndex struct {
	Table
	now     func() time.Time
	replays int
	at      time.Time
	stale   *dynamodb.QueryOutput
	left    int
	queries int // owner index queries, replayed or not
}

func (l *laggingIndex) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if aws.ToString(in.IndexName) != ordertable.OwnerIndex {
		return l.Table.Query(ctx, in, o...)
	}
	l.queries++
	if l.stale != nil && l.now().Equal(l.at) && l.left > 0 {
		l.left--
		return l.stale, nil
	}
	out, err := l.Table.Query(ctx, in, o...)
	if err == nil && len(out.Items) > 0 {
		l.stale, l.at, l.left = out, l.now(), l.replays
	}
	return out, err
}

// TestLaggingOwnerIndex: the owner index lists A's items again just after
// the worker erased them. Each is erased and counted once, and the worker
// does not query the index over and over.
func TestLaggingOwnerIndex(t *testing.T) {
	fx := newFixture(t)
	lag := &laggingIndex{Table: fx.w.DB, now: func() time.Time { return fx.now }, replays: 5}
	fx.w.DB = lag
	fx.request()
	fx.runUntilCompleted(10)
	fx.assertErased()
	got := counts(t, fx.record())
	if got[KindOrders] != "1" || got[KindIdempotency] != "1" {
		t.Errorf("counts = %v, want 1 order record and 1 idempotency record (each erased once)", got)
	}
	if lag.queries > 4 {
		t.Errorf("%d owner index queries: the worker re-queried a lagging index within a run", lag.queries)
	}
}
