package processor

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/sealed"
)

// erasedOwner is the owner the erasure tests erase; no log line may carry it.
const erasedOwner = "owner-sub-erased-4242"

// erasureMsg is the version 3 message of erasure id for erasedOwner, sealed
// to pub, with the erasureId attribute attr ("" for none), changed by mod
// after sealing.
func erasureMsg(t *testing.T, pub sealed.PublicKey, id, attr string, mod func(*orders.SealedErasure)) sqstypes.Message {
	t.Helper()
	m, err := sealed.SealErasure(pub, orders.Erasure{ErasureID: id, Region: "eu-west-1", Owner: erasedOwner, CreatedAt: time.Unix(100, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	msg := msg(id, string(b), "")
	if attr != "" {
		msg.MessageAttributes = map[string]sqstypes.MessageAttributeValue{orders.MessageAttrErasureID: {DataType: aws.String("String"), StringValue: aws.String(attr)}}
	}
	return msg
}

// erasureP is a processor on the fakes with keys and its logs in buf.
func erasureP(t *testing.T, q *fakeSQS, ddb fakeDDB, st fakeStore, keys Opener, buf *bytes.Buffer, mod func(*Deps)) *Processor {
	t.Helper()
	d := Deps{SQS: q, DynamoDB: ddb, Store: st, Keys: keys}
	if buf != nil {
		d.Log = slog.New(slog.NewJSONHandler(&lockedWriter{w: buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&d)
	}
	p, err := New(Config{QueueURL: "q", OrdersTable: "t", Site: "s", Concurrency: 4, WaitTime: time.Second}, d)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// calls records the order of the fakes' calls.
type calls struct {
	mu  sync.Mutex
	seq []string
}

func (c *calls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq = append(c.seq, s)
}

func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seq...)
}

func TestErasureMessage(t *testing.T) {
	_, pub, keys := processortest.NewKey(t)
	_, otherPub, _ := processortest.NewKey(t)
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name        string
		msg         func(t *testing.T) sqstypes.Message
		eraseErr    error
		eraserErr   error
		confirmErr  error
		recorded    string // the erasure id of the region's record (fakeDDB.erasure)
		wantCalls   []string
		wantDeleted bool
		want        Stats
	}{
		{name: "erased, confirmed, deleted",
			wantCalls: []string{"erase er-1", "eraser", "confirm er-1 db-test"}, wantDeleted: true, want: Stats{Erasures: 1}},
		{name: "without the attribute",
			msg:       func(t *testing.T) sqstypes.Message { return erasureMsg(t, pub, "er-1", "", nil) },
			wantCalls: []string{"erase er-1", "eraser", "confirm er-1 db-test"}, wantDeleted: true, want: Stats{Erasures: 1}},
		{name: "no erasure recorded (forged): nothing erased, deleted", recorded: "-",
			wantDeleted: true},
		{name: "another erasure recorded (stale): nothing erased, deleted", recorded: "er-9",
			wantDeleted: true},
		{name: "confirm fails: left for redelivery", confirmErr: errBoom,
			wantCalls: []string{"erase er-1", "eraser", "confirm er-1 db-test"}, want: Stats{Failed: 1}},
		{name: "erase fails: not confirmed, left for redelivery", eraseErr: errBoom,
			wantCalls: []string{"erase er-1"}, want: Stats{Failed: 1}},
		{name: "eraser fails: not confirmed, left for redelivery", eraserErr: errBoom,
			wantCalls: []string{"erase er-1", "eraser"}, want: Stats{Failed: 1}},
		{name: "eraser fails with an error naming the owner: the log line does not",
			eraserErr: fmt.Errorf("delete the ledger entries of %s: %w", erasedOwner, errBoom),
			wantCalls: []string{"erase er-1", "eraser"}, want: Stats{Failed: 1}},
		{name: "confirm fails with an error naming the owner: the log line does not",
			confirmErr: fmt.Errorf("update ERASURE# of %s: %w", erasedOwner, errBoom),
			wantCalls:  []string{"erase er-1", "eraser", "confirm er-1 db-test"}, want: Stats{Failed: 1}},
		{name: "sealed to another key: poison",
			msg:  func(t *testing.T) sqstypes.Message { return erasureMsg(t, otherPub, "er-1", "er-1", nil) },
			want: Stats{Poison: 1}},
		{name: "ciphertext of another erasure: poison",
			msg: func(t *testing.T) sqstypes.Message {
				donor := erasureMsg(t, pub, "er-2", "", nil)
				var d orders.SealedErasure
				_ = json.Unmarshal([]byte(aws.ToString(donor.Body)), &d)
				return erasureMsg(t, pub, "er-1", "er-1", func(m *orders.SealedErasure) { m.Sealed = d.Sealed })
			},
			want: Stats{Poison: 1}},
		{name: "attribute differs: poison",
			msg:  func(t *testing.T) sqstypes.Message { return erasureMsg(t, pub, "er-1", "er-2", nil) },
			want: Stats{Poison: 1}},
		{name: "no erasure id: poison",
			msg: func(t *testing.T) sqstypes.Message {
				return erasureMsg(t, pub, "er-1", "", func(m *orders.SealedErasure) { m.ErasureID = "" })
			},
			want: Stats{Poison: 1}},
		{name: "malformed: poison",
			msg: func(t *testing.T) sqstypes.Message {
				return msg("er-1", `{"version":3,"erasureId":5}`, "")
			},
			want: Stats{Poison: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c calls
			m := erasureMsg(t, pub, "er-1", "er-1", nil)
			if tc.msg != nil {
				m = tc.msg(t)
			}
			q := &fakeSQS{queue: []sqstypes.Message{m}}
			ddb := fakeDDB{
				erasure: tc.recorded,
				confirm: func(in *dynamodb.UpdateItemInput) error {
					pk := in.Key[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS).Value
					id, ok := strings.CutPrefix(pk, "CONFIRM#")
					if !ok {
						t.Errorf("confirm of key %s, want the erasure's confirmations item", pk)
					}
					db := in.ExpressionAttributeValues[":db"].(*ddbtypes.AttributeValueMemberSS).Value
					c.add("confirm " + id + " " + strings.Join(db, ","))
					return tc.confirmErr
				},
				update: func(*dynamodb.UpdateItemInput) error { c.add("order write"); return nil },
			}
			st := fakeStore{
				erase: func(owner, erasureID string, fn func(*sql.Tx) error) (int, error) {
					if owner != erasedOwner {
						t.Errorf("Erase owner %q, want %q", owner, erasedOwner)
					}
					c.add("erase " + erasureID)
					if tc.eraseErr != nil {
						return 0, tc.eraseErr
					}
					if err := fn(nil); err != nil {
						return 0, err
					}
					return 3, nil
				},
				prepare: saved(func(context.Context) error { c.add("prepare"); return nil }),
			}
			var logs bytes.Buffer
			p := erasureP(t, q, ddb, st, keys, &logs, func(d *Deps) {
				d.Eraser = EraserFunc(func(_ context.Context, _ *sql.Tx, owner string) error {
					if owner != erasedOwner {
						t.Errorf("Eraser owner %q", owner)
					}
					c.add("eraser")
					return tc.eraserErr
				})
			})
			want := tc.want
			want.Received = 1
			if err := runUntil(t, p, func() bool {
				s := p.Stats()
				deleted, _, _ := q.snapshot()
				return s.Erasures+s.Failed+s.Poison > 0 || len(deleted) > 0
			}); err != nil {
				t.Fatal(err)
			}
			if got := p.Stats(); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
			if got := c.get(); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("calls = %q, want %q", got, tc.wantCalls)
			}
			deleted, _, _ := q.snapshot()
			if got := slices.Contains(deleted, "r-er-1"); got != tc.wantDeleted {
				t.Errorf("deleted = %v, want %v", got, tc.wantDeleted)
			}
			out := logs.String()
			if strings.Contains(out, erasedOwner) || strings.Contains(out, orders.Pseudonym(erasedOwner)) {
				t.Errorf("a log line carries the owner:\n%s", out)
			}
			if tc.want.Erasures+tc.want.Failed > 0 && !strings.Contains(out, `"erasureId":"er-1"`) {
				t.Errorf("no log line names the erasure id:\n%s", out)
			}
		})
	}
}

// An order of an owner erased here: Prepare refuses it, the message is
// deleted, nothing is claimed. An order whose status record is an erasure
// tombstone (ERASED): its row is forgotten and the message deleted, whether
// the claim reports it won or lost.
func TestOrdersOfErasedOwners(t *testing.T) {
	for _, tc := range []struct {
		name        string
		prepareErr  error
		claimStatus orders.Status
		claimErr    error
		forgetErr   error
		wantClaims  int
		wantForgot  bool
		wantDeleted bool
		want        Stats
	}{
		{name: "tombstone here: not stored, not claimed, deleted", prepareErr: orderstore.ErrErased,
			wantDeleted: true, want: Stats{Erased: 1}},
		{name: "status ERASED, claim lost: row forgotten, deleted", claimErr: claimedBy(orders.StatusErased),
			wantClaims: 1, wantForgot: true, wantDeleted: true, want: Stats{Erased: 1}},
		{name: "status ERASED, claim won: row forgotten, deleted", claimStatus: orders.StatusErased,
			wantClaims: 1, wantForgot: true, wantDeleted: true, want: Stats{Erased: 1}},
		{name: "status ERASED, forget fails: left for redelivery", claimErr: claimedBy(orders.StatusErased), forgetErr: errors.New("boom"),
			wantClaims: 1, wantForgot: true, want: Stats{Failed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var claims, settles atomic.Int32
			var forgot atomic.Value
			ddb := fakeDDB{claimStatus: tc.claimStatus, update: func(in *dynamodb.UpdateItemInput) error {
				if claimWrite(in) {
					claims.Add(1)
					return tc.claimErr
				}
				settles.Add(1)
				return nil
			}}
			st := fakeStore{
				prepare: func(_ context.Context, env orders.Envelope) (orderstore.Order, error) {
					if tc.prepareErr != nil {
						return orderstore.Order{}, tc.prepareErr
					}
					return orderstore.Order{Envelope: env, State: orderstore.StatePrepared, Token: "claim-" + env.OrderID}, nil
				},
				handle: func(context.Context, string) (bool, error) {
					t.Error("an erased order was handled")
					return false, nil
				},
				forget: func(id string) error { forgot.Store(id); return tc.forgetErr },
			}
			q := &fakeSQS{queue: []sqstypes.Message{msg("o1", body(t, "o1"), "o1")}}
			p := newP(t, q, ddb, st, nil, nil)
			want := tc.want
			want.Received = 1
			if err := runUntil(t, p, func() bool { s := p.Stats(); return s.Erased+s.Failed > 0 }); err != nil {
				t.Fatal(err)
			}
			if got := p.Stats(); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
			if int(claims.Load()) != tc.wantClaims || settles.Load() != 0 {
				t.Errorf("claims = %d, settles = %d; want %d claims, no settle", claims.Load(), settles.Load(), tc.wantClaims)
			}
			if got, _ := forgot.Load().(string); (got == "o1") != tc.wantForgot {
				t.Errorf("forgot %q, want forgotten = %v", got, tc.wantForgot)
			}
			deleted, _, _ := q.snapshot()
			if got := slices.Contains(deleted, "r-o1"); got != tc.wantDeleted {
				t.Errorf("deleted = %v, want %v", got, tc.wantDeleted)
			}
		})
	}
}

// The recovery pass forgets a row whose order was erased, in any state.
func TestRecoveryForgetsErasedOrders(t *testing.T) {
	var forgot []string
	var mu sync.Mutex
	st := pagedStore{fakeStore: fakeStore{
		forget: func(id string) error { mu.Lock(); defer mu.Unlock(); forgot = append(forgot, id); return nil },
		handle: func(context.Context, string) (bool, error) { t.Error("an erased order was handled"); return false, nil },
	}}
	for _, id := range []string{"a", "b"} {
		st.rows = append(st.rows, orderstore.Order{Envelope: orders.Envelope{OrderID: id}, State: orderstore.StateHandled, Token: "claim-" + id})
	}
	p := newP(t, &fakeSQS{}, fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
		if claimWrite(in) {
			return claimedBy(orders.StatusErased)
		}
		return errors.New("settled an erased order")
	}}, fakeStore{}, nil, nil)
	p.deps.Store = st
	p.recoverPass(context.Background(), context.Background(), time.Now())
	if !slices.Equal(forgot, []string{"a", "b"}) || p.Stats().Erased != 2 {
		t.Fatalf("forgot %v, stats %+v; want a and b forgotten, 2 erased", forgot, p.Stats())
	}
}

// Run registers the site database before it receives anything, retrying
// until it succeeds; cancelled before, it never receives.
func TestRegisterBeforePoll(t *testing.T) {
	t.Run("retried until it succeeds, then receives", func(t *testing.T) {
		var c calls
		var fails atomic.Int32
		q := &fakeSQS{receive: func(context.Context) { c.add("receive") }}
		ddb := fakeDDB{register: func(in *dynamodb.UpdateItemInput) error {
			db := in.ExpressionAttributeValues[":db"].(*ddbtypes.AttributeValueMemberSS).Value
			if !slices.Equal(db, []string{"db-test"}) {
				t.Errorf("registered %v, want db-test", db)
			}
			if fails.Add(1) <= 3 {
				c.add("register failed")
				return errors.New("throttled")
			}
			c.add("registered")
			return nil
		}}
		p := erasureP(t, q, ddb, fakeStore{}, mustKeys(t), nil, nil)
		if err := runUntil(t, p, func() bool { return slices.Contains(c.get(), "receive") }); err != nil {
			t.Fatal(err)
		}
		got := c.get()
		i := slices.Index(got, "receive")
		if i != 4 || !slices.Equal(got[:4], []string{"register failed", "register failed", "register failed", "registered"}) {
			t.Fatalf("calls = %q; want 3 failed registrations, one that succeeds, then receives", got)
		}
	})
	t.Run("never registered: never receives", func(t *testing.T) {
		var received atomic.Int32
		q := &fakeSQS{receive: func(context.Context) { received.Add(1) }}
		var tries atomic.Int32
		ddb := fakeDDB{register: func(*dynamodb.UpdateItemInput) error { tries.Add(1); return errors.New("access denied") }}
		st := fakeStore{pending: func(time.Time) []orderstore.Order {
			t.Error("recovery ran before the database was registered")
			return nil
		}}
		p := erasureP(t, q, ddb, st, mustKeys(t), nil, nil)
		if err := runUntil(t, p, func() bool { return tries.Load() >= 3 }); err != nil {
			t.Fatalf("Run = %v, want nil when cancelled before registering", err)
		}
		if received.Load() != 0 {
			t.Fatalf("received %d times before registering", received.Load())
		}
	})
}

func mustKeys(t *testing.T) *sealed.Keyring {
	t.Helper()
	_, _, keys := processortest.NewKey(t)
	return keys
}

// A Handler without an Eraser is warned about once at start; with one, or
// without a Handler, it is not.
func TestWarnsHandlerWithoutEraser(t *testing.T) {
	handler := HandlerFunc(func(context.Context, *sql.Tx, orders.Envelope) error { return nil })
	eraser := EraserFunc(func(context.Context, *sql.Tx, string) error { return nil })
	for _, tc := range []struct {
		name    string
		handler Handler
		eraser  Eraser
		want    int
	}{
		{"handler without eraser", handler, nil, 1},
		{"handler with eraser", handler, eraser, 0},
		{"no handler", nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			p := erasureP(t, &fakeSQS{}, fakeDDB{}, fakeStore{}, mustKeys(t), &logs, func(d *Deps) { d.Handler, d.Eraser = tc.handler, tc.eraser })
			var received atomic.Int32
			p.deps.SQS.(*fakeSQS).receive = func(context.Context) { received.Add(1) }
			if err := runUntil(t, p, func() bool { return received.Load() > 2 }); err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(logs.String(), "adopter data of erased users is not erased"); got != tc.want {
				t.Fatalf("%d warnings, want %d:\n%s", got, tc.want, logs.String())
			}
		})
	}
}

// The recovery loop prunes tombstones older than ErasureTombstoneDays.
func TestPrunesTombstones(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		days int
		want time.Time
	}{
		{0, now.AddDate(0, 0, -DefaultErasureTombstoneDays)},
		{30, now.AddDate(0, 0, -30)},
	} {
		got := make(chan time.Time, 10)
		st := fakeStore{prune: func(before time.Time) (int, error) { got <- before; return 1, nil }}
		p, err := New(Config{QueueURL: "q", OrdersTable: "t", Site: "s", ErasureTombstoneDays: tc.days},
			Deps{SQS: &fakeSQS{}, DynamoDB: fakeDDB{}, Store: st, Keys: mustKeys(t), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		select {
		case b := <-got:
			if !b.Equal(tc.want) {
				t.Errorf("days %d: pruned before %s, want %s", tc.days, b, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("days %d: no prune at start", tc.days)
		}
		cancel()
		<-done
	}
}
