package identity

import (
	"context"
	"strings"
	"testing"
)

// FuzzNormalize checks that normalizing is idempotent, that every spelling
// that normalizes alike gets the same key, and that nothing panics.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a@b.c", " A@B.C ", "", "@", "a@@b", "ÄÖ@ü.de", "\u212a@x.y", "a\x00@b"} {
		f.Add(s)
	}
	ks, err := FromSecret([]byte("k"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			if _, kerr := ks.Key(context.Background(), s); kerr == nil {
				t.Fatalf("Key accepted %q that Normalize rejects", s)
			}
			return
		}
		if n2, err := Normalize(n); err != nil || n2 != n {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q, %v", s, n, n2, err)
		}
		a, err1 := ks.Key(context.Background(), s)
		b, err2 := ks.Key(context.Background(), " "+strings.ToUpper(n)+"\t")
		if err1 != nil {
			t.Fatalf("Key(%q): %v", s, err1)
		}
		if n3, _ := Normalize(strings.ToUpper(n)); n3 == n && (err2 != nil || a != b) {
			t.Fatalf("upper-cased spelling of %q got another key", s)
		}
	})
}
