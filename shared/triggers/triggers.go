// Package triggers holds homeregion's Cognito user pool triggers: PreSignUp,
// which pins a new user to this region (the first claim of an e-mail wins
// everywhere), and PreAuth, which lets a user sign in only in their home
// region. Both are importable so that the Lambda binaries
// (functions/presignup, functions/preauth) and the local stack (cmd/local)
// run exactly the same code through lambda.NewHandler(h.Handle).
//
// Both handlers fail closed: if the registry cannot answer within Budget
// (default 4 s, inside Cognito's 5 s trigger limit) they deny with a short
// "temporarily unavailable" message. Cognito shows a trigger's error message
// to the end user, so every message is short and free of internals; details
// go to the log, which never contains e-mail addresses (only a prefix of the
// identity key, an HMAC).
//
// Errors are mapped to messages at exactly one place per handler (Handle):
// a *refusal carries the user-facing reason, anything else becomes the
// "temporarily unavailable" message.
package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/residency"
)

// DefaultBudget bounds a whole invocation, SDK retries included: Cognito
// gives a trigger 5 s.
const DefaultBudget = 4 * time.Second

// Keyer computes identity keys (implemented by *identity.Keys).
type Keyer interface {
	Key(ctx context.Context, email string) (string, error)
}

// Claimer writes claims in the registry region (implemented by
// *registry.Registry). It returns the claim that holds after the call.
type Claimer interface {
	Claim(ctx context.Context, key, region string) (rec registry.Record, created bool, err error)
}

// Resolver finds a claim in the local replica and claims a missing one
// (implemented by *registry.Registry).
type Resolver interface {
	Claimer
	LookupLocal(ctx context.Context, key string) (rec registry.Record, found bool, err error)
}

// Cognito user attribute names the triggers read.
const (
	AttrEmail   = "email"
	AttrRegion  = "custom:region"
	AttrCountry = "custom:country"
)

// userMessage is the error a handler returns: Cognito shows its text to the
// end user as is ("PreSignUp failed with error <text>."), so it is written
// as a sentence.
type userMessage string

func (m userMessage) Error() string { return string(m) }

// refusal is a deliberate denial: msg is shown to the user, reason is a
// stable code for the log.
type refusal struct {
	reason string
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func refuse(reason, format string, args ...any) error {
	return &refusal{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// invalidEvent reports an event that is not a well-formed trigger event.
type invalidEvent struct{ what string }

func (e *invalidEvent) Error() string { return e.what }

func invalid(trigger, format string, args ...any) error {
	return &invalidEvent{what: fmt.Sprintf("invalid %s event: ", trigger) + fmt.Sprintf(format, args...)}
}

// checkConfig validates what both handlers need before any work.
func checkConfig(region string, p *residency.Policy, keys Keyer, reg any) (zone string, err error) {
	switch {
	case p == nil:
		return "", errors.New("no residency policy")
	case keys == nil:
		return "", errors.New("no identity keys")
	case reg == nil:
		return "", errors.New("no registry")
	}
	zone, ok := p.ZoneOfRegion(region)
	if !ok {
		return "", fmt.Errorf("region %q is in no residency zone of policy %s", region, p.Version())
	}
	return zone, nil
}

// emailError maps an identity error about the address itself to a refusal.
func emailError(err error) error {
	switch {
	case errors.Is(err, identity.ErrNoEmail):
		return refuse("missing_email", "An e-mail address is required.")
	case errors.Is(err, identity.ErrMalformedEmail):
		return refuse("malformed_email", "The e-mail address is not valid.")
	}
	return err
}

// keyPrefix is what the log may show of an identity key.
func keyPrefix(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

func logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}

func budget(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return DefaultBudget
}
