// Package identity turns an e-mail address into the residency registry's
// identity key: base64url(HMAC-SHA256(K, Normalize(email))), so the registry
// never stores an e-mail.
//
// K is derived from the KMS multi-Region HMAC key PII_KEY_ID with one
// GenerateMac call over DerivationMessage. Every replica of a multi-Region key
// shares its key material, so every region derives the same K, and no secret
// is stored anywhere. K is derived by the first call that needs it (the first
// invocation of each process, so the cold start makes no network call) and
// kept in memory; a failed derivation is not remembered, so the next call
// retries.
//
// # Normalisation
//
// The rule is: normalise = trim + lower-case, and two different mailboxes
// must never share a key. Normalize therefore folds nothing but surrounding
// white space, ASCII letter case and the spelling of an internationalised
// domain (U-label or A-label); it refuses what it cannot normalise safely.
// Precisely, Normalize(email):
//
//  1. Trims surrounding white space (strings.TrimSpace). An address that is
//     then empty is refused with ErrNoEmail.
//  2. Refuses an address starting with a double quote (a quoted local part,
//     RFC 5321 Quoted-string) with ErrUnsupportedEmail.
//  3. Refuses invalid UTF-8, any control character (Unicode Cc, including
//     C0, DEL and C1) and any inner white space (unicode.IsSpace) with
//     ErrMalformedEmail.
//  4. Requires exactly one '@' with a non-empty local part before it and a
//     non-empty domain after it (else ErrMalformedEmail).
//  5. Local part: any non-ASCII character is refused with
//     ErrUnsupportedEmail. Internationalised local parts (RFC 6531) are not
//     supported because no folding of them is provably safe: Unicode
//     lower-casing maps "İ" (U+0130) and the Kelvin sign (U+212A) onto ASCII
//     look-alikes, and fullwidth forms ("ａ") are distinct characters that
//     compatibility mappings fold; whether two such spellings are one
//     mailbox is up to each mail server. Otherwise the local part must be an
//     RFC 5322 dot-atom of at most 64 bytes: atoms of atext (ASCII letters,
//     digits and !#$%&'*+-/=?^_`{|}~) separated by single dots, with no
//     leading or trailing dot (else ErrMalformedEmail). ASCII A-Z are
//     lower-cased; that is the only folding: dots and "+tags" are kept, they
//     are meaningful to many providers, so a@x, a.b@x and a+t@x are
//     different identities.
//  6. Domain: a domain literal ("[192.0.2.1]") is refused with
//     ErrUnsupportedEmail. Otherwise the domain must not end with a dot; it
//     is split into labels at "." (only U+002E separates labels) and each
//     label must be non-empty, contain only ASCII letters, digits and
//     hyphens (LDH) plus, for an internationalised label, non-ASCII
//     characters, and must not start or end with a hyphen (else
//     ErrMalformedEmail); each label is then checked by rule 7 or 8; last,
//     the domain must have at least two labels (no dotless domains, else
//     ErrMalformedEmail). ASCII letters are lower-cased.
//  7. A label starting with "xn--" (any case) must be a valid A-label:
//     valid Punycode that decodes to a non-ASCII U-label that is valid as in
//     rule 8 (deviation characters aside: an A-label names one domain for
//     every IDNA processor) and whose canonical encoding is the label
//     itself, lower-cased (else ErrMalformedEmail: it is not a valid domain
//     name label). Its normalised form is the lower-cased A-label. Other
//     ASCII labels are plain LDH labels of at most 63 bytes.
//  8. A label with a non-ASCII character (after ASCII lower-casing) must be a
//     U-label in canonical form, else it is refused with ErrUnsupportedEmail:
//     it must not contain an IDNA deviation character (ß U+00DF, ς U+03C2,
//     ZWNJ U+200C, ZWJ U+200D), which transitional and non-transitional IDNA
//     processors resolve to different domains ("faß.de" is "fass.de" to one
//     and "xn--fa-hia.de" to the other); every non-ASCII code point must be
//     PVALID in IDNA2008 (RFC 5892: a lower-case or other letter, modifier
//     letter, mark or decimal digit, minus the RFC 5892 exceptions, default
//     ignorables, conjoining Hangul jamo and the ignorable blocks), or
//     CONTEXTO and satisfy its rule (e.g. "·" only between two "l"); it must
//     be valid under a strict non-transitional profile of
//     golang.org/x/net/idna (UTS #46 lookup mapping, label validation with
//     hyphen and ContextJ rules, STD3 rules, the RFC 5893 Bidi rule, applied
//     to the whole domain too); and IDNA mapping must not
//     change it: ToUnicode(ToASCII(label)) must be the label itself. This
//     refuses upper-case non-ASCII letters such as "Ü", fullwidth and other
//     compatibility forms ("ｅxample.com"), non-NFC text, ignored characters
//     such as U+00AD and other dots such as "。". Its normalised form is its
//     A-label, so "bücher.de", "xn--bcher-kva.de" and "XN--BCHER-KVA.DE" are
//     the same domain.
//  9. Limits, after normalisation: each label (as an A-label) at most 63
//     bytes, the whole address at most 254 bytes (else ErrMalformedEmail).
//
// The result is pure ASCII with no upper-case letter, and Normalize is
// idempotent. The result is the trimmed input with ASCII lower-cased and
// each U-label replaced by the Punycode encoding of exactly that U-label,
// so two addresses share a result only if they differ by surrounding white
// space, ASCII case, or the U-label versus A-label spelling of the same
// domain. Because IDNA mapping is only used to refuse, a newer Unicode
// version in golang.org/x/net/idna can change which addresses are accepted
// but never the result for an accepted one.
//
// Errors wrap ErrNoEmail, ErrMalformedEmail or ErrUnsupportedEmail with the
// reason and never contain the address itself; an ErrUnsupportedEmail error
// also matches ErrMalformedEmail.
package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// DerivationMessage is the message MAC'd with PII_KEY_ID to derive K. Changing
// it changes every identity key: it is versioned on purpose.
const DerivationMessage = "homeregion/registry-key/v1"

// MACAPI is the part of the KMS client Keys uses.
type MACAPI interface {
	GenerateMac(ctx context.Context, in *kms.GenerateMacInput, optFns ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
}

// Keys computes identity keys. Build it with New (K from KMS) or FromSecret;
// it is safe for concurrent use.
type Keys struct {
	kms   MACAPI
	keyID string
	sem   chan struct{} // one derivation at a time; waiting honours ctx
	state atomic.Pointer[secret]
}

type secret struct{ pool sync.Pool }

func newSecret(k []byte) *secret {
	k = append([]byte(nil), k...)
	s := &secret{}
	s.pool.New = func() any { return hmac.New(sha256.New, k) }
	return s
}

// New returns Keys whose K is derived from the KMS HMAC key keyID (key id,
// ARN or alias) on first use. A failed derivation is returned, not kept: the
// next Key call tries again.
func New(client MACAPI, keyID string) *Keys {
	return &Keys{kms: client, keyID: keyID, sem: make(chan struct{}, 1)}
}

// FromSecret returns Keys with a fixed K (tests, benchmarks). K must not be
// empty.
func FromSecret(k []byte) (*Keys, error) {
	if len(k) == 0 {
		return nil, errors.New("identity: empty secret")
	}
	ks := &Keys{sem: make(chan struct{}, 1)}
	ks.state.Store(newSecret(k))
	return ks, nil
}

func (ks *Keys) load(ctx context.Context) (*secret, error) {
	if s := ks.state.Load(); s != nil {
		return s, nil
	}
	select {
	case ks.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("derive identity key: %w", ctx.Err())
	}
	defer func() { <-ks.sem }()
	if s := ks.state.Load(); s != nil {
		return s, nil
	}
	if ks.kms == nil {
		return nil, errors.New("derive identity key: no KMS client")
	}
	out, err := ks.kms.GenerateMac(ctx, &kms.GenerateMacInput{
		KeyId:        aws.String(ks.keyID),
		MacAlgorithm: types.MacAlgorithmSpecHmacSha256,
		Message:      []byte(DerivationMessage),
	})
	if err != nil {
		return nil, fmt.Errorf("derive identity key: kms GenerateMac: %w", err)
	}
	if len(out.Mac) < sha256.Size {
		return nil, fmt.Errorf("derive identity key: kms GenerateMac returned %d bytes, want %d", len(out.Mac), sha256.Size)
	}
	s := newSecret(out.Mac)
	ks.state.Store(s)
	return s, nil
}

// Key returns the identity key of email: base64url (no padding) of
// HMAC-SHA256(K, Normalize(email)). It calls KMS only while K is not derived.
func (ks *Keys) Key(ctx context.Context, email string) (string, error) {
	n, err := Normalize(email)
	if err != nil {
		return "", err
	}
	s, err := ks.load(ctx)
	if err != nil {
		return "", err
	}
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(n))
	var sum [sha256.Size]byte
	mac := h.Sum(sum[:0])
	s.pool.Put(h)
	return base64.RawURLEncoding.EncodeToString(mac), nil
}
