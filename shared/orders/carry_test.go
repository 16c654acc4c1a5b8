package orders_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/sealed"
)

// The property: every body DecodeOrder accepts can be carried by every hop
// unchanged. Its message (version 2: the order sealed to the site's key) is
// a valid SQS message body that the site opens back to the same order, every
// string of the order is itself SQS-safe (so no hop has to escape it) and
// both site databases store it: SQLite always, PostgreSQL (TEXT and JSONB) when
// PROCESSOR_TEST_POSTGRES_DSN is set. The SQS rule is written out here from
// AWS's documentation, independently of orders.CheckText:
//
//	#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF

// sqsAllowed is SQS's rule for the characters of a message body.
func sqsAllowed(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9, r == 0xA, r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// sites opens the site databases the property is checked against.
func sites(t testing.TB) []orderstore.Store {
	t.Helper()
	kinds := []string{"sqlite"}
	if os.Getenv(orderstoretest.EnvPostgresDSN) != "" && !testing.Short() {
		kinds = append(kinds, "postgres")
	} else {
		t.Logf("%s not set (or -short): PostgreSQL part skipped", orderstoretest.EnvPostgresDSN)
	}
	var out []orderstore.Store
	for _, k := range kinds {
		s, err := orderstore.Open(context.Background(), orderstoretest.DSN(t, k))
		if err != nil {
			t.Fatalf("open %s: %v", k, err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// jsonString quotes s as a JSON string literal, escaping only what JSON
// requires: everything else (noncharacters, invalid UTF-8 bytes, ...) stays
// raw, so the decoder sees it as a client could send it.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// orderBody puts v (a JSON string literal) in the note and in every address
// field but country.
func orderBody(v string) []byte {
	return []byte(`{"items":[{"sku":"AB-12","quantity":1}],"deliveryAddress":{"name":` + v +
		`,"line1":` + v + `,"line2":` + v + `,"city":` + v + `,"postalCode":` + v +
		`,"country":"DE"},"note":` + v + `}`)
}

// checkCarried fails t unless the accepted body is carried by SQS and every
// site database.
func checkCarried(t *testing.T, stores []orderstore.Store, site siteKeys, n int, body []byte) {
	t.Helper()
	o, err := orders.DecodeOrder(body)
	if err != nil {
		return // refused: nothing to carry
	}
	a := o.DeliveryAddress
	for _, f := range []string{o.Note, a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country} {
		if !sqsAllowed(f) {
			t.Fatalf("accepted %q: a field holds a character SQS refuses: %+q", body, f)
		}
	}
	sent := orders.Envelope{Version: orders.SealedVersion, OrderID: fmt.Sprintf("p-%d", n), Region: "eu-west-1",
		Owner: "sub", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Order: o}
	sm, err := sealed.SealEnvelope(site.key, sent) // what the orders API sends
	if err != nil {
		t.Fatalf("accepted %q: seal: %v", body, err)
	}
	msg, err := json.Marshal(sm)
	if err != nil {
		t.Fatalf("accepted %q: marshal message: %v", body, err)
	}
	if !sqsAllowed(string(msg)) {
		t.Fatalf("accepted %q: its message is not a valid SQS message body", body)
	}
	var got orders.SealedEnvelope // what the site receives
	if err := json.Unmarshal(msg, &got); err != nil {
		t.Fatalf("accepted %q: decode message: %v", body, err)
	}
	env, err := site.ring.OpenEnvelope(got)
	if err != nil {
		t.Fatalf("accepted %q: the site cannot open its message: %v", body, err)
	}
	if a, b := mustMarshal(t, env.Order), mustMarshal(t, o); a != b {
		t.Fatalf("accepted %q: opened as %s, sent %s", body, a, b)
	}
	for _, s := range stores {
		if _, err := s.Prepare(context.Background(), env); err != nil {
			t.Fatalf("accepted %q: %s cannot store it: %v", body, s.Kind(), err)
		}
	}
}

// siteKeys is a site's key pair: the orders API seals to key, the site
// opens with ring.
type siteKeys struct {
	key  sealed.PublicKey
	ring *sealed.Keyring
}

// newSiteKeys generates a site key file in a temporary directory, as
// processor keygen does, and reads it back.
func newSiteKeys(t testing.TB) siteKeys {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site.key")
	key, err := sealed.GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := sealed.ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return siteKeys{key: key, ring: ring}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// interesting are the code points at the edges of what each hop carries.
var interesting = []rune{
	0x0, 0x1, 0x9, 0xA, 0xD, 0x1F, 0x20, 'a', 'Z', '7', ' ', 0x7F, 0x80, 0x85, 0x9F, 0xA0, 0xAD, 0x301,
	0x3164, 0x180E, 0x200B, 0x200C, 0x200D, 0x200F, 0x2028, 0x2060, 0x2062, 0x3000, 0xFE0F, 0xFEFF,
	0xD7FF, 0xE000, 0xF8FF, 0xFDCF, 0xFDD0, 0xFDEF, 0xFDF0, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000,
	0x1F600, 0x1FFFE, 0x1FFFF, 0xE0001, 0xEFFFF, 0x10FFFD, 0x10FFFE, 0x10FFFF, 'é', '李',
}

// genText generates a string of 0-12 code points, mostly from interesting,
// sometimes any scalar value, written raw or as a JSON \u escape (surrogate
// escapes, paired and not, included). It returns a JSON string literal.
func genText(r *rand.Rand) string {
	var b strings.Builder
	b.WriteByte('"')
	for range r.IntN(13) {
		var c rune
		if r.IntN(4) == 0 {
			c = r.Int32N(0x110000)
		} else {
			c = interesting[r.IntN(len(interesting))]
		}
		switch {
		case c >= 0xD800 && c <= 0xDFFF:
			fmt.Fprintf(&b, `\u%04x`, c) // a lone surrogate escape
		case r.IntN(3) == 0 && c <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04x`, c)
		case r.IntN(3) == 0 && c > 0xFFFF:
			c -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(c>>10), 0xDC00+(c&0x3FF))
		case c < 0x20 || c == '"' || c == '\\':
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestAcceptedTextIsCarriedEverywhere checks the property over generated
// strings (a fixed seed, so a failure is reproducible).
func TestAcceptedTextIsCarriedEverywhere(t *testing.T) {
	stores, site := sites(t), newSiteKeys(t)
	r := rand.New(rand.NewPCG(11, 2026))
	accepted := 0
	for n := range 3000 {
		body := orderBody(genText(r))
		if _, err := orders.DecodeOrder(body); err == nil {
			accepted++
		}
		checkCarried(t, stores, site, n, body)
	}
	if accepted < 100 {
		t.Fatalf("only %d of 3000 generated bodies accepted: the generator no longer exercises the property", accepted)
	}
	t.Logf("%d of 3000 generated bodies accepted and carried", accepted)
}

// FuzzAcceptedTextIsCarriedEverywhere is the same property over fuzzed
// strings, placed raw (only JSON's mandatory escapes) in every text field.
func FuzzAcceptedTextIsCarriedEverywhere(f *testing.F) {
	for _, s := range []string{"Ada Lovelace", "a\x00b", "\uFFFE", "\uFFFF", "\uFDD0", "\U0010FFFF", "\u200b", "x\ty", "\xed\xa0\x80", "é\u0085"} {
		f.Add(s)
	}
	stores, site := sites(f), newSiteKeys(f)
	n := 0
	f.Fuzz(func(t *testing.T, s string) {
		n++
		checkCarried(t, stores, site, n, orderBody(jsonString(s)))
	})
}
