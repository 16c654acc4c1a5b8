// Package identity turns an e-mail address into the residency registry's
// identity key: base64url(HMAC-SHA256(K, Normalize(email))), so the registry
// never stores an e-mail.
//
// K is derived from the KMS multi-Region HMAC key PII_KEY_ID with one
// GenerateMac call over DerivationMessage. Every replica of a multi-Region key
// shares its key material, so every region derives the same K, and no secret
// is stored anywhere. K is derived once per process (cold start) and kept in
// memory; a failed derivation is not remembered, so the next call retries.
package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// DerivationMessage is the message MAC'd with PII_KEY_ID to derive K. Changing
// it changes every identity key: it is versioned on purpose.
const DerivationMessage = "homeregion/registry-key/v1"

// ErrNoEmail reports an e-mail address that is empty once normalized.
var ErrNoEmail = errors.New("identity: empty e-mail address")

// ErrMalformedEmail reports an address without exactly one '@' separating a
// non-empty local part and domain, or with inner white space.
var ErrMalformedEmail = errors.New("identity: malformed e-mail address")

// Normalize returns the canonical form of an e-mail address: surrounding
// white space trimmed, then lower-cased (Unicode simple case folding via
// strings.ToLower). Nothing else is folded: dots and "+tags" are meaningful to
// most mail providers, so a@x and a.b@x are different identities.
func Normalize(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", ErrNoEmail
	}
	at := strings.IndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.IndexByte(e[at+1:], '@') >= 0 || strings.ContainsAny(e, " \t\r\n") {
		return "", ErrMalformedEmail
	}
	return e, nil
}

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
// ARN or alias) on first use or by Warm.
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

// Warm derives K now if it is not derived yet (call it during the cold start
// so the first invocation makes no KMS call). An error is returned, not kept:
// the next Warm or Key call tries again.
func (ks *Keys) Warm(ctx context.Context) error {
	_, err := ks.load(ctx)
	return err
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
