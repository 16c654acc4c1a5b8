package httpapilocal

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CognitoIssuer is the "iss" of tokens from a Cognito user pool (moto issues
// the same value as AWS).
func CognitoIssuer(region, userPoolID string) string {
	return fmt.Sprintf("https://cognito-idp.%s.amazonaws.com/%s", region, userPoolID)
}

// MotoJWKSURL is where moto_server at endpoint serves a pool's JSON Web Key Set
// (AWS serves it at CognitoIssuer(...) + "/.well-known/jwks.json").
func MotoJWKSURL(endpoint, userPoolID string) string {
	return fmt.Sprintf("%s/%s/.well-known/jwks.json", endpoint, userPoolID)
}

// JWKS is a JSON Web Key Set fetched over HTTP and cached, re-fetched at most
// once per MinRefresh when a token names an unknown key id (key rotation).
type JWKS struct {
	url    string
	client *http.Client
	// MinRefresh is the least time between two fetches; 0 means 1 minute.
	MinRefresh time.Duration

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

// NewJWKS returns a key set read from url with client (nil: a 10 s timeout client).
func NewJWKS(url string, client *http.Client) *JWKS {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &JWKS{url: url, client: client}
}

// Refresh fetches the key set now.
func (j *JWKS) Refresh(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", j.url, err)
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", j.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("jwks %s: %w", j.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks %s: HTTP %d", j.url, resp.StatusCode)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", j.url, err)
	}
	j.mu.Lock()
	j.keys, j.fetched = keys, time.Now()
	j.mu.Unlock()
	return nil
}

// Keyfunc is a jwt.Keyfunc: the RSA key named by the token's "kid".
func (j *JWKS) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid")
	}
	j.mu.Lock()
	k, ok := j.keys[kid]
	stale := time.Since(j.fetched) >= j.minRefresh()
	j.mu.Unlock()
	if ok {
		return k, nil
	}
	if !stale {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.Refresh(ctx); err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if k, ok := j.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

func (j *JWKS) minRefresh() time.Duration {
	if j.MinRefresh == 0 {
		return time.Minute
	}
	return j.MinRefresh
}

// ParseJWKS reads the RSA signing keys of a JSON Web Key Set (RFC 7517),
// keyed by "kid". Keys of other types or uses are skipped; a set with no
// usable key is an error.
func ParseJWKS(b []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		if err != nil || len(n) == 0 {
			return nil, fmt.Errorf("key %q: bad modulus", k.Kid)
		}
		e, err := base64.RawURLEncoding.DecodeString(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("key %q: bad exponent", k.Kid)
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 {
			return nil, fmt.Errorf("key %q: bad exponent", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	}
	if len(keys) == 0 {
		return nil, errors.New("no RSA signing key in the set")
	}
	return keys, nil
}
