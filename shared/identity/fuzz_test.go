package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/net/idna"
)

// fuzzSeeds are the nasty cases; testdata/fuzz/FuzzNormalize holds them too,
// one file each, in Go's corpus format.
var fuzzSeeds = []string{
	"a@b.co", " A@B.CO ", "", "@", "a@@b", "ÄÖ@ü.de", "\u212a@x.yz", "a\x00@b.de",
	"İx@example.com", "i\u0307x@example.com", "\u212aate@example.com", "ｋate@example.com",
	"a@ｅxample.com", "a@bücher.de", "a@XN--BCHER-KVA.DE", "a@faß.de", "a@xn--fa-hia.de",
	"a@σος.gr", "a@ab\u200ccd.com", "a@b\u00adücher.de", "a@bücher。de", "a@BÜCHER.de",
	"\"a@b\"@example.com", "a@[192.0.2.1]", "a@localhost", "a@example.com.", "a..b@c.de",
	"a@xn--zz.de", "a@☃.net", "a@1.עברית.il", "a@col·legi.cat",
}

// FuzzNormalize checks that every result of Normalize is lower-case ASCII,
// within the length limits and idempotent, that it is exactly trim + ASCII
// lower-case + raw A-labels of the input (so only those spellings can share
// a key), that spellings an attacker could derive from the input (Unicode
// case mappings, IDNA mappings, fullwidth forms) share its key only if they
// are the same mailbox, and that nothing panics.
func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	ks, err := FromSecret([]byte("k"))
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			if !errors.Is(err, ErrNoEmail) && !errors.Is(err, ErrMalformedEmail) {
				t.Fatalf("Normalize(%+q): unexpected error class %v", s, err)
			}
			if _, kerr := ks.Key(ctx, s); kerr == nil {
				t.Fatalf("Key accepted %+q that Normalize rejects", s)
			}
			return
		}
		checkNormalized(t, s, n)
		for _, v := range variants(s) {
			checkPair(t, s, v)
		}
		a, err := ks.Key(ctx, s)
		if err != nil {
			t.Fatalf("Key(%+q): %v", s, err)
		}
		b, err := ks.Key(ctx, " "+strings.ToUpper(n)+"\t")
		if err != nil || a != b {
			t.Fatalf("upper-cased spelling of %+q got another key: %v", s, err)
		}
	})
}

// FuzzNormalizePair checks the collision property on arbitrary pairs: if a
// and b normalise alike, they differ only by surrounding white space, ASCII
// case, or the U-label versus A-label spelling of the same domain.
func FuzzNormalizePair(f *testing.F) {
	for _, p := range [][2]string{
		{"kate@example.com", "\u212aate@example.com"},
		{"ix@example.com", "İx@example.com"},
		{"a@bücher.de", "A@XN--BCHER-KVA.DE"},
		{"a@fass.de", "a@faß.de"},
		{"a@fass.de", "a@xn--fa-hia.de"},
		{"a@example.com", "a@ｅxample.com"},
		{"a@σοσ.gr", "a@σος.gr"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		checkPair(t, a, b)
	})
}

func checkPair(t *testing.T, a, b string) {
	t.Helper()
	na, errA := Normalize(a)
	nb, errB := Normalize(b)
	if errA != nil || errB != nil || na != nb {
		return
	}
	if !sameMailbox(t, a, b) {
		t.Fatalf("different mailboxes %+q and %+q both normalise to %q", a, b, na)
	}
}

// sameMailbox reports whether a and b differ only by surrounding white
// space, ASCII case (the local parts are ASCII and equal but for ASCII
// case; strings.EqualFold would also match the Kelvin sign) and the U-label
// or A-label spelling of each domain label, without using Normalize.
func sameMailbox(t *testing.T, a, b string) bool {
	la, da, okA := strings.Cut(strings.TrimSpace(a), "@")
	lb, db, okB := strings.Cut(strings.TrimSpace(b), "@")
	if !okA || !okB || !isASCII(la) || !isASCII(lb) || asciiLower(la) != asciiLower(lb) {
		return false
	}
	return aLabels(t, da) == aLabels(t, db)
}

// aLabels is the domain with ASCII lower-cased and each non-ASCII label as
// the raw Punycode of exactly that label.
func aLabels(t *testing.T, d string) string {
	labels := strings.Split(asciiLower(d), ".")
	for i, l := range labels {
		if !isASCII(l) {
			a, err := idna.Punycode.ToASCII(l)
			if err != nil {
				t.Fatalf("punycode(%+q): %v", l, err)
			}
			labels[i] = a
		}
	}
	return strings.Join(labels, ".")
}

// transitional is what a transitional (IDNA2003-compatible) processor does.
var transitional = idna.New(idna.MapForLookup(), idna.Transitional(true))

// variants returns spellings of s an attacker could use to claim the key of
// s or that a lax normaliser would merge with it.
func variants(s string) []string {
	vs := []string{
		strings.ToLower(s), strings.ToUpper(s), strings.ToTitle(s),
		strings.ToLowerSpecial(unicode.TurkishCase, s), strings.ToUpperSpecial(unicode.TurkishCase, s),
		strings.Map(simpleFold, s), strings.Map(fullwidth, s),
	}
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		local, domain := s[:at], strings.TrimSpace(s[at+1:])
		for _, p := range []*idna.Profile{idna.Lookup, idna.Display, transitional, idna.Punycode} {
			if d, err := p.ToASCII(domain); err == nil {
				vs = append(vs, local+"@"+d)
			}
			if d, err := p.ToUnicode(domain); err == nil {
				vs = append(vs, local+"@"+d)
			}
		}
	}
	return vs
}

// simpleFold maps a rune to the next one in its Unicode case-folding orbit
// (k -> K -> Kelvin sign -> k).
func simpleFold(r rune) rune { return unicode.SimpleFold(r) }

// fullwidth maps printable ASCII but '@' and '.' to its fullwidth form.
func fullwidth(r rune) rune {
	if '!' <= r && r <= '~' && r != '@' && r != '.' {
		return r + 0xfee0
	}
	return r
}
