package orderstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
)

// A batch commits its good orders whatever one of them does: a duplicate
// shares the first copy's row, an erased owner's order and one the database
// refuses are rolled back alone; a Handler error rolls back its order alone.
func TestBatches(t *testing.T) {
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s, err := orderstore.Open(ctx, orderstoretest.DSN(t, kind))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if _, err := s.Erase(ctx, "sub-erased", "er-1", nil); err != nil {
				t.Fatalf("Erase: %v", err)
			}
			erased := envelope("b-erased")
			erased.Owner = "sub-erased"
			bad := envelope("b-bad") // refused: no order id, or a NUL on PostgreSQL
			bad.OrderID = ""
			if kind == "postgres" {
				bad.OrderID = "b-nul"
				bad.Order.Note = "ring\x00twice"
			}
			envs := []orders.Envelope{envelope("b-2"), envelope("b-1"), erased, bad, envelope("b-1")}
			got, err := s.PrepareBatch(ctx, envs)
			if err != nil {
				t.Fatalf("PrepareBatch: %v", err)
			}
			if len(got) != len(envs) {
				t.Fatalf("PrepareBatch returned %d results for %d envelopes", len(got), len(envs))
			}
			for _, i := range []int{0, 1, 4} {
				if got[i].Err != nil || got[i].Order.State != orderstore.StatePrepared || got[i].Order.Envelope.OrderID != envs[i].OrderID {
					t.Errorf("result %d = %+v, want %s PREPARED", i, got[i], envs[i].OrderID)
				}
			}
			if got[1].Order.Token != got[4].Order.Token {
				t.Errorf("the duplicate's token %q differs from the first copy's %q: stored twice?", got[4].Order.Token, got[1].Order.Token)
			}
			if !errors.Is(got[2].Err, orderstore.ErrErased) {
				t.Errorf("erased owner's order: %v, want ErrErased", got[2].Err)
			}
			if !errors.Is(got[3].Err, orderstore.ErrPermanent) {
				t.Errorf("refused order: %v, want ErrPermanent", got[3].Err)
			}
			pending, err := s.Pending(ctx, time.Now().Add(time.Hour), orderstore.Order{}, 100)
			if err != nil || len(pending) != 2 {
				t.Fatalf("Pending = %d rows, %v; want b-1 and b-2 only", len(pending), err)
			}

			boom := errors.New("handler says no")
			h, err := s.HandleBatch(ctx, []string{"b-1", "b-2", "b-none"}, func(tx *sql.Tx, id string) error {
				if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS ledger (id TEXT PRIMARY KEY)`); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO ledger (id) VALUES ('`+id+`')`); err != nil {
					return err
				}
				if id == "b-2" {
					return boom
				}
				return nil
			})
			if err != nil {
				t.Fatalf("HandleBatch: %v", err)
			}
			if !h[0].Ran || h[0].Err != nil || h[1].Ran || !errors.Is(h[1].Err, boom) || h[2].Ran || h[2].Err != nil {
				t.Fatalf("HandleBatch = %+v, want b-1 ran, b-2 failed, b-none not run", h)
			}
			again, err := s.HandleBatch(ctx, []string{"b-1", "b-2"}, nil)
			if err != nil || again[0].Ran || !again[1].Ran {
				t.Fatalf("second HandleBatch = %+v, %v; want b-1 not run again, b-2 run (its first attempt rolled back)", again, err)
			}
			if err := s.Update(ctx, func(tx *sql.Tx) error {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger`).Scan(&n); err != nil {
					return err
				}
				if n != 1 {
					t.Errorf("ledger has %d rows, want 1 (b-1's; b-2's write rolled back)", n)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}

			if err := s.FinishBatch(ctx, []string{"b-2", "b-1", "b-none"}); err != nil {
				t.Fatalf("FinishBatch: %v", err)
			}
			for _, id := range []string{"b-1", "b-2"} {
				o, err := s.Prepare(ctx, envelope(id))
				if err != nil || o.State != orderstore.StateDone {
					t.Errorf("%s after FinishBatch: %+v, %v; want DONE", id, o.State, err)
				}
			}
			if pending, _ := s.Pending(ctx, time.Now().Add(time.Hour), orderstore.Order{}, 100); len(pending) != 0 {
				t.Errorf("Pending after FinishBatch = %d rows, want 0", len(pending))
			}
		})
	}
}
