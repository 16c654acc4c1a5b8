package main

import (
	"context"
	"database/sql"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orderstore"
)

// ledgerOf returns the order ids of owner's ledger entries.
func (s site) ledgerOf(t *testing.T, owner string) []string {
	t.Helper()
	return s.ids(t, `SELECT order_id FROM ledger WHERE owner = '`+owner+`'`)
}

func (s site) countOwner(t *testing.T, owner string) int64 {
	t.Helper()
	n, err := s.table.CountOwner(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s site) tombstone(t *testing.T, owner string) string {
	t.Helper()
	id, err := s.table.Tombstone(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestErasureKilledBeforeConfirm: the processor (this example, whose
// Eraser deletes the owner's ledger entries) is SIGKILLed after its
// erasure transaction committed and before the erasure is confirmed in the
// orders table (the confirmation's UpdateItem is held by a proxy that never
// answers). The owner's rows and ledger entries are gone with the commit;
// after a restart the redelivered message is carried out again (a no-op
// here) and confirmed: the database is listed exactly once, no row or ledger
// entry of X remains, Y's are untouched, the queue is empty.
func TestErasureKilledBeforeConfirm(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/example-ledger")
	proxy, err := faultproxy.Start(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	ctx := context.Background()
	f := processortest.New(t, srv.Config("eu-west-1"), 100)
	const x, y = "sub-x-killed-7", "sub-y-kept-7"
	f.OwnerOf = func(id string) string {
		if strings.HasPrefix(id, "x-") {
			return x
		}
		return y
	}
	a := newSite(t, "A (sqlite)", "sqlite")
	args := []string{"-visibility-timeout", "3s"}
	ids := append(processortest.IDs("x", 20), processortest.IDs("y", 20)...)
	f.Seed(t, ids)
	p := processortest.Start(t, bin, proxy.URL(), f, a.dsn, nil, args...)
	processortest.WaitFor(t, 2*time.Minute, "40 orders DONE", func() bool { return a.count(t, "DONE") == 40 })
	if got := len(a.ledgerOf(t, x)); got != 20 {
		t.Fatalf("X's ledger entries = %d, want 20", got)
	}
	dbID, err := a.table.DatabaseID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	f.RequestErasure(t, "er-k", x, ids)
	proxy.Add("UpdateItem", faultproxy.Fault{Kind: faultproxy.BlackHole})
	held, _ := proxy.Count("UpdateItem")
	if err := f.SendErasure(ctx, "er-k", x); err != nil {
		t.Fatal(err)
	}
	processortest.WaitFor(t, time.Minute, "the erasure committed and its confirmation sent", func() bool {
		seen, _ := proxy.Count("UpdateItem")
		return a.tombstone(t, x) == "er-k" && seen > held
	})
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait(t, 10*time.Second)
	if c := f.Confirmed(t, x); len(c) != 0 {
		t.Fatalf("confirmed by %v before the kill: the confirmation was not held", c)
	}
	if n, got := a.countOwner(t, x), a.ledgerOf(t, x); n != 0 || len(got) != 0 {
		t.Fatalf("after the committed erasure: %d rows and %d ledger entries of X", n, len(got))
	}

	proxy.Clear()
	p = processortest.Start(t, bin, proxy.URL(), f, a.dsn, nil, args...)
	processortest.WaitFor(t, time.Minute, "the erasure confirmed", func() bool { return len(f.Confirmed(t, x)) > 0 })
	processortest.WaitFor(t, time.Minute, "empty queue", func() bool {
		v, nv := f.Counts(t, f.QueueURL)
		return v == 0 && nv == 0
	})
	if c := f.Confirmed(t, x); len(c) != 1 || c[0] != dbID {
		t.Errorf("confirmed by %v, want exactly [%s]", c, dbID)
	}
	if n, got := a.countOwner(t, x), a.ledgerOf(t, x); n != 0 || len(got) != 0 {
		t.Errorf("after the restart: %d rows and %d ledger entries of X", n, len(got))
	}
	if n, got := a.countOwner(t, y), a.ledgerOf(t, y); n != 20 || len(got) != 20 {
		t.Errorf("Y: %d rows and %d ledger entries, want 20 and 20", n, len(got))
	}
	if id := a.tombstone(t, x); id != "er-k" {
		t.Errorf("X's tombstone %q, want er-k", id)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d\n%s", code, p.Output())
	}
	if s := p.Stats(t); s["erasures"] != float64(1) {
		t.Errorf("the restarted processor's stats = %v, want 1 erasure", s)
	}
	if out := p.Output(); strings.Contains(out, x) || strings.Contains(out, y) {
		t.Errorf("a log line carries an owner:\n%s", out)
	}
}

// A ledger created before entries had an owner gets the column, filled
// from the site's orders, so that the Eraser reaches its old entries too.
func TestLedgerSetupAddsOwner(t *testing.T) {
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			dsn := orderstoretest.DSN(t, kind)
			s, err := orderstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			oldLedger := `CREATE TABLE ledger (entry_id INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL, region TEXT NOT NULL,
				lines INTEGER NOT NULL, units INTEGER NOT NULL, booked_at TEXT NOT NULL)`
			if kind == "postgres" {
				oldLedger = strings.Replace(oldLedger, "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", 1)
			}
			for _, o := range []struct{ id, owner string }{{"old-x", "sub-x"}, {"old-y", "sub-y"}} {
				if _, err := s.Prepare(ctx, processortest.EnvelopeOf(o.id, o.owner)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Update(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, oldLedger); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO ledger (order_id, region, lines, units, booked_at) VALUES
					('old-x', 'eu-west-1', 1, 2, 'then'), ('old-y', 'eu-west-1', 1, 2, 'then')`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			l := &ledger{}
			for range 2 { // a second start changes nothing
				if err := s.Update(ctx, func(tx *sql.Tx) error { return l.setup(ctx, tx, kind) }); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			if _, err := s.Erase(ctx, "sub-x", "er-1", func(tx *sql.Tx) error { return l.EraseOwner(ctx, tx, "sub-x") }); err != nil {
				t.Fatal(err)
			}
			table := orderstoretest.OpenTable(t, dsn)
			got, err := table.Strings(ctx, `SELECT order_id || ':' || owner FROM ledger ORDER BY order_id`)
			if err != nil || len(got) != 1 || got[0] != "old-y:sub-y" {
				t.Fatalf("ledger after erasing sub-x = %v, %v; want only old-y:sub-y", got, err)
			}
		})
	}
}
