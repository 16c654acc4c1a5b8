// Package sealed seals the regulated part of an order (its items, delivery
// address and note) inside the orders API to the public key of the region's
// on-prem sites, so that no AWS service and no cloud-side principal can read
// it at rest (queue, dead-letter queue, logs, traces); only a site holding
// the private key opens it.
//
// The cipher suite is HPKE (RFC 9180, crypto/hpke) in base mode with KEM
// MLKEM768X25519 (post-quantum hybrid), KDF HKDF-SHA256 and AEAD AES-256-GCM.
// The HPKE info binds a ciphertext to its message's identity (Binding:
// version, orderId, region, owner, createdAt), so a ciphertext moved into
// another message does not open.
//
// Encodings (the message contract, docs/messages.md):
//
//   - a public key (SITE_PUBLIC_KEY): base64url without padding of the KEM
//     public key (SerializePublicKey);
//   - a key id (sealed.kid): the first 16 hex characters of SHA-256 of the
//     public key's encoding (the SerializePublicKey bytes);
//   - a ciphertext (sealed.ct): base64url without padding of the
//     encapsulated key followed by the AEAD ciphertext;
//   - a site's key file (SITE_KEY_FILE): one private key per line, each
//     "homeregion-site-key-v1 " followed by base64url without padding of
//     the KEM private key (SerializePrivateKey); blank lines and lines
//     starting with # are ignored. Several keys allow rotation.
package sealed

import (
	"bufio"
	"bytes"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
)

// The suite.
var (
	kem  = hpke.MLKEM768X25519()
	kdf  = hpke.HKDFSHA256()
	aead = hpke.AES256GCM()
)

// keyLinePrefix starts every line of a key file.
const keyLinePrefix = "homeregion-site-key-v1 "

var b64 = base64.RawURLEncoding

// Errors of Open; test with errors.Is.
var (
	// ErrUnknownKey: the message is sealed to a key id the site does not hold.
	ErrUnknownKey = errors.New("sealed: sealed to a key this site does not hold")
	// ErrCannotOpen: the ciphertext is malformed, altered, or bound to
	// another message.
	ErrCannotOpen = errors.New("sealed: the sealed order does not open")
)

// PublicKey is a site public key, as the orders API seals to it.
type PublicKey struct {
	pk  hpke.PublicKey
	enc string
	kid string
}

// ParsePublicKey reads the SITE_PUBLIC_KEY encoding. Its errors never quote
// the value.
func ParsePublicKey(s string) (PublicKey, error) {
	s = strings.TrimSpace(s)
	raw, err := b64.DecodeString(s)
	if err != nil {
		return PublicKey{}, errors.New("sealed: public key is not base64url without padding")
	}
	pk, err := kem.NewPublicKey(raw)
	if err != nil {
		return PublicKey{}, errors.New("sealed: not an MLKEM768X25519 public key")
	}
	return newPublicKey(pk), nil
}

func newPublicKey(pk hpke.PublicKey) PublicKey {
	raw := pk.Bytes()
	return PublicKey{pk: pk, enc: b64.EncodeToString(raw), kid: KeyID(raw)}
}

// String returns the key's encoding (the value of SITE_PUBLIC_KEY).
func (k PublicKey) String() string { return k.enc }

// KeyID returns the key's id.
func (k PublicKey) KeyID() string { return k.kid }

// KeyID is the key id of a public key's encoding (SerializePublicKey): the
// first 16 hex characters of its SHA-256.
func KeyID(encoding []byte) string {
	sum := sha256.Sum256(encoding)
	return hex.EncodeToString(sum[:8])
}

// Binding is the identity of the message a ciphertext belongs to.
type Binding struct {
	Version   int
	OrderID   string
	Region    string
	Owner     string
	CreatedAt time.Time
}

// info is the HPKE info of b: a label and each field length-prefixed, so no
// two bindings share an encoding. createdAt is RFC 3339 with nanoseconds in
// UTC, as the message carries it.
func (b Binding) info() []byte {
	var buf bytes.Buffer
	buf.WriteString("homeregion/order")
	put := func(s string) {
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		buf.WriteString(s)
	}
	put(fmt.Sprint(b.Version))
	put(b.OrderID)
	put(b.Region)
	put(b.Owner)
	put(b.CreatedAt.UTC().Format(time.RFC3339Nano))
	return buf.Bytes()
}

// Seal seals plaintext to k, bound to b.
func Seal(k PublicKey, b Binding, plaintext []byte) (orders.Box, error) {
	ct, err := hpke.Seal(k.pk, kdf, aead, b.info(), plaintext)
	if err != nil {
		return orders.Box{}, fmt.Errorf("sealed: seal order %s: %w", b.OrderID, err)
	}
	return orders.Box{KeyID: k.kid, Ciphertext: b64.EncodeToString(ct)}, nil
}

// SealEnvelope turns env into its version 2 message: env.Order, as JSON,
// sealed to k and bound to the message's identity.
func SealEnvelope(k PublicKey, env orders.Envelope) (orders.SealedEnvelope, error) {
	m := orders.SealedEnvelope{Version: orders.SealedVersion, OrderID: env.OrderID, Region: env.Region,
		Owner: env.Owner, CreatedAt: env.CreatedAt}
	pt, err := json.Marshal(env.Order)
	if err != nil {
		return orders.SealedEnvelope{}, fmt.Errorf("sealed: encode order %s: %w", env.OrderID, err)
	}
	if m.Sealed, err = Seal(k, bindingOf(m), pt); err != nil {
		return orders.SealedEnvelope{}, err
	}
	return m, nil
}

// OpenEnvelope opens a version 2 message into the order it carries. Errors:
// ErrUnknownKey, ErrCannotOpen (also for a plaintext that is not an order).
func (r *Keyring) OpenEnvelope(m orders.SealedEnvelope) (orders.Envelope, error) {
	pt, err := r.Open(bindingOf(m), m.Sealed)
	if err != nil {
		return orders.Envelope{}, err
	}
	env := orders.Envelope{Version: m.Version, OrderID: m.OrderID, Region: m.Region, Owner: m.Owner, CreatedAt: m.CreatedAt}
	dec := json.NewDecoder(bytes.NewReader(pt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env.Order); err != nil {
		return orders.Envelope{}, fmt.Errorf("%w: the opened payload is not an order", ErrCannotOpen)
	}
	return env, nil
}

// bindingOf is the identity m's ciphertext is bound to.
func bindingOf(m orders.SealedEnvelope) Binding {
	return Binding{Version: m.Version, OrderID: m.OrderID, Region: m.Region, Owner: m.Owner, CreatedAt: m.CreatedAt}
}

// Keyring is a site's private keys, by key id.
type Keyring struct {
	keys map[string]hpke.PrivateKey
	ids  []string // in file order
}

// KeyIDs returns the ids of the keys, in the order of the key file.
func (r *Keyring) KeyIDs() []string { return append([]string(nil), r.ids...) }

// Open opens box, which must be bound to b. It returns ErrUnknownKey when
// box is sealed to a key r does not hold and ErrCannotOpen when it does
// not open; both name the (truncated) key id, neither quotes the
// ciphertext.
func (r *Keyring) Open(b Binding, box orders.Box) ([]byte, error) {
	kid := truncate(box.KeyID, 32)
	k, ok := r.keys[box.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w (kid %q)", ErrUnknownKey, kid)
	}
	ct, err := b64.DecodeString(box.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w with key %q: not base64url", ErrCannotOpen, kid)
	}
	pt, err := hpke.Open(k, kdf, aead, b.info(), ct)
	if err != nil {
		return nil, fmt.Errorf("%w with key %q (altered, or bound to another message)", ErrCannotOpen, kid)
	}
	return pt, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ParseKeyFile reads a key file's contents. Its errors name the line, never
// a key.
func ParseKeyFile(data []byte) (*Keyring, error) {
	r := &Keyring{keys: map[string]hpke.PrivateKey{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		enc, ok := strings.CutPrefix(line, keyLinePrefix)
		if !ok {
			return nil, fmt.Errorf("sealed: key file line %d: want %q followed by a key", n, strings.TrimSpace(keyLinePrefix))
		}
		raw, err := b64.DecodeString(strings.TrimSpace(enc))
		if err != nil {
			return nil, fmt.Errorf("sealed: key file line %d: not base64url without padding", n)
		}
		k, err := kem.NewPrivateKey(raw)
		if err != nil {
			return nil, fmt.Errorf("sealed: key file line %d: not an MLKEM768X25519 private key", n)
		}
		id := newPublicKey(k.PublicKey()).kid
		if _, dup := r.keys[id]; !dup {
			r.ids = append(r.ids, id)
		}
		r.keys[id] = k
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sealed: key file: %w", err)
	}
	if len(r.keys) == 0 {
		return nil, errors.New("sealed: key file holds no key")
	}
	return r, nil
}

// ReadKeyFile reads the key file at path. It refuses a file that others
// than its owner may read or write (mode & 0077), as ssh does.
func ReadKeyFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sealed: key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("sealed: key file %s has mode %04o: it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sealed: key file: %w", err)
	}
	return ParseKeyFile(data)
}

// GenerateKeyFile writes a new key file at path holding one new private key
// (mode 0600; it refuses to overwrite an existing file) and returns its
// public key.
func GenerateKeyFile(path string) (PublicKey, error) {
	k, err := kem.GenerateKey()
	if err != nil {
		return PublicKey{}, fmt.Errorf("sealed: generate key: %w", err)
	}
	raw, err := k.Bytes()
	if err != nil {
		return PublicKey{}, fmt.Errorf("sealed: encode key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return PublicKey{}, fmt.Errorf("sealed: %s exists: refusing to overwrite a key file", path)
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("sealed: create key file: %w", err)
	}
	pub := newPublicKey(k.PublicKey())
	_, werr := fmt.Fprintf(f, "# homeregion site key %s, created %s\n%s%s\n", pub.kid, time.Now().UTC().Format(time.RFC3339), keyLinePrefix, b64.EncodeToString(raw))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return PublicKey{}, fmt.Errorf("sealed: write key file: %w", err)
	}
	return pub, nil
}

// SealErasure turns e into its version 3 message: the owner, as JSON
// (orders.ErasurePayload), sealed to k and bound to the message's version,
// erasure id, region and createdAt (the binding's OrderID is the erasure
// id; its Owner is empty, since the owner travels only sealed).
func SealErasure(k PublicKey, e orders.Erasure) (orders.SealedErasure, error) {
	m := orders.SealedErasure{Version: orders.ErasureVersion, ErasureID: e.ErasureID, Region: e.Region, CreatedAt: e.CreatedAt}
	pt, err := json.Marshal(orders.ErasurePayload{Owner: e.Owner})
	if err != nil {
		return orders.SealedErasure{}, fmt.Errorf("sealed: encode erasure %s: %w", e.ErasureID, err)
	}
	if m.Sealed, err = Seal(k, erasureBinding(m), pt); err != nil {
		return orders.SealedErasure{}, err
	}
	return m, nil
}

// OpenErasure opens a version 3 message into the erasure it carries.
// Errors: ErrUnknownKey, ErrCannotOpen (also for a plaintext that is not an
// erasure payload with an owner).
func (r *Keyring) OpenErasure(m orders.SealedErasure) (orders.Erasure, error) {
	pt, err := r.Open(erasureBinding(m), m.Sealed)
	if err != nil {
		return orders.Erasure{}, err
	}
	var p orders.ErasurePayload
	dec := json.NewDecoder(bytes.NewReader(pt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Owner == "" {
		return orders.Erasure{}, fmt.Errorf("%w: the opened payload is not an erasure", ErrCannotOpen)
	}
	return orders.Erasure{Version: m.Version, ErasureID: m.ErasureID, Region: m.Region, Owner: p.Owner, CreatedAt: m.CreatedAt}, nil
}

// erasureBinding is the identity erasure message m's ciphertext is bound to.
func erasureBinding(m orders.SealedErasure) Binding {
	return Binding{Version: m.Version, OrderID: m.ErasureID, Region: m.Region, CreatedAt: m.CreatedAt}
}
