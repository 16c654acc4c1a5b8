package triggers

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/residency"
)

// fakeKeys is a Keyer with a function field.
type fakeKeys struct {
	key func(ctx context.Context, email string) (string, error)
}

func (f fakeKeys) Key(ctx context.Context, email string) (string, error) { return f.key(ctx, email) }

// fakeRegistry is a Resolver and a Finder with function fields; a nil field
// fails the test. claims and finds count the calls.
type fakeRegistry struct {
	t      *testing.T
	claim  func(ctx context.Context, key, region string) (registry.Record, bool, error)
	lookup func(ctx context.Context, key string) (registry.Record, bool, error) // LookupLocal
	find   func(ctx context.Context, key string) (registry.Record, bool, error) // Lookup
	claims int
	finds  int
}

func (f *fakeRegistry) Lookup(ctx context.Context, key string) (registry.Record, bool, error) {
	f.finds++
	if f.find == nil {
		f.t.Error("unexpected Lookup")
		return registry.Record{}, false, errors.New("unexpected Lookup")
	}
	return f.find(ctx, key)
}

func (f *fakeRegistry) Claim(ctx context.Context, key, region string) (registry.Record, bool, error) {
	f.claims++
	if f.claim == nil {
		f.t.Error("unexpected Claim")
		return registry.Record{}, false, errors.New("unexpected Claim")
	}
	return f.claim(ctx, key, region)
}

func (f *fakeRegistry) LookupLocal(ctx context.Context, key string) (registry.Record, bool, error) {
	if f.lookup == nil {
		f.t.Error("unexpected LookupLocal")
		return registry.Record{}, false, errors.New("unexpected LookupLocal")
	}
	return f.lookup(ctx, key)
}

// realKeys normalizes like production: a fixed secret.
func realKeys(t testing.TB) *identity.Keys {
	ks, err := identity.FromSecret([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func policy(t testing.TB) *residency.Policy {
	p, err := residency.Default()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func claimAs(home string, created bool) func(context.Context, string, string) (registry.Record, bool, error) {
	return func(_ context.Context, key, _ string) (registry.Record, bool, error) {
		return registry.Record{Key: key, HomeRegion: home}, created, nil
	}
}

func claimHere(created bool) func(context.Context, string, string) (registry.Record, bool, error) {
	return func(_ context.Context, key, region string) (registry.Record, bool, error) {
		return registry.Record{Key: key, HomeRegion: region}, created, nil
	}
}

func found(home string) func(context.Context, string) (registry.Record, bool, error) {
	return func(_ context.Context, key string) (registry.Record, bool, error) {
		return registry.Record{Key: key, HomeRegion: home}, true, nil
	}
}

func notFound(context.Context, string) (registry.Record, bool, error) {
	return registry.Record{}, false, nil
}

// hang blocks until the invocation's deadline: an unreachable registry.
func hang[T any](ctx context.Context) (T, bool, error) {
	<-ctx.Done()
	var zero T
	return zero, false, ctx.Err()
}

// testPool is the user pool of the unit tests' events (and of the events/
// samples): eu-central-1's own pool, as Cognito names it.
const testPool = "eu-central-1_EXAMPLE"

// pairedConfig is Config for region paired with partner through the
// partner's pool id pool, read by ParseEnv as a cold start would.
func pairedConfig(t testing.TB, region, partner, pool string) Config {
	t.Helper()
	env := map[string]string{
		"AWS_REGION": region, "RESIDENCY_TABLE": "registry", "REGISTRY_REGION": "eu-west-1", "PII_KEY_ID": "alias/pii",
		"PAIR_REGION": partner, "PAIR_USER_POOL_ID": pool,
	}
	c, err := ParseEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("ParseEnv of a paired configuration: %v", err)
	}
	return c
}

// mustHandler builds a handler with newHandler (NewPreSignUp, NewPreAuth or
// NewPostConfirmation) for c, failing the test on an error.
func mustHandler[T any](t testing.TB, newHandler func(Config, Deps, *slog.Logger) (T, error), c Config, d Deps, log *slog.Logger) T {
	t.Helper()
	h, err := newHandler(c, d, log)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// mustPreSignUp, mustPreAuth and mustPostConfirmation build handlers through
// their constructors for tests that wire them correctly (budget 0: the
// default).
func mustPreSignUp(region string, p *residency.Policy, keys Keyer, reg Registry, log *slog.Logger, budget time.Duration) *PreSignUp {
	h, err := NewPreSignUp(Config{Region: region}, Deps{Policy: p, Keys: keys, Registry: reg}, log)
	if err != nil {
		panic(err)
	}
	h.Budget = budget
	return h
}

func mustPreAuth(region string, p *residency.Policy, keys Keyer, reg Registry, log *slog.Logger, budget time.Duration) *PreAuth {
	h, err := NewPreAuth(Config{Region: region}, Deps{Policy: p, Keys: keys, Registry: reg}, log)
	if err != nil {
		panic(err)
	}
	h.Budget = budget
	return h
}

func mustPostConfirmation(region string, p *residency.Policy, keys Keyer, reg Registry, log *slog.Logger, budget time.Duration) *PostConfirmation {
	h, err := NewPostConfirmation(Config{Region: region}, Deps{Policy: p, Keys: keys, Registry: reg}, log)
	if err != nil {
		panic(err)
	}
	h.Budget = budget
	return h
}
