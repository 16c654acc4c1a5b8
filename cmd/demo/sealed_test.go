package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/sealed"
)

// TestCheckSealed: only a version 2 message of the order, sealed to the
// stack's key and with none of the order's values in it, passes.
func TestCheckSealed(t *testing.T) {
	dir := t.TempDir()
	pub, err := sealed.GenerateKeyFile(filepath.Join(dir, "site.key"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := sealed.GenerateKeyFile(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	var order orders.Order
	if err := json.Unmarshal([]byte(demoOrder), &order); err != nil {
		t.Fatal(err)
	}
	env := orders.Envelope{Version: orders.EnvelopeVersion, OrderID: "o-1", Region: "eu-west-1", Owner: "sub-1",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Order: order}
	seal := func(k sealed.PublicKey, env orders.Envelope) string {
		m, err := sealed.SealEnvelope(k, env)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	plain, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	leaky := env
	leaky.Owner = "Demo Customer" // a readable value outside the ciphertext
	tests := []struct {
		name, body, id, pub string
		wantErr             string // "" : passes
	}{
		{"sealed", seal(pub, env), "o-1", pub.String(), ""},
		{"sealed, key not checked", seal(pub, env), "o-1", "", ""},
		{"version 1 plaintext", string(plain), "o-1", pub.String(), "version 1, not sealed"},
		{"another order's message", seal(pub, env), "o-2", pub.String(), "want o-2's"},
		{"sealed to another key", seal(other, env), "o-1", pub.String(), "want the site key's id"},
		{"a value readable beside the ciphertext", seal(pub, leaky), "o-1", pub.String(), "name can be read"},
		{"unknown field beside the sealed order", strings.Replace(seal(pub, env), `"version":2`, `"version":2,"order":{}`, 1), "o-1", pub.String(), "not a sealed (version 2) message"},
		{"no ciphertext", `{"version":2,"orderId":"o-1","region":"eu-west-1","owner":"s","createdAt":"2026-01-02T03:04:05Z","sealed":{"kid":"k","ct":""}}`, "o-1", "", "not a base64url ciphertext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detail, err := checkSealed(tt.body, tt.id, tt.pub, demoOrder)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"version 2", "sealed.kid " + pub.KeyID(), "none of the order's 6 values"} {
					if !strings.Contains(detail, want) {
						t.Errorf("detail %q lacks %q", detail, want)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestStoredOrder reads an order as the processor stores it and compares it
// with the one posted.
func TestStoredOrder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "orders.db")
	s, err := orderstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var order orders.Order
	if err := json.Unmarshal([]byte(demoOrder), &order); err != nil {
		t.Fatal(err)
	}
	env := orders.Envelope{Version: orders.SealedVersion, OrderID: "o-1", Region: "eu-west-1", Owner: "sub-1", CreatedAt: time.Now().UTC(), Order: order}
	if _, err := s.Prepare(ctx, env); err != nil {
		t.Fatal(err)
	}
	version, stored, err := storedOrder(ctx, path, "o-1")
	if err != nil {
		t.Fatal(err)
	}
	if version != orders.SealedVersion {
		t.Errorf("version %d, want %d", version, orders.SealedVersion)
	}
	if err := checkStored(stored, demoOrder); err != nil {
		t.Fatal(err)
	}
	if err := checkStored(stored, strings.Replace(demoOrder, "Berlin", "Hamburg", 1)); err == nil {
		t.Fatal("a different order passed checkStored")
	}
	if _, _, err := storedOrder(ctx, path, "o-2"); err == nil || !strings.Contains(err.Error(), sql.ErrNoRows.Error()) {
		t.Fatalf("an order not stored: err = %v, want no rows", err)
	}
}
