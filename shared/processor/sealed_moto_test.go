package processor_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/sealed"
)

// sealedTo is order id's message sealed to pub, optionally changed by mod
// after sealing.
func sealedTo(t *testing.T, pub sealed.PublicKey, id string, mod func(*orders.SealedEnvelope)) string {
	t.Helper()
	m, err := sealed.SealEnvelope(pub, processortest.Envelope(id))
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSealedThatDoNotOpen: a message sealed to a key the site does not hold,
// and one whose ciphertext was moved from another message (other orderId,
// owner, region and createdAt), are never stored: they reach the DLQ after
// maxReceiveCount receives and their orders end FAILED. The log names the
// unknown key id, never an order field. The good orders around them are
// processed.
func TestSealedThatDoNotOpen(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	f := processortest.New(t, cfg, 2)
	ids := processortest.IDs("s", 20)
	f.Seed(t, ids)
	_, otherPub, _ := processortest.NewKey(t)
	unknown, moved := "unknown-key-1", "moved-ct-1"
	f.Records(t, []string{unknown, moved})
	f.SendRaw(t, sealedTo(t, otherPub, unknown, nil), unknown)
	donor := processortest.Envelope("donor-1")
	donor.Owner, donor.Region, donor.CreatedAt = "other-owner", "eu-central-1", donor.CreatedAt.Add(time.Hour)
	dm, err := sealed.SealEnvelope(f.PublicKey, donor)
	if err != nil {
		t.Fatal(err)
	}
	f.SendRaw(t, sealedTo(t, f.PublicKey, moved, func(m *orders.SealedEnvelope) { m.Sealed = dm.Sealed }), moved)

	store := openStore(t, orderstoretest.SQLiteDSN(t))
	var logs logtest.Buffer
	_, stop := runWith(t, cfg, f, store, f.Keys, logs.Logger(), func(c *processor.Config) { c.VisibilityTimeout = time.Second })
	processortest.WaitFor(t, time.Minute, "2 messages in the DLQ", func() bool {
		v, nv := f.Counts(t, f.DLQURL)
		return v+nv == 2
	})
	processortest.WaitFor(t, time.Minute, "both orders FAILED", func() bool {
		st := f.Statuses(t, []string{unknown, moved})
		return st[unknown] == orders.StatusFailed && st[moved] == orders.StatusFailed
	})
	checkDone(t, f, store, ids) // 20 rows: nothing of the two stored
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	var sawKid, sawMoved bool
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "poison") && strings.Contains(line, otherPub.KeyID()) {
			sawKid = true
		}
		if strings.Contains(line, "poison") && strings.Contains(line, moved) && strings.Contains(line, "does not open") {
			sawMoved = true
		}
	}
	if !sawKid || !sawMoved {
		t.Errorf("want poison lines naming the unknown kid %s and the order that does not open; logs:\n%s", otherPub.KeyID(), out)
	}
	processortest.CheckNoPII(t, out)
	if strings.Contains(out, "other-owner") {
		t.Errorf("a log line carries an owner:\n%s", out)
	}
}

// TestKeyRotation: orders sealed to the old and to the new key are all
// stored by a site holding both keys. Restarted with only the new key (the
// old one removed too early), a message still sealed to the old key goes to
// the DLQ and its order ends FAILED: the old key may be removed only once
// no message sealed to it can remain.
func TestKeyRotation(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	f := processortest.New(t, cfg, 2)
	oldPub := f.PublicKey
	newFile, newPub, newKeys := processortest.NewKey(t)
	both := filepath.Join(t.TempDir(), "both.key")
	var data []byte
	for _, p := range []string{f.KeyFile, newFile} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	if err := os.WriteFile(both, data, 0o600); err != nil {
		t.Fatal(err)
	}
	bothKeys, err := sealed.ReadKeyFile(both)
	if err != nil {
		t.Fatal(err)
	}
	if got := bothKeys.KeyIDs(); len(got) != 2 || got[0] != oldPub.KeyID() || got[1] != newPub.KeyID() {
		t.Fatalf("key ids = %v, want [%s %s]", got, oldPub.KeyID(), newPub.KeyID())
	}

	oldIDs, newIDs := processortest.IDs("old", 10), processortest.IDs("new", 10)
	f.Seed(t, oldIDs)
	f.PublicKey = newPub
	f.Seed(t, newIDs)
	store := openStore(t, orderstoretest.SQLiteDSN(t))
	_, stop := runWith(t, cfg, f, store, bothKeys, slog.New(slog.DiscardHandler), nil)
	checkDone(t, f, store, append(oldIDs, newIDs...))
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	late := "late-old-1"
	f.Records(t, []string{late})
	f.SendRaw(t, sealedTo(t, oldPub, late, nil), late)
	more := processortest.IDs("new2", 5)
	f.Seed(t, more)
	var logs logtest.Buffer
	_, stop = runWith(t, cfg, f, store, newKeys, logs.Logger(), func(c *processor.Config) { c.VisibilityTimeout = time.Second })
	processortest.WaitFor(t, time.Minute, "the old-key message in the DLQ", func() bool {
		v, nv := f.Counts(t, f.DLQURL)
		return v+nv == 1
	})
	processortest.WaitFor(t, time.Minute, "its order FAILED", func() bool {
		return f.Statuses(t, []string{late})[late] == orders.StatusFailed
	})
	checkDone(t, f, store, append(append(oldIDs, newIDs...), more...))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); !strings.Contains(out, oldPub.KeyID()) {
		t.Errorf("no log line names the removed key %s:\n%s", oldPub.KeyID(), out)
	}
}

// TestPlaintextVersion1: version 1 messages are stored by default (while
// they may remain in a queue) and refused with RefusePlaintext
// (ACCEPT_PLAINTEXT_ORDERS=false): DLQ, order FAILED, nothing stored.
func TestPlaintextVersion1(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	f := processortest.New(t, cfg, 2)
	f.Plaintext = true
	accepted := processortest.IDs("v1", 5)
	f.Seed(t, accepted)
	store := openStore(t, orderstoretest.SQLiteDSN(t))
	_, stop := run(t, cfg, f, store, nil)
	checkDone(t, f, store, accepted)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	refused := processortest.IDs("v1-refused", 3)
	f.Seed(t, refused)
	f.Plaintext = false
	sealedIDs := processortest.IDs("v2", 3)
	f.Seed(t, sealedIDs)
	var logs logtest.Buffer
	_, stop = runWith(t, cfg, f, store, f.Keys, logs.Logger(), func(c *processor.Config) {
		c.VisibilityTimeout = time.Second
		c.RefusePlaintext = true
	})
	processortest.WaitFor(t, time.Minute, "3 messages in the DLQ", func() bool {
		v, nv := f.Counts(t, f.DLQURL)
		return v+nv == 3
	})
	processortest.WaitFor(t, time.Minute, "the refused orders FAILED", func() bool {
		st := f.Statuses(t, refused)
		for _, id := range refused {
			if st[id] != orders.StatusFailed {
				return false
			}
		}
		return true
	})
	checkDone(t, f, store, append(accepted, sealedIDs...))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "plaintext (version 1) orders are no longer accepted") {
		t.Errorf("no log line gives the reason:\n%s", out)
	}
	processortest.CheckNoPII(t, out)
}
