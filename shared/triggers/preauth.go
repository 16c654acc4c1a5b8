package triggers

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/residency"
)

// SourceAuthentication is the PreAuthentication trigger source.
const SourceAuthentication = "PreAuthentication_Authentication"

// SignInUnavailable is the message shown when the registry cannot be reached
// in time or anything else fails that is not the user's doing.
const SignInUnavailable = "Sign-in is temporarily unavailable. Please try again in a moment."

// PreAuth is the PreAuthentication trigger: a user signs in only in their
// home region. One read of the local replica decides a warm invocation; on a
// miss (replication lag right after a sign-up elsewhere, or a user created
// before homeregion) it claims this region in the registry region: the
// conditional write either adopts the legacy user here (race-safe: first claim
// wins) or returns the existing claim, read strongly consistently. So a sign-in
// costs one DynamoDB round trip, two on a replica miss.
//
// When Cognito reports userNotFound (user-existence errors prevented), the
// event is returned unchanged and nothing is claimed.
type PreAuth struct {
	// Region is this user pool's region (AWS_REGION).
	Region string
	// Policy is the residency policy; Region must be in one of its zones.
	Policy *residency.Policy
	// Keys computes identity keys.
	Keys Keyer
	// Registry looks up claims and claims legacy users.
	Registry Resolver
	// Log receives one record per invocation (slog.Default when nil).
	Log *slog.Logger
	// Budget bounds an invocation (DefaultBudget when zero).
	Budget time.Duration
}

// Check reports a handler that cannot work (missing dependency, region
// outside the policy); main calls it at cold start.
func (h *PreAuth) Check() error {
	_, err := checkConfig(h.Region, h.Policy, h.Keys, h.Registry)
	return err
}

// Handle decides one PreAuthentication event. It is the only place where
// errors become user-facing messages.
func (h *PreAuth) Handle(ctx context.Context, ev events.CognitoEventUserPoolsPreAuthentication) (events.CognitoEventUserPoolsPreAuthentication, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, budget(h.Budget))
	defer cancel()
	log := logger(h.Log)

	key, home, outcome, err := h.decide(ctx, &ev)
	attrs := []any{
		slog.String("trigger", "PreAuthentication"),
		slog.String("triggerSource", ev.TriggerSource),
		slog.String("region", h.Region),
		slog.Duration("elapsed", time.Since(start)),
	}
	if key != "" {
		attrs = append(attrs, slog.String("keyPrefix", keyPrefix(key)))
	}
	if home != "" {
		attrs = append(attrs, slog.String("homeRegion", home))
	}
	var ref *refusal
	var inv *invalidEvent
	switch {
	case err == nil:
		log.InfoContext(ctx, "sign-in allowed", append(attrs, slog.String("outcome", outcome))...)
		return ev, nil
	case errors.As(err, &ref):
		log.InfoContext(ctx, "sign-in refused", append(attrs, slog.String("outcome", "refuse"), slog.String("reason", ref.reason))...)
		return ev, userMessage(ref.msg)
	case errors.As(err, &inv):
		log.WarnContext(ctx, "malformed event", append(attrs, slog.String("outcome", "error"), slog.String("error", inv.what))...)
		return ev, userMessage(inv.what)
	default:
		log.ErrorContext(ctx, "sign-in failed", append(attrs, slog.String("outcome", "unavailable"), slog.String("error", err.Error()))...)
		return ev, userMessage(SignInUnavailable)
	}
}

// decide returns the outcome of an allowed sign-in: "allow", "adopt" (legacy
// user claimed here) or "user_not_found".
func (h *PreAuth) decide(ctx context.Context, ev *events.CognitoEventUserPoolsPreAuthentication) (key, home, outcome string, err error) {
	if _, err := checkConfig(h.Region, h.Policy, h.Keys, h.Registry); err != nil {
		return "", "", "", err
	}
	switch ev.TriggerSource {
	case SourceAuthentication:
	case "":
		return "", "", "", invalid("PreAuthentication", "missing triggerSource")
	default:
		return "", "", "", invalid("PreAuthentication", "unsupported triggerSource %q", ev.TriggerSource)
	}
	if ev.Request.UserNotFound {
		return "", "", "user_not_found", nil
	}
	attrs := ev.Request.UserAttributes
	if attrs == nil {
		return "", "", "", invalid("PreAuthentication", "missing request.userAttributes")
	}
	email := attrs[AttrEmail]
	if email == "" {
		return "", "", "", refuse("missing_email", "This account has no e-mail address; sign-in is not possible.")
	}
	key, err = h.Keys.Key(ctx, email)
	if err != nil {
		return "", "", "", emailError(err)
	}
	rec, found, err := h.Registry.LookupLocal(ctx, key)
	if err != nil {
		return key, "", "", err
	}
	outcome = "allow"
	if !found {
		var created bool
		rec, created, err = h.Registry.Claim(ctx, key, h.Region)
		if err != nil {
			return key, "", "", err
		}
		if created {
			outcome = "adopt"
		}
	}
	if rec.HomeRegion != h.Region {
		return key, rec.HomeRegion, "", refuse("other_home_region", "Your account's home region is %s. Sign in there.", rec.HomeRegion)
	}
	return key, rec.HomeRegion, outcome, nil
}
