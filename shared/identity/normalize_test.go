package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// domainOfLen returns an ASCII domain of exactly n bytes (n >= 4) made of
// labels of at most 63 bytes.
func domainOfLen(n int) string {
	var labels []string
	for n > 0 {
		l := min(63, n)
		if n-l == 1 || n-l == 2 { // leave room for ".x" (at least 2 bytes)
			l -= 3
		}
		labels = append(labels, strings.Repeat(string(rune('a'+len(labels)%26)), l))
		n -= l + 1
	}
	return strings.Join(labels, ".")
}

// punycode returns the raw A-label of label (no IDNA mapping or checks).
func punycode(t testing.TB, label string) string {
	t.Helper()
	a, err := idna.Punycode.ToASCII(label)
	if err != nil || !strings.HasPrefix(a, "xn--") {
		t.Fatalf("punycode(%q) = %q, %v", label, a, err)
	}
	return a
}

func TestNormalize(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	tests := []struct {
		name, in, want string
		err            error
	}{
		// Accepted: trim, ASCII lower-case, nothing else folded.
		{"plain", "a@example.com", "a@example.com", nil},
		{"surrounding spaces", "  Alice@Example.COM \t\n", "alice@example.com", nil},
		{"surrounding unicode spaces", "\u00a0\u2003bob@example.org\u3000", "bob@example.org", nil},
		{"ascii case", "ALICE@EXAMPLE.COM", "alice@example.com", nil},
		{"dots and tags kept", "A.B+Tag@x.io", "a.b+tag@x.io", nil},
		{"all atext", "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com", nil},
		{"ldh domain", "a@Mail-1.Example-2.co.uk", "a@mail-1.example-2.co.uk", nil},
		{"reserved ldh label", "a@ab--cd.com", "a@ab--cd.com", nil},
		{"u-label", "a@bücher.de", "a@xn--bcher-kva.de", nil},
		{"u-label with ascii upper-case", "a@Bücher.DE", "a@xn--bcher-kva.de", nil},
		{"a-label", "a@xn--bcher-kva.de", "a@xn--bcher-kva.de", nil},
		{"upper-case a-label", "A@XN--BCHER-KVA.DE", "a@xn--bcher-kva.de", nil},
		{"a-label of a deviation", "a@xn--fa-hia.de", "a@xn--fa-hia.de", nil},
		{"greek", "a@παράδειγμα.δοκιμή", "a@xn--hxajbheg2az3al.xn--jxalpdlp", nil},
		{"cyrillic", "a@пример.рф", "a@xn--e1afmkfd.xn--p1ai", nil},
		{"japanese", "a@例え.テスト", "a@xn--r8jz45g.xn--zckzah", nil},
		{"hebrew", "a@עברית.il", "a@xn--5dbqzzl.il", nil},
		{"contexto middle dot", "a@col·legi.cat", "a@xn--collegi-xma.cat", nil},
		{"contexto keraia", "a@\u03b1\u0375\u03b2.gr", "a@xn--wva3je.gr", nil},
		{"contexto geresh", "a@\u05d0\u05f3\u05d1.il", "a@xn--4dbc5h.il", nil},
		{"contexto katakana middle dot", "a@\u30ab\u30fb\u30ab.jp", "a@xn--lcka3v.jp", nil},
		{"contexto arabic-indic digits", "a@\u0628\u0661\u0662.com", "a@xn--ngb8id.com", nil},
		{"local part 64 bytes", local64 + "@example.com", local64 + "@example.com", nil},
		{"address 254 bytes", local64 + "@" + domainOfLen(189), local64 + "@" + domainOfLen(189), nil},
		{"label 63 bytes", "a@" + strings.Repeat("x", 63) + ".com", "a@" + strings.Repeat("x", 63) + ".com", nil},

		// Empty.
		{"empty", "", "", ErrNoEmail},
		{"blank", "   ", "", ErrNoEmail},
		{"blank unicode", "\t\u00a0\n", "", ErrNoEmail},

		// Malformed.
		{"no at", "no-at-sign", "", ErrMalformedEmail},
		{"empty local", "@example.com", "", ErrMalformedEmail},
		{"empty domain", "a@", "", ErrMalformedEmail},
		{"two ats", "a@b@c.de", "", ErrMalformedEmail},
		{"inner space", "a b@c.de", "", ErrMalformedEmail},
		{"inner tab", "a\tb@c.de", "", ErrMalformedEmail},
		{"inner space in domain", "a@c .de", "", ErrMalformedEmail},
		{"inner no-break space", "a\u00a0b@c.de", "", ErrMalformedEmail},
		{"inner line separator", "a@c\u2028.de", "", ErrMalformedEmail},
		{"nul", "a\x00@b.de", "", ErrMalformedEmail},
		{"escape", "a\x1b@b.de", "", ErrMalformedEmail},
		{"del", "a@b.de\x7f", "", ErrMalformedEmail},
		{"c1 control", "a\u0085b@c.de", "", ErrMalformedEmail},
		{"c1 control in domain", "a@c\u009b.de", "", ErrMalformedEmail},
		{"invalid utf-8", "a\xff@b.de", "", ErrMalformedEmail},
		{"double dot local", "a..b@c.de", "", ErrMalformedEmail},
		{"leading dot local", ".a@c.de", "", ErrMalformedEmail},
		{"trailing dot local", "a.@c.de", "", ErrMalformedEmail},
		{"comma in local", "a,b@c.de", "", ErrMalformedEmail},
		{"comment in local", "a(b)@c.de", "", ErrMalformedEmail},
		{"backslash in local", `a\b@c.de`, "", ErrMalformedEmail},
		{"inner quote in local", `a"b@c.de`, "", ErrMalformedEmail},
		{"local part 65 bytes", local64 + "a@example.com", "", ErrMalformedEmail},
		{"address 255 bytes", local64 + "@" + domainOfLen(190), "", ErrMalformedEmail},
		{"label 64 bytes", "a@" + strings.Repeat("x", 64) + ".com", "", ErrMalformedEmail},
		{"u-label over 63 bytes as a-label", "a@" + strings.Repeat("ü", 60) + ".de", "", ErrMalformedEmail},
		{"dotless domain", "a@localhost", "", ErrMalformedEmail},
		{"trailing dot domain", "a@example.com.", "", ErrMalformedEmail},
		{"leading dot domain", "a@.example.com", "", ErrMalformedEmail},
		{"double dot domain", "a@example..com", "", ErrMalformedEmail},
		{"underscore in domain", "a@ex_ample.com", "", ErrMalformedEmail},
		{"leading hyphen label", "a@-example.com", "", ErrMalformedEmail},
		{"trailing hyphen label", "a@example-.com", "", ErrMalformedEmail},
		{"invalid punycode", "a@xn--zz.de", "", ErrMalformedEmail},
		{"a-label of ascii", "a@xn--abc-.de", "", ErrMalformedEmail},
		{"empty a-label", "a@xn--.de", "", ErrMalformedEmail},
		{"a-label of a symbol", "a@xn--n3h.net", "", ErrMalformedEmail},
		{"a-label of non-NFC", "a@" + punycode(t, "bu\u0308cher") + ".de", "", ErrMalformedEmail},
		{"a-label of upper-case", "a@" + punycode(t, "bÜcher") + ".de", "", ErrMalformedEmail},
		{"a-label breaking contexto", "a@xn--ab-0ea.cat", "", ErrMalformedEmail},

		// Unsupported: cannot be normalised safely.
		{"quoted local", `"quoted"@example.com`, "", ErrUnsupportedEmail},
		{"quoted local with space", `"a b"@example.com`, "", ErrUnsupportedEmail},
		{"quoted local with at", `"a@b"@example.com`, "", ErrUnsupportedEmail},
		{"dotted capital I", "İx@example.com", "", ErrUnsupportedEmail},
		{"dotless small i", "ıx@example.com", "", ErrUnsupportedEmail},
		{"kelvin sign", "\u212aate@example.com", "", ErrUnsupportedEmail},
		{"fullwidth local", "ｋａｔｅ@example.com", "", ErrUnsupportedEmail},
		{"non-ascii local upper", "ÄLICE@EXAMPLE.DE", "", ErrUnsupportedEmail},
		{"non-ascii local lower", "älice@example.de", "", ErrUnsupportedEmail},
		{"zero width joiner in local", "a\u200db@example.com", "", ErrUnsupportedEmail},
		{"bom", "\ufeffa@example.com", "", ErrUnsupportedEmail},
		{"ipv4 literal", "a@[192.0.2.1]", "", ErrUnsupportedEmail},
		{"ipv6 literal", "a@[IPv6:2001:db8::1]", "", ErrUnsupportedEmail},
		{"fullwidth domain letter", "a@ｅxample.com", "", ErrUnsupportedEmail},
		{"fullwidth domain", "a@ＥＸＡＭＰＬＥ.com", "", ErrUnsupportedEmail},
		{"upper-case non-ascii domain", "a@BÜCHER.de", "", ErrUnsupportedEmail},
		{"non-NFC domain", "a@bu\u0308cher.de", "", ErrUnsupportedEmail},
		{"soft hyphen in domain", "a@b\u00adücher.de", "", ErrUnsupportedEmail},
		{"zero width space in domain", "a@example.com\u200b", "", ErrUnsupportedEmail},
		{"ideographic full stop", "a@bücher。de", "", ErrUnsupportedEmail},
		{"sharp s", "a@faß.de", "", ErrUnsupportedEmail},
		{"capital sharp s", "a@faẞ.de", "", ErrUnsupportedEmail},
		{"final sigma", "a@σος.gr", "", ErrUnsupportedEmail},
		{"zwnj in domain", "a@ab\u200ccd.com", "", ErrUnsupportedEmail},
		{"zwj in domain", "a@\u0915\u094d\u200d.in", "", ErrUnsupportedEmail},
		{"symbol in domain", "a@☃.net", "", ErrUnsupportedEmail},
		{"idna2008 disallowed letter", "a@\u3031a.jp", "", ErrUnsupportedEmail},
		{"contexto broken", "a@a·b.cat", "", ErrUnsupportedEmail},
		{"keraia before latin", "a@x\u0375b.gr", "", ErrUnsupportedEmail},
		{"geresh after latin", "a@x\u05f3.il", "", ErrUnsupportedEmail},
		{"lone katakana middle dot", "a@x\u30fb.jp", "", ErrUnsupportedEmail},
		{"mixed arabic-indic digits", "a@\u0628\u0661\u06f2.com", "", ErrUnsupportedEmail},
		{"arabic tatweel", "a@\u0628\u0640\u0628.com", "", ErrUnsupportedEmail},
		{"bidi rule", "a@1.עברית.il", "", ErrUnsupportedEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Normalize(%+q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
			if tt.err == ErrMalformedEmail && errors.Is(err, ErrUnsupportedEmail) {
				t.Errorf("Normalize(%+q) = %v; want malformed, not unsupported", tt.in, err)
			}
			if err != nil {
				if tt.err != ErrNoEmail && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Errorf("error %q contains the address", err)
				}
				return
			}
			checkNormalized(t, tt.in, got)
		})
	}
}

// TestNormalizeSameMailbox lists spellings that must share one key.
func TestNormalizeSameMailbox(t *testing.T) {
	groups := [][]string{
		{"kate@example.com", "Kate@Example.com", " KATE@EXAMPLE.COM\t"},
		{"a@xn--bcher-kva.de", "a@bücher.de", "A@XN--BCHER-KVA.DE", "a@Bücher.De", "a@xN--BcHeR-kVa.dE"},
		{"a@xn--e1afmkfd.xn--p1ai", "a@пример.рф", "a@xn--e1afmkfd.рф", "a@пример.XN--P1AI"},
	}
	for _, g := range groups {
		t.Run(g[0], func(t *testing.T) {
			for _, in := range g {
				if got, err := Normalize(in); err != nil || got != g[0] {
					t.Errorf("Normalize(%+q) = %q, %v; want %q", in, got, err, g[0])
				}
			}
		})
	}
}

// TestNormalizeNeverMergesLookalikes lists pairs of different mailboxes: at
// least one side must be refused, or they must normalise differently.
func TestNormalizeNeverMergesLookalikes(t *testing.T) {
	pairs := []struct{ name, a, b string }{
		{"dotted capital I", "İx@example.com", "ix@example.com"},
		{"dotted capital I lower-cased", "i\u0307x@example.com", "ix@example.com"},
		{"dotless i", "ıx@example.com", "ix@example.com"},
		{"kelvin sign", "\u212aate@example.com", "kate@example.com"},
		{"fullwidth local", "ｋate@example.com", "kate@example.com"},
		{"fullwidth domain", "a@ｅxample.com", "a@example.com"},
		{"sharp s", "a@faß.de", "a@fass.de"},
		{"sharp s a-label", "a@xn--fa-hia.de", "a@fass.de"},
		{"final sigma", "a@σος.gr", "a@σοσ.gr"},
		{"zwnj", "a@ab\u200ccd.com", "a@abcd.com"},
		{"soft hyphen", "a@ex\u00adample.com", "a@example.com"},
		{"ideographic full stop", "a@example。com", "a@example.com"},
		{"upper-case u-label", "a@BÜCHER.de", "a@bücher.de"},
		{"non-NFC", "a@bu\u0308cher.de", "a@bücher.de"},
		{"dots", "a.b@example.com", "ab@example.com"},
		{"tags", "a+x@example.com", "a@example.com"},
		{"turkish dotless a-label", "a@" + punycode(t, "ıx") + ".com", "a@ix.com"},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			na, errA := Normalize(p.a)
			nb, errB := Normalize(p.b)
			if errA == nil && errB == nil && na == nb {
				t.Fatalf("%+q and %+q both normalise to %q", p.a, p.b, na)
			}
		})
	}
	// The headline case, through Key: verifying a Kelvin-sign spelling must
	// not yield kate's key.
	ks, err := FromSecret([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	kate, err := ks.Key(context.Background(), "kate@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\u212aate@example.com", "İate@example.com", "ｋate@example.com"} {
		if k, err := ks.Key(context.Background(), s); err == nil || k == kate {
			t.Errorf("Key(%+q) = %q, %v; want ErrUnsupportedEmail", s, k, err)
		}
	}
}

func TestErrUnsupportedEmail(t *testing.T) {
	_, err := Normalize("İx@example.com")
	if !errors.Is(err, ErrUnsupportedEmail) {
		t.Fatalf("err = %v, want ErrUnsupportedEmail", err)
	}
	if !errors.Is(err, ErrMalformedEmail) {
		t.Error("ErrUnsupportedEmail must also match ErrMalformedEmail for callers that only know that")
	}
	if errors.Is(ErrMalformedEmail, ErrUnsupportedEmail) || errors.Is(ErrNoEmail, ErrUnsupportedEmail) {
		t.Error("other sentinels must not match ErrUnsupportedEmail")
	}
	if _, err := Normalize("a b@c.de"); errors.Is(err, ErrUnsupportedEmail) {
		t.Errorf("malformed address reported as unsupported: %v", err)
	}
	if got := ErrUnsupportedEmail.Error(); got != "identity: e-mail address cannot be normalised safely" {
		t.Errorf("ErrUnsupportedEmail text = %q", got)
	}
	if got := err.Error(); !strings.HasPrefix(got, ErrUnsupportedEmail.Error()+": ") || !strings.Contains(got, "U+0130") {
		t.Errorf("error %q should name the sentinel and the reason", got)
	}
}

func TestNormalizeNoAllocationWhenCanonical(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = Normalize("alice@example.com") }); n != 0 {
		t.Errorf("Normalize of a canonical address: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Normalize(" Alice@Example.com") }); n != 1 {
		t.Errorf("Normalize of a mixed-case address: %v allocations, want 1", n)
	}
}

// checkNormalized checks the properties every result of Normalize has.
func checkNormalized(t *testing.T, in, n string) {
	t.Helper()
	for i := 0; i < len(n); i++ {
		if c := n[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' || c <= ' ' || c == 0x7f {
			t.Fatalf("Normalize(%+q) = %+q: byte %#x at %d is not lower-case printable ASCII", in, n, c, i)
		}
	}
	local, domain, ok := strings.Cut(n, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		t.Fatalf("Normalize(%+q) = %q: not local@domain", in, n)
	}
	if len(n) > MaxEmailLen || len(local) > MaxLocalLen {
		t.Fatalf("Normalize(%+q) = %q: too long", in, n)
	}
	for l := range strings.SplitSeq(domain, ".") {
		if l == "" || len(l) > MaxLabelLen {
			t.Fatalf("Normalize(%+q) = %q: bad label %q", in, n, l)
		}
	}
	if n2, err := Normalize(n); err != nil || n2 != n {
		t.Fatalf("Normalize not idempotent: %+q -> %q -> %q, %v", in, n, n2, err)
	}
	if want := canonical(t, in); n != want {
		t.Fatalf("Normalize(%+q) = %q; but trim + ASCII lower-case + A-labels gives %q", in, n, want)
	}
}

// canonical is the reference for an accepted address, built without
// Normalize's code: trimmed, ASCII letters lower-cased, each non-ASCII label
// replaced by the raw Punycode of exactly that label (no IDNA mapping).
// It is injective up to those three foldings, so Normalize(a) ==
// Normalize(b) == canonical implies a and b are one mailbox.
func canonical(t testing.TB, s string) string {
	t.Helper()
	local, domain, _ := strings.Cut(strings.TrimSpace(s), "@")
	labels := strings.Split(asciiLower(domain), ".")
	for i, l := range labels {
		if !isASCII(l) {
			labels[i] = punycode(t, l)
		}
	}
	return asciiLower(local) + "@" + strings.Join(labels, ".")
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
