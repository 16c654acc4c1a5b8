package processor_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
)

// SIGKILL of the processor binary after every order of its batches is
// committed in the site database and COMPLETED in the orders table, while
// their DeleteMessageBatch calls hang (a black hole): no message was
// deleted. A restart on the same database deletes every message without
// storing or handling any order again (inserted 0), and nothing is lost.
func TestKillBetweenCommitAndBatchDelete(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	f := processortest.New(t, srv.Config("eu-west-1"), 100)
	const n = 30
	ids := processortest.IDs("kill-delete", n)
	f.Records(t, ids)
	if err := f.Send(context.Background(), ids); err != nil {
		t.Fatal(err)
	}
	dsn, table := orderstoretest.NewSite(t, "sqlite")
	p, err := faultproxy.Start(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.Add("DeleteMessageBatch", faultproxy.Fault{Kind: faultproxy.BlackHole})

	p1 := processortest.Start(t, bin, p.URL(), f, dsn, nil, "-visibility-timeout", "3s")
	processortest.WaitFor(t, 2*time.Minute, "every order committed and COMPLETED, its delete hanging", func() bool {
		if seen, _ := p.Count("DeleteMessageBatch"); seen == 0 {
			return false
		}
		for _, st := range f.Statuses(t, ids) {
			if st != orders.StatusCompleted {
				return false
			}
		}
		return handledRows(t, table) == n
	})
	if err := p1.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.Wait(t, 10*time.Second)
	if seen, forwarded := p.Count("DeleteMessageBatch"); seen == 0 || forwarded != 0 {
		t.Fatalf("DeleteMessageBatch seen %d, forwarded %d: want the kill after the commit and before any delete", seen, forwarded)
	}
	if v, nv := f.Counts(t, f.QueueURL); v+nv != n {
		t.Fatalf("%d messages in the queue at the kill, want all %d (none deleted)", v+nv, n)
	}

	p2 := processortest.Start(t, bin, srv.URL, f, dsn, nil, "-visibility-timeout", "3s")
	processortest.WaitFor(t, 2*time.Minute, "the queue empty", func() bool {
		v, nv := f.Counts(t, f.QueueURL)
		return v+nv == 0
	})
	processortest.WaitFor(t, time.Minute, "every row DONE", func() bool {
		c, err := table.CountState(context.Background(), "DONE")
		return err == nil && c == n
	})
	if err := p2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p2.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0\n%s", code, p2.Output())
	}
	if c, err := table.Count(context.Background()); err != nil || c != n {
		t.Fatalf("site stores %d orders (%v), want exactly %d", c, err, n)
	}
	s := p2.Stats(t)
	if s["inserted"].(float64) != 0 {
		t.Errorf("restart handled %v orders again, want 0: every order was handled before the kill", s["inserted"])
	}
	if v, nv := f.Counts(t, f.DLQURL); v+nv != 0 {
		t.Errorf("%d messages in the dead-letter queue, want none", v+nv)
	}
	for id, st := range f.Statuses(t, ids) {
		if st != orders.StatusCompleted {
			t.Errorf("order %s status %q, want COMPLETED", id, st)
		}
	}
}

// handledRows counts the rows whose handling committed (HANDLED or DONE).
func handledRows(t *testing.T, table *orderstoretest.Table) int64 {
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
