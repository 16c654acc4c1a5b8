package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// site is one consumer's database: a server of a site, or the standby.
type site struct {
	name, dsn string
	table     *orderstoretest.Table
}

func newSite(t *testing.T, name, kind string) site {
	t.Helper()
	dsn, table := orderstoretest.NewSite(t, kind)
	return site{name: name, dsn: dsn, table: table}
}

// ids returns the order ids of s's rows in state, and of its ledger entries.
func (s site) ids(t *testing.T, query string) []string {
	t.Helper()
	v, err := s.table.Strings(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	return v
}

func (s site) count(t *testing.T, state string) int64 {
	t.Helper()
	n, err := s.table.CountState(context.Background(), state)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	return n
}

// TestTwoDatabasesOneQueueRepeatedKills is issue 13's must-show: two
// processors (this example, with its ledger Handler) on two separate
// databases (a SQLite server and a PostgreSQL one: two servers of a site,
// or the primary and the standby) drain one queue of 1000 orders while the
// first is SIGKILLed mid-batch again and again and restarted on its
// database. Every order must be stored exactly once across both databases,
// its ledger entry booked exactly once, its status COMPLETED, and nothing
// left in the queue or its dead-letter queue. (Every kill costs each message
// A holds one receive, and A is killed every second or two: the queue's
// maxReceiveCount is raised from the template's 5 so that the test measures
// the protocol, not how many kills one message survives.)
func TestTwoDatabasesOneQueueRepeatedKills(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/example-ledger")
	endpoint := []string{"AWS_ENDPOINT_URL=" + srv.AtomicURL(t)}
	f := processortest.New(t, srv.Config("eu-west-1"), 100)
	ids := processortest.IDs("two", 1000)
	a, b := newSite(t, "server A (sqlite, killed)", "sqlite"), newSite(t, "server B (postgres)", "postgres")
	done := func() int64 { return a.count(t, "DONE") + b.count(t, "DONE") }
	fed := f.Feed(t, ids, 100, done)

	args := []string{"-visibility-timeout", "3s"}
	pb := processortest.Start(t, bin, srv.URL, f, b.dsn, endpoint, args...)
	pa := processortest.Start(t, bin, srv.URL, f, a.dsn, endpoint, args...)
	kills, killedMidBatch := 0, 0
	deadline := time.Now().Add(5 * time.Minute)
	for done() < int64(len(ids)) && time.Now().Before(deadline) {
		time.Sleep(time.Duration(1000+rand.IntN(1500)) * time.Millisecond)
		if done() >= int64(len(ids)) {
			break
		}
		inFlight := a.count(t, "PREPARED") + a.count(t, "HANDLED")
		if err := pa.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		pa.Wait(t, 10*time.Second)
		kills++
		if inFlight > 0 {
			killedMidBatch++
		}
		pa = processortest.Start(t, bin, srv.URL, f, a.dsn, endpoint, args...)
	}
	fed()
	t.Cleanup(func() {
		if t.Failed() {
			v, nv := f.Counts(t, f.QueueURL)
			dv, dnv := f.Counts(t, f.DLQURL)
			t.Logf("queue %d+%d, DLQ %d+%d", v, nv, dv, dnv)
			for _, s := range []site{a, b} {
				t.Logf("%s: PREPARED %d HANDLED %d DONE %d FAILED %d", s.name, s.count(t, "PREPARED"), s.count(t, "HANDLED"), s.count(t, "DONE"), s.count(t, "FAILED"))
			}
			t.Logf("A's last output:\n%s", tail(pa.Output(), 30))
			t.Logf("B's output:\n%s", tail(pb.Output(), 30))
		}
	})
	processortest.WaitFor(t, 2*time.Minute, "every order DONE at one database", func() bool { return done() == int64(len(ids)) })
	processortest.WaitFor(t, time.Minute, "empty queue", func() bool {
		v, nv := f.Counts(t, f.QueueURL)
		return v == 0 && nv == 0
	})
	t.Logf("%d kills of A (%d with orders in flight); A holds %d orders, B %d", kills, killedMidBatch, a.count(t, "DONE"), b.count(t, "DONE"))
	if killedMidBatch < 3 {
		t.Fatalf("only %d kills hit A mid-batch: the test proved nothing", killedMidBatch)
	}

	stored := map[string]string{}
	booked := map[string]int{}
	for _, s := range []site{a, b} {
		for _, id := range s.ids(t, `SELECT order_id FROM orders`) {
			if other, ok := stored[id]; ok {
				t.Errorf("order %s stored at %s and at %s", id, other, s.name)
			}
			stored[id] = s.name
		}
		for _, id := range s.ids(t, `SELECT order_id FROM ledger`) {
			booked[id]++
			if stored[id] != s.name {
				t.Errorf("order %s booked at %s but stored at %q", id, s.name, stored[id])
			}
		}
	}
	st := f.Statuses(t, ids)
	for _, id := range ids {
		if stored[id] == "" {
			t.Errorf("order %s stored nowhere", id)
		}
		if booked[id] != 1 {
			t.Errorf("order %s booked %d times, want once", id, booked[id])
		}
		if st[id] != orders.StatusCompleted {
			t.Errorf("order %s status %q, want COMPLETED", id, st[id])
		}
	}
	if len(stored) != len(ids) {
		t.Errorf("%d orders stored, want %d", len(stored), len(ids))
	}
	if v, nv := f.Counts(t, f.DLQURL); v+nv != 0 {
		t.Errorf("%d messages in the dead-letter queue, want none", v+nv)
	}
	for _, p := range []*processortest.Proc{pa, pb} {
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.Wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit status after SIGTERM = %d\n%s", code, p.Output())
		}
	}
	t.Logf("B's stats: %v", pb.Stats(t))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
