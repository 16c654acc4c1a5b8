package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/sealed"
)

// siteKey is a region's site key pair under the stack's directory: the
// private key file the processor reads (SITE_KEY_FILE) and its public key,
// the SitePublicKey parameter the orders API seals to.
type siteKey struct {
	file string           // <dir>/keys/<region>/site.key, mode 0600
	pub  sealed.PublicKey // its public key, kept in site.pub next to it
}

// siteKeyFiles are the paths of region's key pair under dir.
func siteKeyFiles(dir, region string) (key, pub string) {
	d := filepath.Join(dir, "keys", region)
	return filepath.Join(d, "site.key"), filepath.Join(d, "site.pub")
}

// loadSiteKey returns region's key pair under dir, generating it only when
// the private key file is missing: a restarted stack keeps its keys, so
// messages sealed before the restart still open. The public key is kept next
// to the private one (a key file holds only private keys); a key file whose
// public key is missing or does not match it is an error, never replaced.
func loadSiteKey(dir, region string) (siteKey, error) {
	keyPath, pubPath := siteKeyFiles(dir, region)
	if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
		return generateSiteKey(keyPath, pubPath)
	}
	ring, err := sealed.ReadKeyFile(keyPath)
	if err != nil {
		return siteKey{}, fmt.Errorf("site key of %s: %w", region, err)
	}
	b, err := os.ReadFile(pubPath)
	if err != nil {
		return siteKey{}, fmt.Errorf("site key of %s: its public key: %w (remove %s to generate a new pair)", region, err, filepath.Dir(keyPath))
	}
	pub, err := sealed.ParsePublicKey(string(b))
	if err != nil {
		return siteKey{}, fmt.Errorf("site key of %s: %s: %w", region, pubPath, err)
	}
	if !slices.Contains(ring.KeyIDs(), pub.KeyID()) {
		return siteKey{}, fmt.Errorf("site key of %s: %s (key id %s) is not the public key of any key in %s (%s)",
			region, pubPath, pub.KeyID(), keyPath, strings.Join(ring.KeyIDs(), ", "))
	}
	return siteKey{file: keyPath, pub: pub}, nil
}

// generateSiteKey writes a new key pair: the private key to a temporary file,
// then its public key, then the private key into place, so an interrupted
// generation leaves no private key without its public key.
func generateSiteKey(keyPath, pubPath string) (siteKey, error) {
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return siteKey{}, fmt.Errorf("site key: %w", err)
	}
	tmp := keyPath + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return siteKey{}, fmt.Errorf("site key: %w", err)
	}
	pub, err := sealed.GenerateKeyFile(tmp)
	if err != nil {
		return siteKey{}, err
	}
	err = os.WriteFile(pubPath, []byte(pub.String()+"\n"), 0o644)
	if err == nil {
		err = os.Rename(tmp, keyPath)
	}
	if err != nil {
		os.Remove(tmp)
		return siteKey{}, fmt.Errorf("site key: %w", err)
	}
	return siteKey{file: keyPath, pub: pub}, nil
}

// loadSiteKeys returns each region's key pair under dir (loadSiteKey).
func loadSiteKeys(dir string, regions []string) (map[string]siteKey, error) {
	out := make(map[string]siteKey, len(regions))
	for _, r := range regions {
		k, err := loadSiteKey(dir, r)
		if err != nil {
			return nil, err
		}
		out[r] = k
	}
	return out, nil
}

// sitePublicKeyParameters are the per-region template parameters that give
// each region's orders API its site public key.
func sitePublicKeyParameters(keys map[string]siteKey) map[string]map[string]string {
	out := make(map[string]map[string]string, len(keys))
	for r, k := range keys {
		out[r] = map[string]string{provision.SitePublicKeyParameter: k.pub.String()}
	}
	return out
}
