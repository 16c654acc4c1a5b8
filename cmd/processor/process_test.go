package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func rows(t *testing.T, table *orderstoretest.Table) int64 {
	t.Helper()
	n, err := table.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// handled returns the number of orders whose handling committed (HANDLED or
// DONE rows): a PREPARED row may still lose its claim.
func handled(t *testing.T, table *orderstoretest.Table) int64 {
	t.Helper()
	var n int64
	for _, state := range []string{"HANDLED", "DONE"} {
		c, err := table.CountState(context.Background(), state)
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// finish checks: exactly len(ids) rows, all COMPLETED, queue empty.
func finish(t *testing.T, f *processortest.Fixture, s *orderstoretest.Table, ids []string) {
	t.Helper()
	processortest.WaitFor(t, 5*time.Minute, fmt.Sprintf("%d rows", len(ids)), func() bool { return rows(t, s) >= int64(len(ids)) })
	processortest.WaitFor(t, time.Minute, "empty queue", func() bool {
		v, nv := f.Counts(t, f.QueueURL)
		return v == 0 && nv == 0
	})
	if n := rows(t, s); n != int64(len(ids)) {
		t.Fatalf("rows = %d, want exactly %d", n, len(ids))
	}
	processortest.WaitFor(t, time.Minute, "every row DONE", func() bool {
		n, err := s.CountState(context.Background(), "DONE")
		return err == nil && n == int64(len(ids))
	})
	st := f.Statuses(t, ids)
	for _, id := range ids {
		if st[id] != orders.StatusCompleted {
			t.Fatalf("order %s status %q, want COMPLETED", id, st[id])
		}
	}
}

// TestKillMidBatchAndRestart: SIGKILL while orders are in flight, restart
// on the same database -> still exactly 1000 rows, all COMPLETED, queue empty.
func TestKillMidBatchAndRestart(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	for _, kind := range []string{"sqlite"} {
		t.Run(kind, func(t *testing.T) {
			f := processortest.New(t, srv.Config("eu-west-1"), 100)
			ids := processortest.IDs("kill", 1000)
			dsn, table := orderstoretest.NewSite(t, kind)
			fed := f.Feed(t, ids, 60, func() int64 { n, _ := table.Count(context.Background()); return n })
			// Short visibility so the killed run's in-flight messages return fast.
			p1 := processortest.Start(t, bin, srv.URL, f, dsn, nil, "-visibility-timeout", "3s")
			processortest.WaitFor(t, 3*time.Minute, "300 rows", func() bool { return rows(t, table) >= 300 })
			if err := p1.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p1.Wait(t, 10*time.Second)
			killedAt := handled(t, table)
			t.Logf("killed at %d rows, %d handled", rows(t, table), killedAt)
			if killedAt >= 1000 {
				t.Fatal("everything was done before the kill")
			}
			p2 := processortest.Start(t, bin, srv.URL, f, dsn, nil, "-visibility-timeout", "3s")
			fed()
			finish(t, f, table, ids)
			if err := p2.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p2.Wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit status after SIGTERM = %d, want 0\n%s", code, p2.Output())
			}
			if n := p2.Stats(t)["inserted"].(float64); int64(n)+killedAt != 1000 {
				t.Fatalf("restart handled %v orders after %d: want %d", n, killedAt, 1000-killedAt)
			}
		})
	}
}

// TestSIGTERMUnderLoad: SIGTERM while orders flow -> exit 0 after a drain
// that leaves every stored order COMPLETED (nothing half done), then a
// restart completes the rest: 1000 rows, each inserted exactly once.
func TestSIGTERMUnderLoad(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	for _, kind := range []string{"postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := processortest.New(t, srv.Config("eu-west-1"), 100)
			ids := processortest.IDs("term", 1000)
			dsn, table := orderstoretest.NewSite(t, kind)
			fed := f.Feed(t, ids, 60, func() int64 { n, _ := table.Count(context.Background()); return n })
			p1 := processortest.Start(t, bin, srv.URL, f, dsn, nil, "-visibility-timeout", "30s")
			processortest.WaitFor(t, 3*time.Minute, "300 rows", func() bool { return rows(t, table) >= 300 })
			if err := p1.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p1.Wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit status after SIGTERM = %d, want 0\n%s", code, p1.Output())
			}
			s1 := p1.Stats(t)
			if s1["drained"] != true {
				t.Fatalf("first run did not drain: %v", s1)
			}
			// Nothing half done: every stored order is COMPLETED.
			stored := 0
			st := f.Statuses(t, ids)
			for _, id := range ids {
				ok, err := table.Has(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					stored++
					if st[id] != orders.StatusCompleted {
						t.Fatalf("order %s stored but %q after the drain", id, st[id])
					}
				}
			}
			t.Logf("after SIGTERM: %d rows, stats %v", stored, s1)
			if int64(s1["inserted"].(float64)) != int64(stored) {
				t.Fatalf("first run inserted %v, database has %d", s1["inserted"], stored)
			}
			p2 := processortest.Start(t, bin, srv.URL, f, dsn, nil)
			fed()
			finish(t, f, table, ids)
			if err := p2.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p2.Wait(t, 30*time.Second); code != 0 {
				t.Fatalf("second exit status = %d, want 0", code)
			}
			s2 := p2.Stats(t)
			if got := int64(s1["inserted"].(float64) + s2["inserted"].(float64)); got != 1000 {
				t.Fatalf("inserted %d over both runs, want 1000", got)
			}
		})
	}
}
