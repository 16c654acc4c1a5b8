package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/internal/sitehttptest"
)

// TestHTTPDeliveryToAFlakyEndpoint is issue 13's must-show for adopters in
// any language: the real processor binary delivers 1000 orders from moto to
// a local endpoint that fails one request in five and answers slowly (past
// the delivery timeout, having taken the order) one in ten. Every order
// must reach the endpoint, every attempt for one order carry the same
// Idempotency-Key (its order id), and after the endpoint's de-duplication
// by that key each order be accepted exactly once; none lost: all
// COMPLETED, the queue and its dead-letter queue empty.
func TestHTTPDeliveryToAFlakyEndpoint(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	f := processortest.New(t, srv.Config("eu-west-1"), 5) // the template's maxReceiveCount
	ids := processortest.IDs("http", 1000)
	dsn, table := orderstoretest.NewSite(t, "sqlite")
	endpoint := sitehttptest.New(t, sitehttptest.Options{FailEvery: 5, SlowEvery: 10, SlowFor: time.Second, Seed: 13})
	fed := f.Feed(t, ids, 100, func() int64 { n, _ := table.CountState(context.Background(), "DONE"); return n })
	p := processortest.Start(t, bin, srv.URL, f, dsn, []string{
		"DELIVERY_URL=" + endpoint.URL(), "DELIVERY_TIMEOUT=250ms", "DELIVERY_BACKOFF=10ms",
	}, "-visibility-timeout", "5s")
	fed()
	finish(t, f, table, ids)
	if v, nv := f.Counts(t, f.DLQURL); v+nv != 0 {
		t.Errorf("%d messages in the dead-letter queue, want none", v+nv)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d\n%s", code, p.Output())
	}

	st := endpoint.Stats()
	t.Logf("endpoint: %+v; processor: %v", st, p.Stats(t))
	if m := endpoint.Mismatches(); len(m) != 0 {
		t.Fatalf("%d requests broke the contract (missing or wrong Idempotency-Key, ...): %v", len(m), m[:min(len(m), 5)])
	}
	accepted := endpoint.Accepted()
	retried := 0
	for _, id := range ids {
		if accepted[id] != 1 {
			t.Errorf("order %s accepted %d times after de-duplication, want 1", id, accepted[id])
		}
		if endpoint.Attempts(id) > 1 {
			retried++
		}
	}
	if len(accepted) != len(ids) {
		t.Errorf("%d orders reached the endpoint, want %d", len(accepted), len(ids))
	}
	if st.Failed < 100 || st.Slow < 50 || st.Duplicates == 0 || retried < 100 {
		t.Fatalf("the endpoint was not flaky enough to prove anything: %+v, %d orders retried", st, retried)
	}
}
