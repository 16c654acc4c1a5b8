package processortest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Build compiles the module's command at pkg (e.g. "cmd/processor") into
// t's temporary directory and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, "github.com/homeregion/homeregion/"+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Proc is a running processor binary.
type Proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

// Start runs processor binary bin against moto at motoURL on f's queue and
// table with the site database dsn and f's key file, 20 workers and 1 s long polls; env is
// appended last (a later duplicate key wins) and args are its flags. The
// process is killed when the test ends if it still runs.
func Start(t testing.TB, bin, motoURL string, f *Fixture, dsn string, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(),
		"AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_ENDPOINT_URL="+motoURL,
		"ORDERS_QUEUE_URL="+f.QueueURL, "ORDERS_TABLE="+f.Table, "SITE_NAME=test-site", "SITE_DB_DSN="+dsn, "SITE_KEY_FILE="+f.KeyFile,
		"PROCESSOR_CONCURRENCY=20", "WAIT_TIME=1s", "LOG_LEVEL=INFO",
	), env...)
	p := &Proc{cmd: cmd, done: make(chan error, 1)}
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

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its exit status.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("processor did not exit within %s", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// Stats returns the counters of the "processor stopped" log line.
func (p *Proc) Stats(t testing.TB) map[string]any {
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

// Output returns what the process wrote so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}
