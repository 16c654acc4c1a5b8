package triggers

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/residency"
)

// PreSignUp trigger sources. Each is handled deliberately:
//
//   - PreSignUp_SignUp (self-service SignUp): every rule applies; the claim is
//     made for this region.
//   - PreSignUp_AdminCreateUser (an administrator creates the user): the same
//     rules apply; an administrator cannot pin a user to another region or
//     create a user whose e-mail belongs to another region.
//   - PreSignUp_ExternalProvider (first sign-in through a federated identity
//     provider): the same rules apply. The provider's attribute mapping must
//     supply email, custom:region and custom:country; a provider that does not
//     is refused with the message naming the missing attribute, because a user
//     without them could not be pinned to a region.
//
// In every case the response is left with autoConfirmUser, autoVerifyEmail and
// autoVerifyPhone false: confirmation stays Cognito's (e-mail verification).
const (
	SourceSignUp           = "PreSignUp_SignUp"
	SourceAdminCreateUser  = "PreSignUp_AdminCreateUser"
	SourceExternalProvider = "PreSignUp_ExternalProvider"
)

// SignUpUnavailable is the message shown when the registry cannot be reached
// in time or anything else fails that is not the user's doing.
const SignUpUnavailable = "Sign-up is temporarily unavailable. Please try again in a moment."

// PreSignUp is the PreSignUp trigger: it refuses sign-ups that break the
// residency rules and claims the e-mail's home region for this region. First
// claim wins; a retry in the same region (Cognito retries triggers) succeeds.
type PreSignUp struct {
	// Region is this user pool's region (AWS_REGION).
	Region string
	// Policy is the residency policy; Region must be in one of its zones.
	Policy *residency.Policy
	// Keys computes identity keys.
	Keys Keyer
	// Registry takes the claim in the registry region.
	Registry Claimer
	// Log receives one record per invocation (slog.Default when nil).
	Log *slog.Logger
	// Budget bounds an invocation (DefaultBudget when zero).
	Budget time.Duration
}

// Check reports a handler that cannot work (missing dependency, region
// outside the policy); main calls it at cold start.
func (h *PreSignUp) Check() error {
	_, err := checkConfig(h.Region, h.Policy, h.Keys, h.Registry)
	return err
}

// Handle decides one PreSignUp event. It is the only place where errors
// become user-facing messages.
func (h *PreSignUp) Handle(ctx context.Context, ev events.CognitoEventUserPoolsPreSignup) (events.CognitoEventUserPoolsPreSignup, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, budget(h.Budget))
	defer cancel()
	ev.Response = events.CognitoEventUserPoolsPreSignupResponse{} // never auto-confirm or auto-verify
	log := logger(h.Log)

	key, home, err := h.decide(ctx, &ev)
	attrs := []any{
		slog.String("trigger", "PreSignUp"),
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
		log.InfoContext(ctx, "sign-up allowed", append(attrs, slog.String("outcome", "allow"))...)
		return ev, nil
	case errors.As(err, &ref):
		log.InfoContext(ctx, "sign-up refused", append(attrs, slog.String("outcome", "refuse"), slog.String("reason", ref.reason))...)
		return ev, userMessage(ref.msg)
	case errors.As(err, &inv):
		log.WarnContext(ctx, "malformed event", append(attrs, slog.String("outcome", "error"), slog.String("error", inv.what))...)
		return ev, userMessage(inv.what)
	default:
		log.ErrorContext(ctx, "sign-up failed", append(attrs, slog.String("outcome", "unavailable"), slog.String("error", err.Error()))...)
		return ev, userMessage(SignUpUnavailable)
	}
}

// decide applies the rules in order, cheapest first: event shape, e-mail,
// region, country, then the one registry round trip.
func (h *PreSignUp) decide(ctx context.Context, ev *events.CognitoEventUserPoolsPreSignup) (key, home string, err error) {
	zone, err := checkConfig(h.Region, h.Policy, h.Keys, h.Registry)
	if err != nil {
		return "", "", err
	}
	switch ev.TriggerSource {
	case SourceSignUp, SourceAdminCreateUser, SourceExternalProvider:
	case "":
		return "", "", invalid("PreSignUp", "missing triggerSource")
	default:
		return "", "", invalid("PreSignUp", "unsupported triggerSource %q", ev.TriggerSource)
	}
	attrs := ev.Request.UserAttributes
	if attrs == nil {
		return "", "", invalid("PreSignUp", "missing request.userAttributes")
	}

	email, ok := attrs[AttrEmail]
	if !ok || email == "" {
		return "", "", refuse("missing_email", "An e-mail address is required.")
	}

	region := attrs[AttrRegion]
	switch {
	case region == "":
		return "", "", refuse("missing_region", "custom:region is required: set it to %s to sign up here.", h.Region)
	case region != h.Region && residency.ValidRegion(region):
		return "", "", refuse("wrong_region", "This is region %s, not %s. Sign up in %s.", h.Region, region, region)
	case region != h.Region:
		return "", "", refuse("wrong_region", "custom:region must be %s to sign up here.", h.Region)
	}

	country := attrs[AttrCountry]
	switch {
	case country == "":
		return "", "", refuse("missing_country", "custom:country is required (ISO 3166 alpha-2 code, e.g. DE).")
	case !residency.ValidCountry(country):
		return "", "", refuse("invalid_country", "custom:country must be an ISO 3166 alpha-2 code, e.g. DE.")
	}
	cz, ok := h.Policy.ZoneOfCountry(country)
	if !ok {
		return "", "", refuse("country_not_served", "Sign-up is not available for country %s.", country)
	}
	if cz != zone {
		use := h.Policy.RegionsOf(cz)[0]
		return "", "", refuse("country_other_zone", "Accounts for country %s are served in %s. Sign up in %s.", country, use, use)
	}

	key, err = h.Keys.Key(ctx, email)
	if err != nil {
		return "", "", emailError(err)
	}
	rec, _, err := h.Registry.Claim(ctx, key, h.Region)
	if err != nil {
		return key, "", err
	}
	if rec.HomeRegion != h.Region {
		return key, rec.HomeRegion, refuse("registered_elsewhere", "This e-mail address is already registered in %s. Sign in there.", rec.HomeRegion)
	}
	return key, rec.HomeRegion, nil
}
