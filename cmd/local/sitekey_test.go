package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/sealed"
)

// TestLoadSiteKey: a key pair is generated once per region (mode 0600), then
// reused as it is; a broken pair is reported, never replaced.
func TestLoadSiteKey(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) // after a first loadSiteKey
		wantErr string                         // "" : the first pair is returned again
	}{
		{"reused", func(*testing.T, string) {}, ""},
		{"interrupted generation left a temporary key", func(t *testing.T, dir string) {
			key, _ := siteKeyFiles(dir, "eu-west-1")
			if err := os.WriteFile(key+".new", []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"public key missing", func(t *testing.T, dir string) {
			_, pub := siteKeyFiles(dir, "eu-west-1")
			if err := os.Remove(pub); err != nil {
				t.Fatal(err)
			}
		}, "its public key"},
		{"public key of another pair", func(t *testing.T, dir string) {
			_, pub := siteKeyFiles(dir, "eu-west-1")
			other, err := sealed.GenerateKeyFile(filepath.Join(t.TempDir(), "other.key"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pub, []byte(other.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is not the public key of any key"},
		{"key file readable by others", func(t *testing.T, dir string) {
			key, _ := siteKeyFiles(dir, "eu-west-1")
			if err := os.Chmod(key, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "chmod 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := loadSiteKey(dir, "eu-west-1")
			if err != nil {
				t.Fatal(err)
			}
			keyPath, _ := siteKeyFiles(dir, "eu-west-1")
			if first.file != keyPath {
				t.Fatalf("key file %s, want %s", first.file, keyPath)
			}
			fi, err := os.Stat(first.file)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
			}
			if _, err := os.Stat(first.file + ".new"); !os.IsNotExist(err) {
				t.Fatalf("temporary key file left behind: %v", err)
			}
			tt.prepare(t, dir)
			again, err := loadSiteKey(dir, "eu-west-1")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if again.pub.String() != first.pub.String() {
				t.Fatalf("a second start generated a new key pair (%s, was %s)", again.pub.KeyID(), first.pub.KeyID())
			}
			ring, err := sealed.ReadKeyFile(again.file)
			if err != nil {
				t.Fatal(err)
			}
			if ids := ring.KeyIDs(); len(ids) != 1 || ids[0] != first.pub.KeyID() {
				t.Fatalf("key file holds %v, want [%s]", ids, first.pub.KeyID())
			}
		})
	}
}

// TestSiteKeysPerRegion: every region has its own pair, and its public key is
// that region's SitePublicKey parameter.
func TestSiteKeysPerRegion(t *testing.T) {
	keys, err := loadSiteKeys(t.TempDir(), []string{"eu-west-1", "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if keys["eu-west-1"].pub.KeyID() == keys["us-east-1"].pub.KeyID() {
		t.Fatal("two regions share a site key")
	}
	params := sitePublicKeyParameters(keys)
	for _, r := range []string{"eu-west-1", "us-east-1"} {
		if got, want := params[r][provision.SitePublicKeyParameter], keys[r].pub.String(); got != want || got == "" {
			t.Errorf("%s: %s = %q, want %q", r, provision.SitePublicKeyParameter, got, want)
		}
	}
}
