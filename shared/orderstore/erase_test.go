package orderstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
)

// envelopeOf is envelope(id) of owner.
func envelopeOf(id, owner string) orders.Envelope {
	e := envelope(id)
	e.Owner = owner
	return e
}

// tombstone returns the erasure id of owner's tombstone, "" when none.
func tombstone(t *testing.T, table *orderstoretest.Table, owner string) string {
	t.Helper()
	v, err := table.Strings(context.Background(), `SELECT erasure_id FROM erased_owners WHERE pseudonym = '`+orders.Pseudonym(owner)+`'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// ownerRows returns the order ids of owner's rows.
func ownerRows(t *testing.T, table *orderstoretest.Table, owner string) []string {
	t.Helper()
	v, err := table.Strings(context.Background(), `SELECT order_id FROM orders WHERE owner = '`+owner+`' ORDER BY order_id`)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestErase(t *testing.T) {
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			dsn := orderstoretest.DSN(t, kind)
			s, err := orderstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			table := orderstoretest.OpenTable(t, dsn)
			// An adopter's own table, erased by the Eraser in the same
			// transaction.
			if err := s.Update(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `CREATE TABLE adopter (owner TEXT NOT NULL)`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			param := "?"
			if kind == "postgres" {
				param = "$1"
			}
			// X has a row in every state, Y one row.
			for i, st := range []string{"prepared", "handled", "done", "failed"} {
				id := fmt.Sprintf("x-%d-%s", i, st)
				if _, err := s.Prepare(ctx, envelopeOf(id, "sub-x")); err != nil {
					t.Fatal(err)
				}
				switch st {
				case "handled", "done":
					if _, err := s.Handle(ctx, id, func(tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO adopter (owner) VALUES (`+param+`)`, "sub-x")
						return err
					}); err != nil {
						t.Fatal(err)
					}
					if st == "done" {
						if err := s.Finish(ctx, id); err != nil {
							t.Fatal(err)
						}
					}
				case "failed":
					if err := s.Fail(ctx, id, orderstore.StatePrepared); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := s.Prepare(ctx, envelopeOf("y-1", "sub-y")); err != nil {
				t.Fatal(err)
			}
			eraser := func(owner string) func(*sql.Tx) error {
				return func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `DELETE FROM adopter WHERE owner = `+param, owner)
					return err
				}
			}

			t.Run("a failing eraser rolls everything back", func(t *testing.T) {
				boom := errors.New("boom")
				n, err := s.Erase(ctx, "sub-x", "er-0", func(tx *sql.Tx) error {
					if err := eraser("sub-x")(tx); err != nil {
						return err
					}
					return boom
				})
				if !errors.Is(err, boom) || n != 0 {
					t.Fatalf("Erase = %d, %v; want the eraser's error", n, err)
				}
				if got := ownerRows(t, table, "sub-x"); len(got) != 4 {
					t.Fatalf("X's rows after a failed erase = %v, want all 4", got)
				}
				if got := tombstone(t, table, "sub-x"); got != "" {
					t.Fatalf("tombstone after a failed erase: %q", got)
				}
				if v, _ := table.Strings(ctx, `SELECT owner FROM adopter`); len(v) != 2 {
					t.Fatalf("adopter rows after a failed erase = %v, want 2", v)
				}
			})

			t.Run("erase deletes every row of the owner, runs the eraser, keeps a tombstone", func(t *testing.T) {
				n, err := s.Erase(ctx, "sub-x", "er-1", eraser("sub-x"))
				if err != nil || n != 4 {
					t.Fatalf("Erase = %d, %v; want 4 rows", n, err)
				}
				if got := ownerRows(t, table, "sub-x"); len(got) != 0 {
					t.Fatalf("X's rows after erase = %v", got)
				}
				if got := ownerRows(t, table, "sub-y"); len(got) != 1 {
					t.Fatalf("Y's rows after erase = %v, want y-1", got)
				}
				if got := tombstone(t, table, "sub-x"); got != "er-1" {
					t.Fatalf("tombstone = %q, want er-1", got)
				}
				if got := tombstone(t, table, "sub-y"); got != "" {
					t.Fatalf("Y has a tombstone %q", got)
				}
				if v, _ := table.Strings(ctx, `SELECT owner FROM adopter`); len(v) != 0 {
					t.Fatalf("adopter rows after erase = %v", v)
				}
				// No column of the tombstone holds the owner.
				if v, _ := table.Strings(ctx, `SELECT pseudonym || erasure_id FROM erased_owners`); len(v) != 1 || v[0] == "" ||
					strings.Contains(v[0], "sub-x") {
					t.Fatalf("tombstones = %v", v)
				}
			})

			t.Run("erase is idempotent and keeps the first tombstone", func(t *testing.T) {
				n, err := s.Erase(ctx, "sub-x", "er-2", nil)
				if err != nil || n != 0 {
					t.Fatalf("second Erase = %d, %v", n, err)
				}
				if got := tombstone(t, table, "sub-x"); got != "er-1" {
					t.Fatalf("tombstone = %q, want er-1 kept", got)
				}
			})

			t.Run("prepare refuses an erased owner and writes nothing", func(t *testing.T) {
				_, err := s.Prepare(ctx, envelopeOf("x-late", "sub-x"))
				if !errors.Is(err, orderstore.ErrErased) {
					t.Fatalf("Prepare of an erased owner = %v, want ErrErased", err)
				}
				if has, err := table.Has(ctx, "x-late"); err != nil || has {
					t.Fatalf("Has(x-late) = %v, %v", has, err)
				}
				if _, err := s.Prepare(ctx, envelopeOf("y-2", "sub-y")); err != nil {
					t.Fatalf("Prepare of another owner: %v", err)
				}
			})

			t.Run("forget deletes a row in any state", func(t *testing.T) {
				if _, err := s.Handle(ctx, "y-2", nil); err != nil {
					t.Fatal(err)
				}
				for _, id := range []string{"y-1", "y-2", "never-stored"} {
					if err := s.Forget(ctx, id); err != nil {
						t.Fatalf("Forget(%s): %v", id, err)
					}
				}
				if got := ownerRows(t, table, "sub-y"); len(got) != 0 {
					t.Fatalf("Y's rows after forget = %v", got)
				}
			})

			t.Run("prune deletes tombstones older than the cut", func(t *testing.T) {
				if _, err := s.Erase(ctx, "sub-z", "er-z", nil); err != nil {
					t.Fatal(err)
				}
				if n, err := s.PruneErased(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
					t.Fatalf("PruneErased(an hour ago) = %d, %v; want 0", n, err)
				}
				if n, err := s.PruneErased(ctx, time.Now().Add(time.Second)); err != nil || n != 2 {
					t.Fatalf("PruneErased(now) = %d, %v; want 2", n, err)
				}
				if got := tombstone(t, table, "sub-x"); got != "" {
					t.Fatalf("tombstone after prune = %q", got)
				}
				if _, err := s.Prepare(ctx, envelopeOf("x-after-prune", "sub-x")); err != nil {
					t.Fatalf("Prepare after the tombstone was pruned: %v", err)
				}
			})
		})
	}
}

// An Erase racing Prepares of the same owner, from two handles on one
// database (two processes of one site): whatever the interleaving, no row
// of the owner is left once both are done, and every Prepare either stored
// its row before the erasure (deleted by it) or was refused.
func TestEraseRacingPrepare(t *testing.T) {
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			dsn := orderstoretest.DSN(t, kind)
			a, err := orderstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := orderstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			table := orderstoretest.OpenTable(t, dsn)
			for round := range 5 {
				owner := fmt.Sprintf("sub-race-%d", round)
				var wg sync.WaitGroup
				var mu sync.Mutex
				stored, refused := 0, 0
				for i := range 40 {
					st := a
					if i%2 == 1 {
						st = b
					}
					wg.Go(func() {
						_, err := st.Prepare(ctx, envelopeOf(fmt.Sprintf("%s-%02d", owner, i), owner))
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							stored++
						case errors.Is(err, orderstore.ErrErased):
							refused++
						default:
							t.Error(err)
						}
					})
					if i == 10 {
						wg.Go(func() {
							if _, err := b.Erase(ctx, owner, "er-race", nil); err != nil {
								t.Error(err)
							}
						})
					}
				}
				wg.Wait()
				if got := ownerRows(t, table, owner); len(got) != 0 {
					t.Fatalf("round %d: rows of the erased owner left: %v (stored %d, refused %d)", round, got, stored, refused)
				}
				if stored+refused != 40 {
					t.Fatalf("round %d: stored %d + refused %d != 40", round, stored, refused)
				}
			}
		})
	}
}

// TestEraseThousandRows times the erasure of an owner with 1000 rows (the
// report's number) and checks it takes them all.
func TestEraseThousandRows(t *testing.T) {
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			dsn := orderstoretest.DSN(t, kind)
			s, err := orderstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := range 1000 {
				if _, err := s.Prepare(ctx, envelopeOf(fmt.Sprintf("big-%04d", i), "sub-big")); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 100 {
				if _, err := s.Prepare(ctx, envelopeOf(fmt.Sprintf("other-%04d", i), "sub-other")); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			n, err := s.Erase(ctx, "sub-big", "er-big", nil)
			took := time.Since(start)
			if err != nil || n != 1000 {
				t.Fatalf("Erase = %d, %v; want 1000", n, err)
			}
			table := orderstoretest.OpenTable(t, dsn)
			if c, _ := table.Count(ctx); c != 100 {
				t.Fatalf("rows left = %d, want the other owner's 100", c)
			}
			t.Logf("%s: Erase of an owner with 1000 rows (of 1100) took %s", kind, took.Round(time.Microsecond))
		})
	}
}
