package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// build compiles this command into t's temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "processor")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running processor binary.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func start(t *testing.T, bin, motoURL string, f *processortest.Fixture, dsn string, extra ...string) *proc {
	t.Helper()
	return startEnv(t, bin, motoURL, f, dsn, nil, extra...)
}

// startEnv is start with env appended last (a later duplicate key wins).
func startEnv(t *testing.T, bin, motoURL string, f *processortest.Fixture, dsn string, env []string, extra ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, extra...)
	cmd.Env = append(append(os.Environ(),
		"AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_ENDPOINT_URL="+motoURL,
		"ORDERS_QUEUE_URL="+f.QueueURL, "ORDERS_TABLE="+f.Table, "SITE_NAME=test-site", "SITE_DB_DSN="+dsn,
		"PROCESSOR_CONCURRENCY=20", "WAIT_TIME=1s", "LOG_LEVEL=INFO",
	), env...)
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.Write(sc.Bytes())
			p.out.WriteByte('\n')
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("processor did not exit within %s", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// stats returns the counters of the "processor stopped" log line.
func (p *proc) stats(t *testing.T) map[string]any {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(p.out.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && (m["message"] == "processor stopped" || m["msg"] == "processor stopped") {
			return m
		}
	}
	t.Fatalf("no \"processor stopped\" line in the output:\n%s", p.out.String())
	return nil
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

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
	bin := build(t)
	for _, kind := range []string{"sqlite"} {
		t.Run(kind, func(t *testing.T) {
			f := processortest.New(t, srv.Config("eu-west-1"), 100)
			ids := processortest.IDs("kill", 1000)
			dsn := orderstoretest.DSN(t, kind)
			store, err := orderstore.Open(context.Background(), dsn) // the site's schema, before the processor starts
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			table := orderstoretest.OpenTable(t, dsn)
			fed := f.Feed(t, ids, 60, func() int64 { n, _ := table.Count(context.Background()); return n })
			// Short visibility so the killed run's in-flight messages return fast.
			p1 := start(t, bin, srv.URL, f, dsn, "-visibility-timeout", "3s")
			processortest.WaitFor(t, 3*time.Minute, "300 rows", func() bool { return rows(t, table) >= 300 })
			if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p1.wait(t, 10*time.Second)
			killedAt := handled(t, table)
			t.Logf("killed at %d rows, %d handled", rows(t, table), killedAt)
			if killedAt >= 1000 {
				t.Fatal("everything was done before the kill")
			}
			p2 := start(t, bin, srv.URL, f, dsn, "-visibility-timeout", "3s")
			fed()
			finish(t, f, table, ids)
			if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p2.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit status after SIGTERM = %d, want 0\n%s", code, p2.output())
			}
			if n := p2.stats(t)["inserted"].(float64); int64(n)+killedAt != 1000 {
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
	bin := build(t)
	for _, kind := range []string{"postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := processortest.New(t, srv.Config("eu-west-1"), 100)
			ids := processortest.IDs("term", 1000)
			dsn := orderstoretest.DSN(t, kind)
			store, err := orderstore.Open(context.Background(), dsn) // the site's schema, before the processor starts
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			table := orderstoretest.OpenTable(t, dsn)
			fed := f.Feed(t, ids, 60, func() int64 { n, _ := table.Count(context.Background()); return n })
			p1 := start(t, bin, srv.URL, f, dsn, "-visibility-timeout", "30s")
			processortest.WaitFor(t, 3*time.Minute, "300 rows", func() bool { return rows(t, table) >= 300 })
			if err := p1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p1.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("exit status after SIGTERM = %d, want 0\n%s", code, p1.output())
			}
			s1 := p1.stats(t)
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
			p2 := start(t, bin, srv.URL, f, dsn)
			fed()
			finish(t, f, table, ids)
			if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p2.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("second exit status = %d, want 0", code)
			}
			s2 := p2.stats(t)
			if got := int64(s1["inserted"].(float64) + s2["inserted"].(float64)); got != 1000 {
				t.Fatalf("inserted %d over both runs, want 1000", got)
			}
		})
	}
}
