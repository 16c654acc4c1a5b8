package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/sealed"
)

// TestSealedOrdersBinary runs the binary on sealed orders, a plaintext
// (version 1) one refused by ACCEPT_PLAINTEXT_ORDERS=false and one sealed to
// a key the site does not hold, with DEBUG logs: the sealed orders are
// stored and COMPLETED, the other two reach the DLQ with their orders
// FAILED, the start names the key ids held, and no log line carries an
// order field or an owner.
func TestSealedOrdersBinary(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	f := processortest.New(t, srv.Config("eu-west-1"), 2)
	ids := processortest.IDs("sealed", 20)
	dsn, table := orderstoretest.NewSite(t, "sqlite")
	f.Seed(t, ids)
	plain := "plain-1"
	f.Plaintext = true
	f.Seed(t, []string{plain})
	f.Plaintext = false
	_, otherPub, _ := processortest.NewKey(t)
	unknown := "unknown-key-1"
	m, err := sealed.SealEnvelope(otherPub, processortest.Envelope(unknown))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(m)
	f.Records(t, []string{unknown})
	f.SendRaw(t, string(body), unknown)

	p := processortest.Start(t, bin, srv.URL, f, dsn, []string{"LOG_LEVEL=DEBUG", "ACCEPT_PLAINTEXT_ORDERS=false"}, "-visibility-timeout", "1s")
	finish(t, f, table, ids)
	processortest.WaitFor(t, time.Minute, "2 messages in the DLQ", func() bool {
		v, nv := f.Counts(t, f.DLQURL)
		return v+nv == 2
	})
	processortest.WaitFor(t, time.Minute, "both refused orders FAILED", func() bool {
		st := f.Statuses(t, []string{plain, unknown})
		return st[plain] == orders.StatusFailed && st[unknown] == orders.StatusFailed
	})
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status = %d, want 0\n%s", code, p.Output())
	}
	out := p.Output()
	for _, want := range []string{f.PublicKey.KeyID(), otherPub.KeyID(), "plaintext (version 1) orders are no longer accepted"} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %q:\n%s", want, out)
		}
	}
	processortest.CheckNoPII(t, out)
}

// TestKeygenBinary: `processor keygen FILE` prints the public key as its
// only stdout line and refuses to overwrite, with its error on stderr.
func TestKeygenBinary(t *testing.T) {
	bin := processortest.Build(t, "cmd/processor")
	path := filepath.Join(t.TempDir(), "site.key")
	run := func() (stdout, stderr string, code int) {
		var o, e bytes.Buffer
		cmd := exec.Command(bin, "keygen", path)
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), cmd.ProcessState.ExitCode()
	}
	stdout, stderr, code := run()
	if code != 0 || stderr != "" || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("keygen = %d, stdout %q, stderr %q; want 0 and one line", code, stdout, stderr)
	}
	pub, err := sealed.ParsePublicKey(stdout)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sealed.ReadKeyFile(path)
	if err != nil || keys.KeyIDs()[0] != pub.KeyID() {
		t.Fatalf("key file: %v", err)
	}
	if stdout, stderr, code := run(); code != 1 || stdout != "" || !strings.Contains(stderr, "refusing to overwrite") {
		t.Fatalf("second keygen = %d, stdout %q, stderr %q; want 1 and a refusal", code, stdout, stderr)
	}
}
