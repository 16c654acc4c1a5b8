// Package triggers holds homeregion's Cognito user pool triggers, which pin
// every user to one home region in the residency registry. The first
// verified owner of an e-mail address wins:
//
//   - PreSignUp refuses a sign-up whose e-mail another region already holds
//     (naming it) and checks custom:region and custom:country; it writes
//     nothing, because nobody has proved they own the address yet.
//   - PostConfirmation claims the e-mail for this region once Cognito has
//     confirmed the user with a code sent to that address (email_verified is
//     "true"); if another region won the address first it fails naming that
//     region, and the confirmed account can sign in nowhere.
//   - PreAuth lets a user sign in only in their home region; a user without a
//     claim (created before homeregion, by an administrator, or whose
//     PostConfirmation could not reach the registry) is adopted here only when
//     email_verified is "true".
//
// In a zone pair (PAIR_REGION, PAIR_USER_POOL_ID) the partner's user pool has
// a replica here that invokes these same functions with the partner's pool
// id. Every event is first mapped to the home region its pool serves
// (Config.PoolHome, the one home of that rule): this region's pool serves
// AWS_REGION, the partner's pool PAIR_REGION, any other pool nobody (refused,
// unknown_pool). For the partner's pool PreSignUp and PostConfirmation refuse
// (sign-up and confirmation run only at the pool's primary) and PreAuth
// applies its rules with PAIR_REGION in the place of AWS_REGION, adopting a
// verified user without a claim for PAIR_REGION. Without a pair nothing
// changes: Cognito's pool ids start with their region.
//
// All three are importable so that the Lambda binaries (functions/presignup,
// functions/postconfirmation, functions/preauth) and the local stack
// (cmd/local) run exactly the same code through lambda.NewHandler.
//
// Every handler fails closed: if the registry cannot answer within Budget
// (default 4 s, inside Cognito's 5 s trigger limit) it denies with a short
// "temporarily unavailable" message. Cognito shows a trigger's error message
// to the end user, so every message is short and free of internals; details
// go to the log, which never contains e-mail addresses (only a prefix of the
// identity key, an HMAC).
//
// Errors become messages at exactly one place, finish: a *refusal carries
// the user-facing reason, an *invalidEvent says what is malformed, anything
// else becomes the handler's "temporarily unavailable" message.
package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/registry"
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

// Finder reads a claim without writing: the local replica first, then, on a
// miss, the registry region (implemented by *registry.Registry).
type Finder interface {
	Lookup(ctx context.Context, key string) (rec registry.Record, found bool, err error)
}

// Resolver finds a claim in the local replica and claims a missing one
// (implemented by *registry.Registry).
type Resolver interface {
	Claimer
	LookupLocal(ctx context.Context, key string) (rec registry.Record, found bool, err error)
}

// Registry is the residency registry as the three triggers use it
// (implemented by *registry.Registry).
type Registry interface {
	Finder
	Resolver
}

// Cognito user attribute names the triggers read.
const (
	AttrEmail         = "email"
	AttrEmailVerified = "email_verified"
	AttrRegion        = "custom:region"
	AttrCountry       = "custom:country"
)

// UnverifiedEmail is the refusal shown when an account without a claim has
// an e-mail address nobody has proved to own: no claim is made for it.
const UnverifiedEmail = "Your e-mail address is not verified, so this account cannot be used yet. Please contact support"

// verified reports whether Cognito says the user owns the address: the
// attribute is the string "true" (Cognito sends every attribute as a string).
func verified(attrs map[string]string) bool { return attrs[AttrEmailVerified] == "true" }

// userMessage is the error a handler returns: Cognito shows its text to the
// end user as "PreSignUp failed with error <text>.", so it is written as a
// sentence without its final period (Cognito adds it; one of ours would make
// it ".."). TestUserMessagesDoNotEndWithAPeriod checks every message.
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

// emailError maps an identity error about the address itself to a refusal.
func emailError(err error) error {
	switch {
	case errors.Is(err, identity.ErrNoEmail):
		return refuse("missing_email", "An e-mail address is required")
	case errors.Is(err, identity.ErrUnsupportedEmail): // before ErrMalformedEmail, which it also matches
		return refuse("unsupported_email", "This e-mail address cannot be used here: use one with only plain letters, digits and punctuation before the @, and a domain without look-alike characters")
	case errors.Is(err, identity.ErrMalformedEmail):
		return refuse("malformed_email", "The e-mail address is not valid")
	}
	return err
}

// invocation is what one handler call logs: never the e-mail, only a prefix
// of its identity key. pool and sub (the user's sub attribute, a UUID that is
// the user name in a pool with e-mail sign-in) let an operator find the
// account, e.g. one that lost a race for its address; the event's userName
// is not logged, since outside such a pool it can be the address.
type invocation struct {
	trigger, source, region string
	pool, sub               string
	poolHome                string // the home region the pool serves here (logged only when it is the partner's)
	start                   time.Time
	key, home, outcome      string
}

// finish logs inv and turns err into what Cognito shows the user: nil
// (allowed), a refusal's message, a malformed event's description, or
// unavailable for every other failure (registry, KMS, timeouts), whose
// details go to the log only. It is the one boundary where errors become
// messages.
func finish(ctx context.Context, log *slog.Logger, inv invocation, err error, unavailable string) error {
	attrs := []any{
		slog.String("trigger", inv.trigger),
		slog.String("triggerSource", inv.source),
		slog.String("region", inv.region),
		slog.Duration("elapsed", time.Since(inv.start)),
	}
	if inv.pool != "" {
		attrs = append(attrs, slog.String("userPoolId", inv.pool))
	}
	if inv.poolHome != "" && inv.poolHome != inv.region {
		attrs = append(attrs, slog.String("poolHome", inv.poolHome))
	}
	if inv.sub != "" {
		attrs = append(attrs, slog.String("sub", inv.sub))
	}
	if inv.key != "" {
		attrs = append(attrs, slog.String("keyPrefix", keyPrefix(inv.key)))
	}
	if inv.home != "" {
		attrs = append(attrs, slog.String("homeRegion", inv.home))
	}
	var ref *refusal
	var bad *invalidEvent
	switch {
	case err == nil:
		log.InfoContext(ctx, inv.trigger+" allowed", append(attrs, slog.String("outcome", inv.outcome))...)
		return nil
	case errors.As(err, &ref):
		log.InfoContext(ctx, inv.trigger+" refused", append(attrs, slog.String("outcome", "refuse"), slog.String("reason", ref.reason))...)
		return userMessage(ref.msg)
	case errors.As(err, &bad):
		log.WarnContext(ctx, "malformed event", append(attrs, slog.String("outcome", "error"), slog.String("error", bad.what))...)
		return userMessage(bad.what)
	default:
		log.ErrorContext(ctx, inv.trigger+" failed", append(attrs, slog.String("outcome", "unavailable"), slog.String("error", err.Error()))...)
		return userMessage(unavailable)
	}
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
