package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

type fakeKMS struct {
	generateMac func(context.Context, *kms.GenerateMacInput) (*kms.GenerateMacOutput, error)
}

func (f fakeKMS) GenerateMac(ctx context.Context, in *kms.GenerateMacInput, _ ...func(*kms.Options)) (*kms.GenerateMacOutput, error) {
	return f.generateMac(ctx, in)
}

func TestKeyDerivesOnceAndMatchesHMAC(t *testing.T) {
	var calls atomic.Int32
	k := []byte(strings.Repeat("k", 32))
	f := fakeKMS{generateMac: func(_ context.Context, in *kms.GenerateMacInput) (*kms.GenerateMacOutput, error) {
		calls.Add(1)
		if string(in.Message) != DerivationMessage || *in.KeyId != "alias/pii" || in.MacAlgorithm != "HMAC_SHA_256" {
			t.Errorf("unexpected GenerateMac input %+v", in)
		}
		return &kms.GenerateMacOutput{Mac: k}, nil
	}}
	ks := New(f, "alias/pii")
	m := hmac.New(sha256.New, k)
	m.Write([]byte("alice@example.com"))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))

	var wg sync.WaitGroup
	for _, in := range []string{"alice@example.com", " ALICE@example.com", "Alice@Example.Com  ", "alice@EXAMPLE.COM"} {
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := ks.Key(context.Background(), in)
				if err != nil || got != want {
					t.Errorf("Key(%q) = %q, %v; want %q", in, got, err, want)
				}
			}()
		}
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("GenerateMac calls = %d, want 1 per process", n)
	}
	other, _ := ks.Key(context.Background(), "bob@example.com")
	if other == want {
		t.Error("different e-mails gave the same key")
	}
	if strings.Contains(want, "alice") || len(want) != 43 {
		t.Errorf("key %q is not a 43-char base64url HMAC", want)
	}
}

func TestKMSFailureIsNotCached(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	f := fakeKMS{generateMac: func(context.Context, *kms.GenerateMacInput) (*kms.GenerateMacOutput, error) {
		if fail.Load() {
			return nil, errors.New("kms down")
		}
		return &kms.GenerateMacOutput{Mac: make([]byte, 32)}, nil
	}}
	ks := New(f, "k")
	if _, err := ks.Key(context.Background(), "a@b.c"); err == nil || !strings.Contains(err.Error(), "kms down") {
		t.Fatalf("Key = %v, want the KMS error", err)
	}
	fail.Store(false)
	if _, err := ks.Key(context.Background(), "a@b.c"); err != nil {
		t.Fatalf("Key after KMS recovered: %v", err)
	}
}

func TestDerivationErrors(t *testing.T) {
	tests := []struct {
		name string
		out  *kms.GenerateMacOutput
		err  error
		want string
	}{
		{"short mac", &kms.GenerateMacOutput{Mac: []byte("short")}, nil, "returned 5 bytes"},
		{"kms error", nil, errors.New("AccessDenied"), "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := New(fakeKMS{generateMac: func(context.Context, *kms.GenerateMacInput) (*kms.GenerateMacOutput, error) { return tt.out, tt.err }}, "k")
			_, err := ks.Key(context.Background(), "a@b.c")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Key error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := New(nil, "k").Key(context.Background(), "a@b.c"); err == nil {
		t.Error("nil KMS client: want an error")
	}
}

func TestKeyHonoursContextWhileAnotherDerivationRuns(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ks := New(fakeKMS{generateMac: func(context.Context, *kms.GenerateMacInput) (*kms.GenerateMacOutput, error) {
		close(started)
		<-release
		return &kms.GenerateMacOutput{Mac: make([]byte, 32)}, nil
	}}, "k")
	done := make(chan error, 1)
	go func() { _, err := ks.Key(context.Background(), "a@b.c"); done <- err }()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ks.Key(ctx, "a@b.c"); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Key with a cancelled context = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first Key: %v", err)
	}
}

func TestKeyRejectsBadEmailBeforeKMS(t *testing.T) {
	ks := New(fakeKMS{generateMac: func(context.Context, *kms.GenerateMacInput) (*kms.GenerateMacOutput, error) {
		t.Error("KMS called for an invalid e-mail")
		return nil, errors.New("no")
	}}, "k")
	if _, err := ks.Key(context.Background(), "  "); !errors.Is(err, ErrNoEmail) {
		t.Errorf("Key(blank) = %v, want ErrNoEmail", err)
	}
}

func TestFromSecret(t *testing.T) {
	if _, err := FromSecret(nil); err == nil {
		t.Error("FromSecret(nil): want an error")
	}
	ks, err := FromSecret([]byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ks.Key(context.Background(), "A@b.c")
	b, _ := ks.Key(context.Background(), "a@b.c ")
	if a == "" || a != b {
		t.Errorf("keys differ: %q %q", a, b)
	}
}

func BenchmarkKey(b *testing.B) {
	ks, _ := FromSecret([]byte(strings.Repeat("k", 32)))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.Key(ctx, " Alice@Example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"canonical", "alice@example.com"},
		{"mixed-case", " Alice@Example.com"},
		{"idn", "alice@Bücher.de"},
		{"a-label", "alice@XN--BCHER-KVA.DE"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
