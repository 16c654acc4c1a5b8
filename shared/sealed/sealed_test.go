package sealed

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
)

func envelope() orders.Envelope {
	return orders.Envelope{Version: orders.SealedVersion, OrderID: "o-1", Region: "eu-west-1", Owner: "sub-1",
		CreatedAt: time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC),
		Order: orders.Order{Items: []orders.Item{{SKU: "AB-12", Quantity: 2}}, Note: "ring twice",
			DeliveryAddress: orders.Address{Name: "Erika Mustermann", Line1: "Hauptstr. 1", City: "Berlin", PostalCode: "10115", Country: "DE"}}}
}

// newKey writes a key file in t's directory and returns its path and keyring.
func newKey(t testing.TB) (string, PublicKey, *Keyring) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site.key")
	pub, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, pub, r
}

func TestSealOpen(t *testing.T) {
	_, pub, ring := newKey(t)
	parsed, err := ParsePublicKey(pub.String())
	if err != nil || parsed.KeyID() != pub.KeyID() || len(pub.KeyID()) != 16 {
		t.Fatalf("ParsePublicKey(String()) = %v, %v", parsed.KeyID(), err)
	}
	env := envelope()
	m, err := SealEnvelope(parsed, env)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(m)
	for _, field := range []string{"Erika", "Mustermann", "Hauptstr", "Berlin", "10115", "ring twice", "AB-12"} {
		if bytes.Contains(body, []byte(field)) {
			t.Fatalf("sealed message shows %q: %s", field, body)
		}
	}
	got, err := ring.OpenEnvelope(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.OrderID != env.OrderID || got.Order.DeliveryAddress != env.Order.DeliveryAddress || got.Order.Note != env.Order.Note || !got.CreatedAt.Equal(env.CreatedAt) {
		t.Fatalf("opened %+v, want %+v", got, env)
	}

	// A ciphertext moved into another message does not open.
	for name, move := range map[string]func(*orders.SealedEnvelope){
		"orderId":   func(m *orders.SealedEnvelope) { m.OrderID = "o-2" },
		"owner":     func(m *orders.SealedEnvelope) { m.Owner = "sub-2" },
		"region":    func(m *orders.SealedEnvelope) { m.Region = "eu-central-1" },
		"createdAt": func(m *orders.SealedEnvelope) { m.CreatedAt = m.CreatedAt.Add(time.Nanosecond) },
		"version":   func(m *orders.SealedEnvelope) { m.Version = 3 },
		"tampered":  func(m *orders.SealedEnvelope) { m.Sealed.Ciphertext = "A" + m.Sealed.Ciphertext[1:] },
		"not b64":   func(m *orders.SealedEnvelope) { m.Sealed.Ciphertext = "%%" },
	} {
		moved := m
		move(&moved)
		if _, err := ring.OpenEnvelope(moved); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("%s changed: err = %v, want ErrCannotOpen", name, err)
		}
	}
	unknown := m
	unknown.Sealed.KeyID = "0123456789abcdef"
	if _, err := ring.OpenEnvelope(unknown); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown kid: err = %v, want ErrUnknownKey", err)
	}
}

// Rotation: a site holding the old and the new key opens both; once the old
// one is removed, messages sealed to it are ErrUnknownKey.
func TestRotation(t *testing.T) {
	oldPath, oldPub, _ := newKey(t)
	newPath, newPub, _ := newKey(t)
	a, _ := os.ReadFile(oldPath)
	b, _ := os.ReadFile(newPath)
	both, err := ParseKeyFile(append(append(a, '\n'), b...))
	if err != nil || len(both.KeyIDs()) != 2 {
		t.Fatalf("two keys: %v, %v", both.KeyIDs(), err)
	}
	mOld, _ := SealEnvelope(oldPub, envelope())
	mNew, _ := SealEnvelope(newPub, envelope())
	for _, m := range []orders.SealedEnvelope{mOld, mNew} {
		if _, err := both.OpenEnvelope(m); err != nil {
			t.Fatalf("open with both keys: %v", err)
		}
	}
	onlyNew, _ := ParseKeyFile(b)
	if _, err := onlyNew.OpenEnvelope(mOld); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old key removed: %v, want ErrUnknownKey", err)
	}
}

func TestKeyFiles(t *testing.T) {
	path, _, _ := newKey(t)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
	}
	if _, err := GenerateKeyFile(path); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("overwrite: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key file: %v", err)
	}
	data, _ := os.ReadFile(path)
	for name, bad := range map[string]string{
		"empty":      "# nothing\n",
		"no prefix":  "AAAA\n",
		"not base64": "homeregion-site-key-v1 %%%\n",
		"not a key":  "homeregion-site-key-v1 AAAA\n",
	} {
		_, err := ParseKeyFile([]byte(bad))
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if err != nil && bytes.Contains(data, []byte(err.Error())) {
			t.Errorf("%s: error quotes the key file", name)
		}
	}
	if _, err := ParsePublicKey("not a key"); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("ParsePublicKey(garbage) = %v", err)
	}
}

// FuzzOpenEnvelope: no malformed version 2 message panics or opens.
func FuzzOpenEnvelope(f *testing.F) {
	_, pub, ring := newKey(f)
	m, _ := SealEnvelope(pub, envelope())
	good, _ := json.Marshal(m)
	f.Add(good)
	f.Add([]byte(`{"version":2,"sealed":{"kid":"","ct":""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var msg orders.SealedEnvelope
		if json.Unmarshal(body, &msg) != nil {
			return
		}
		env, err := ring.OpenEnvelope(msg)
		if err == nil && !bytes.Equal(body, good) {
			// Only the genuine message (or a re-encoding of its fields) opens.
			if msg.Sealed != m.Sealed || msg.OrderID != m.OrderID || env.Order.DeliveryAddress.Name != "Erika Mustermann" {
				t.Fatalf("a forged message opened: %s", body)
			}
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	_, pub, _ := newKey(b)
	env := envelope()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SealEnvelope(pub, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	_, pub, ring := newKey(b)
	m, _ := SealEnvelope(pub, envelope())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ring.OpenEnvelope(m); err != nil {
			b.Fatal(err)
		}
	}
}
