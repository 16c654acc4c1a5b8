package identity

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Length limits of a normalised address, in bytes (RFC 5321 section 4.5.3.1
// and the 254-byte path limit less its angle brackets).
const (
	// MaxEmailLen is the longest normalised address Normalize accepts.
	MaxEmailLen = 254
	// MaxLocalLen is the longest local part (before the '@').
	MaxLocalLen = 64
	// MaxLabelLen is the longest domain label, in its A-label form.
	MaxLabelLen = 63
)

// maxDomainInput bounds the raw domain before any IDNA work: an A-label of n
// bytes encodes at most n-4 code points of at most 4 UTF-8 bytes each, so no
// domain longer than this can fit in MaxEmailLen once converted.
const maxDomainInput = 4 * MaxEmailLen

// ErrNoEmail reports an e-mail address that is empty once surrounding white
// space is trimmed.
var ErrNoEmail = errors.New("identity: empty e-mail address")

// ErrMalformedEmail reports an address that breaks the syntax Normalize
// accepts (see the package documentation): not exactly one '@', an empty or
// too long local part or domain, inner white space or control characters, a
// character outside dot-atom text in the local part, a domain label that is
// not LDH, a dotless domain, a trailing dot, or an "xn--" label that is not a
// valid A-label. Errors returned by Normalize wrap it with the reason.
var ErrMalformedEmail = errors.New("identity: malformed e-mail address")

// ErrUnsupportedEmail reports an address that may be valid but cannot be
// normalised without risking that two different mailboxes share an identity
// key: a quoted local part, any non-ASCII character in the local part, a
// domain literal ("[192.0.2.1]"), or an internationalised domain that is not
// already in its canonical IDNA2008 form or contains an IDNA deviation
// character (ß, ς, ZWJ, ZWNJ). Its text is meant to be shown to the user as
// the reason for a refusal. Errors returned by Normalize wrap it with the
// reason.
//
// Every error that matches ErrUnsupportedEmail also matches
// ErrMalformedEmail (errors.Is), so a caller that knows only
// ErrMalformedEmail still refuses the address; test ErrUnsupportedEmail
// first to give the more specific reason.
var ErrUnsupportedEmail error = unsupportedEmail{}

type unsupportedEmail struct{}

func (unsupportedEmail) Error() string {
	return "identity: e-mail address cannot be normalised safely"
}

// Is makes an unsupported address a malformed one too for callers that know
// only ErrMalformedEmail.
func (unsupportedEmail) Is(target error) bool { return target == ErrMalformedEmail }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedEmail}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedEmail}, args...)...)
}

// idnaProfile is a strict, non-transitional IDNA2008 (UTS #46) profile:
// lookup mappings (only used to detect input that is not canonical), label
// validation with hyphen and ContextJ rules, STD3 (LDH) ASCII rules and the
// RFC 5893 Bidi rule. Lengths are checked by this package, so that a too
// long label is ErrMalformedEmail whether it is ASCII or not.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
)

// Normalize returns the canonical form of an e-mail address, the string that
// Keys.Key MACs. The rules are the package's documented contract (see
// "Normalisation" in the package documentation); in short: surrounding white
// space is trimmed, ASCII letters are lower-cased, an internationalised
// domain is converted to its A-labels, and anything that cannot be
// normalised so that two different mailboxes never share a result is
// refused. The result is pure ASCII and Normalize(result) == result.
//
// Errors match ErrNoEmail, ErrMalformedEmail or ErrUnsupportedEmail
// (errors.Is); they never contain the address.
func Normalize(email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", ErrNoEmail
	}
	if e[0] == '"' {
		return "", unsupported("quoted local parts are not supported")
	}
	// One pass over the bytes: refuse ASCII control characters and spaces,
	// find the '@'s, note upper-case and non-ASCII bytes.
	at, ats := -1, 0
	var seen uint8
	for i := 0; i < len(e); i++ {
		c := e[i]
		cl := byteClass[c]
		seen |= cl
		if cl&(clBad|clAt) == 0 {
			continue
		}
		if cl&clAt != 0 {
			at, ats = i, ats+1
			continue
		}
		if c == ' ' {
			return "", malformed("inner white space")
		}
		return "", malformed("control character U+%04X", c)
	}
	if seen&clNonASCII != 0 {
		if err := checkNonASCII(e); err != nil {
			return "", err
		}
	}
	switch {
	case ats == 0:
		return "", malformed("no '@'")
	case ats > 1:
		return "", malformed("more than one '@'")
	case at == 0:
		return "", malformed("empty local part")
	case at == len(e)-1:
		return "", malformed("empty domain")
	}
	local, domain := e[:at], e[at+1:]
	if err := checkLocal(local, seen&clNonASCII != 0); err != nil {
		return "", err
	}
	d, idn, err := normalizeDomain(domain)
	if err != nil {
		return "", err
	}
	if n := len(local) + 1 + len(d); n > MaxEmailLen {
		return "", malformed("address is %d bytes long, at most %d are allowed", n, MaxEmailLen)
	}
	if !idn {
		if seen&clUpper == 0 {
			return e, nil // already canonical: no allocation
		}
		return lowerASCII(e), nil
	}
	var b strings.Builder
	b.Grow(len(local) + 1 + len(d))
	writeLowerASCII(&b, local)
	b.WriteByte('@')
	b.WriteString(d)
	return b.String(), nil
}

// Byte classes, for one table look-up per byte.
const (
	clAtext    uint8 = 1 << iota // RFC 5322 atext: ALPHA, DIGIT, !#$%&'*+-/=?^_`{|}~
	clLDH                        // letter, digit or hyphen
	clUpper                      // A-Z
	clBad                        // ASCII control character or space
	clAt                         // '@'
	clNonASCII                   // a byte of a multi-byte UTF-8 sequence, or invalid
)

var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = clNonASCII
		case c <= ' ' || c == 0x7f:
			t[c] = clBad
		case c == '@':
			t[c] = clAt
		case 'A' <= c && c <= 'Z':
			t[c] = clAtext | clLDH | clUpper
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
			t[c] = clAtext | clLDH
		case strings.IndexByte("!#$%&'*+/=?^_`{|}~", byte(c)) >= 0:
			t[c] = clAtext
		}
	}
	return t
}()

// checkNonASCII refuses invalid UTF-8 and non-ASCII control characters
// (Unicode Cc) and white space (unicode.IsSpace) anywhere in the address.
func checkNonASCII(e string) error {
	for i := 0; i < len(e); {
		if e[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(e[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return malformed("invalid UTF-8")
		case unicode.IsControl(r):
			return malformed("control character %U", r)
		case unicode.IsSpace(r):
			return malformed("inner white space %U", r)
		}
		i += size
	}
	return nil
}

// checkLocal accepts an ASCII dot-atom of at most MaxLocalLen bytes. Any
// non-ASCII character is unsupported, whatever else is wrong; mayBeNonASCII
// says whether the address has any.
func checkLocal(local string, mayBeNonASCII bool) error {
	if mayBeNonASCII {
		for _, r := range local {
			if r >= utf8.RuneSelf {
				return unsupported("non-ASCII character %U before the '@': internationalised local parts are not supported", r)
			}
		}
	}
	if len(local) > MaxLocalLen {
		return malformed("local part is %d bytes long, at most %d are allowed", len(local), MaxLocalLen)
	}
	dot := true // a dot here would be leading
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '.':
			if dot {
				return malformed("leading or double dot before the '@'")
			}
			dot = true
		case byteClass[c]&clAtext != 0:
			dot = false
		default:
			return malformed("character %q is not allowed before the '@'", c)
		}
	}
	if dot {
		return malformed("trailing dot before the '@'")
	}
	return nil
}

// normalizeDomain checks domain and returns its canonical form: lower-case
// ASCII with internationalised labels as A-labels. When the domain is plain
// ASCII (idn false) out is domain itself, not yet lower-cased: the caller
// lower-cases the whole address at once.
func normalizeDomain(domain string) (out string, idn bool, err error) {
	if domain[0] == '[' {
		return "", false, unsupported("domain literals are not supported")
	}
	if len(domain) > maxDomainInput {
		return "", false, malformed("domain is too long")
	}
	if domain[len(domain)-1] == '.' {
		return "", false, malformed("trailing dot in the domain")
	}
	var buf [8]string
	labels := buf[:0] // canonical labels, used if one is internationalised
	var seen uint8    // byte classes in the current label
	start := 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			cl := byteClass[domain[i]]
			if cl&(clLDH|clNonASCII) == 0 {
				return "", false, malformed("character %q is not allowed in the domain", domain[i])
			}
			seen |= cl
			continue
		}
		canon, isIDN, err := checkLabel(domain[start:i], seen)
		if err != nil {
			return "", false, err
		}
		idn = idn || isIDN
		labels = append(labels, canon)
		start, seen = i+1, 0
	}
	if len(labels) < 2 {
		return "", false, malformed("domain has no dot")
	}
	if !idn {
		return domain, false, nil
	}
	out = lowerASCII(strings.Join(labels, ".")) // plain labels are not lower-cased yet
	// The Bidi rule (RFC 5893) constrains every label of a domain that has
	// a right-to-left label, so check the whole name too.
	if _, err := idnaProfile.ToUnicode(out); err != nil {
		return "", false, unsupported("internationalised domain is not valid IDNA2008 (Bidi rule)")
	}
	return out, true, nil
}

// checkLabel checks one domain label, made of LDH and non-ASCII bytes
// whose byte classes are seen, and reports whether it is
// internationalised (a U-label, or an A-label starting "xn--"). canon is
// its canonical form (lower-case A-label) when it is internationalised, and
// the label itself, not lower-cased, otherwise.
func checkLabel(label string, seen uint8) (canon string, idn bool, err error) {
	if label == "" {
		return "", false, malformed("empty label in the domain (leading or double dot)")
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return "", false, malformed("domain label starts or ends with '-'")
	}
	if seen&clNonASCII == 0 {
		if len(label) > MaxLabelLen {
			return "", false, malformed("domain label is %d bytes long, at most %d are allowed", len(label), MaxLabelLen)
		}
		if len(label) < 4 || label[2] != '-' || label[3] != '-' || label[0]|0x20 != 'x' || label[1]|0x20 != 'n' {
			return label, false, nil
		}
		a := lowerASCII(label)
		return a, true, checkALabel(a)
	}
	a, err := checkULabel(lowerASCII(label))
	return a, true, err
}

// checkALabel accepts a lower-case "xn--" label only if it decodes to a valid
// U-label whose canonical encoding is this very label.
func checkALabel(a string) error {
	u, err := idnaProfile.ToUnicode(a)
	if err != nil {
		return malformed("%q label is not a valid A-label", "xn--")
	}
	if isASCII(u) {
		return malformed("%q label does not encode a non-ASCII label", "xn--")
	}
	if err := checkIDNA2008(u); err != nil {
		return malformed("%q label is not a valid A-label: %w", "xn--", err)
	}
	if a2, err := idnaProfile.ToASCII(u); err != nil || a2 != a {
		return malformed("%q label is not in canonical form", "xn--")
	}
	return nil
}

// checkULabel returns the A-label of u, a label with non-ASCII characters
// (its ASCII already lower-cased), if u is a valid IDNA2008 U-label without
// deviation characters that IDNA mapping leaves unchanged and whose A-label
// fits MaxLabelLen.
func checkULabel(u string) (string, error) {
	for _, r := range u {
		switch r {
		case '\u00df', '\u03c2', '\u200c', '\u200d':
			return "", unsupported("domain contains %U, which IDNA processors resolve to different domains", r)
		}
	}
	if err := checkIDNA2008(u); err != nil {
		return "", unsupported("internationalised domain: %w", err)
	}
	a, err := idnaProfile.ToASCII(u)
	if err != nil {
		return "", unsupported("internationalised domain is not valid IDNA2008")
	}
	// The U-label must be canonical already: IDNA mapping (case, width,
	// compatibility forms, normalisation, ignored characters, other dots)
	// must not change it, since this package folds nothing but ASCII case.
	if u2, err := idnaProfile.ToUnicode(a); err != nil || u2 != u || !strings.HasPrefix(a, "xn--") || strings.IndexByte(a, '.') >= 0 {
		return "", unsupported("internationalised domain is not in canonical form (IDNA2008 would map it)")
	}
	if len(a) > MaxLabelLen {
		return "", malformed("domain label is %d bytes long as an A-label, at most %d are allowed", len(a), MaxLabelLen)
	}
	return a, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// lowerASCII lower-cases ASCII letters only; it returns s itself when there
// is nothing to change.
func lowerASCII(s string) string {
	if !hasUpperASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	writeLowerASCII(&b, s)
	return b.String()
}

func writeLowerASCII(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}
