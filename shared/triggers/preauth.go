package triggers

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// SourceAuthentication is the PreAuthentication trigger source.
const SourceAuthentication = "PreAuthentication_Authentication"

// SignInUnavailable is the message shown when the registry cannot be reached
// in time or anything else fails that is not the user's doing.
const SignInUnavailable = "Sign-in is temporarily unavailable. Please try again in a moment"

// PreAuth is the PreAuthentication trigger: a user signs in only through a
// pool of their home region (this region's own pool or, in a zone pair, the
// partner's pool replicated here, whose home is PAIR_REGION). One read of
// the local replica decides a warm invocation. On a miss (replication lag
// right after a confirmation elsewhere, a user created before homeregion or
// by an administrator, a PostConfirmation that could not reach the registry)
// it claims the pool's home region in the registry region, but only for a
// verified e-mail address (email_verified "true"): the conditional write
// either adopts the user for that home (race-safe: first claim wins) or
// returns the existing claim, read strongly consistently. An unverified
// address without a claim is refused and nothing is written. So a sign-in
// costs one DynamoDB round trip, two on a replica miss.
//
// When Cognito reports userNotFound (user-existence errors prevented), the
// event is returned unchanged and nothing is claimed.
type PreAuth struct {
	base
	registry Resolver // looks up claims and claims verified users without one
}

// NewPreAuth returns the PreAuth handler for c.Region over d; log nil means
// slog.Default(). A missing dependency, or a region in no zone of the
// residency policy, is an error: it fails the cold start, never an
// invocation.
func NewPreAuth(c Config, d Deps, log *slog.Logger) (*PreAuth, error) {
	b, err := newBase("preauth", "PreAuthentication", c, d, log, SignInUnavailable)
	if err != nil {
		return nil, err
	}
	return &PreAuth{base: b, registry: d.Registry}, nil
}

// Handle decides one PreAuthentication event.
func (h *PreAuth) Handle(ctx context.Context, ev events.CognitoEventUserPoolsPreAuthentication) (events.CognitoEventUserPoolsPreAuthentication, error) {
	err := h.run(ctx, invocation{source: ev.TriggerSource, pool: ev.UserPoolID, sub: ev.Request.UserAttributes["sub"]}, func(ctx context.Context, inv *invocation) error {
		return h.decide(ctx, &ev, inv)
	})
	return ev, err
}

// decide sets inv.outcome of an allowed sign-in: "allow", "adopt" (a verified
// user without a claim, claimed for the pool's home) or "user_not_found".
// The region the rules compare with is the home of the event's pool
// (Config.PoolHome): AWS_REGION for this region's own pool, PAIR_REGION for
// the partner's pool replicated here.
func (h *PreAuth) decide(ctx context.Context, ev *events.CognitoEventUserPoolsPreAuthentication, inv *invocation) error {
	switch ev.TriggerSource {
	case SourceAuthentication:
	case "":
		return invalid("PreAuthentication", "missing triggerSource")
	default:
		return invalid("PreAuthentication", "unsupported triggerSource %q", ev.TriggerSource)
	}
	attrs := ev.Request.UserAttributes
	if attrs == nil && !ev.Request.UserNotFound {
		return invalid("PreAuthentication", "missing request.userAttributes")
	}
	home, err := h.poolHome(inv)
	if err != nil {
		return err
	}
	if ev.Request.UserNotFound {
		inv.outcome = "user_not_found"
		return nil
	}
	email := attrs[AttrEmail]
	if email == "" {
		return refuse("missing_email", "This account has no e-mail address; sign-in is not possible")
	}
	if inv.key, err = h.keys.Key(ctx, email); err != nil {
		return emailError(err)
	}
	rec, found, err := h.registry.LookupLocal(ctx, inv.key)
	if err != nil {
		return err
	}
	inv.outcome = "allow"
	if !found {
		if !verified(attrs) {
			return refuse("unverified_email", UnverifiedEmail)
		}
		var created bool
		if rec, created, err = h.registry.Claim(ctx, inv.key, home); err != nil {
			return err
		}
		if created {
			inv.outcome = "adopt"
		}
	}
	inv.home = rec.HomeRegion
	if rec.HomeRegion != home {
		return refuse("other_home_region", "Your account's home region is %s. Sign in there", rec.HomeRegion)
	}
	return nil
}
