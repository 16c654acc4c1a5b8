package triggers

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/iso3166"
)

// PreSignUp trigger sources. Each is handled deliberately, with the same
// rules, and none of them claims anything (nobody has proved they own the
// address yet; see PostConfirmation):
//
//   - PreSignUp_SignUp (self-service SignUp).
//   - PreSignUp_AdminCreateUser (an administrator creates the user): an
//     administrator cannot create a user in another region's pool or one whose
//     e-mail belongs to another region. The user is claimed at the first
//     sign-in (PreAuth), when its e-mail is verified.
//   - PreSignUp_ExternalProvider (first sign-in through a federated identity
//     provider): the provider's attribute mapping must supply email,
//     custom:region and custom:country; a provider that does not is refused
//     with the message naming the missing attribute. Cognito then runs
//     PostConfirmation_ConfirmSignUp, which claims when the mapped
//     email_verified is "true".
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
const SignUpUnavailable = "Sign-up is temporarily unavailable. Please try again in a moment"

// PreSignUp is the PreSignUp trigger: it refuses sign-ups that break the
// residency rules, including an e-mail that another region already holds,
// and writes nothing. A warm invocation makes one registry read (a second,
// strongly consistent in the registry region, when the local replica has no
// claim).
type PreSignUp struct {
	base
	registry Finder // finds existing claims
}

// NewPreSignUp returns the PreSignUp handler for c.Region over d; log nil means
// slog.Default(). A missing dependency, or a region in no zone of the
// residency policy, is an error: it fails the cold start, never an
// invocation.
func NewPreSignUp(c Config, d Deps, log *slog.Logger) (*PreSignUp, error) {
	b, err := newBase("presignup", "PreSignUp", c, d, log, SignUpUnavailable)
	if err != nil {
		return nil, err
	}
	return &PreSignUp{base: b, registry: d.Registry}, nil
}

// Handle decides one PreSignUp event.
func (h *PreSignUp) Handle(ctx context.Context, ev events.CognitoEventUserPoolsPreSignup) (events.CognitoEventUserPoolsPreSignup, error) {
	ev.Response = events.CognitoEventUserPoolsPreSignupResponse{} // never auto-confirm or auto-verify
	err := h.run(ctx, invocation{source: ev.TriggerSource, pool: ev.UserPoolID, outcome: "allow"}, func(ctx context.Context, inv *invocation) error {
		return h.decide(ctx, &ev, inv)
	})
	return ev, err
}

// decide applies the rules in order, cheapest first: event shape, the
// event's pool (only this region's own pool signs users up), e-mail, region,
// country, then the registry read.
func (h *PreSignUp) decide(ctx context.Context, ev *events.CognitoEventUserPoolsPreSignup, inv *invocation) error {
	zone := h.zone
	switch ev.TriggerSource {
	case SourceSignUp, SourceAdminCreateUser, SourceExternalProvider:
	case "":
		return invalid("PreSignUp", "missing triggerSource")
	default:
		return invalid("PreSignUp", "unsupported triggerSource %q", ev.TriggerSource)
	}
	attrs := ev.Request.UserAttributes
	if attrs == nil {
		return invalid("PreSignUp", "missing request.userAttributes")
	}
	switch home, err := h.poolHome(inv); {
	case err != nil:
		return err
	case home != h.region:
		// The partner's pool, replicated here: sign-up runs only at its
		// primary (Cognito refuses it at a replica first anyway).
		return refuse("replica_no_signup", "Sign-up is possible only in %s, the home region of this user pool. Please try again later", home)
	}

	email, ok := attrs[AttrEmail]
	if !ok || email == "" {
		return refuse("missing_email", "An e-mail address is required")
	}

	region := attrs[AttrRegion]
	switch {
	case region == "":
		return refuse("missing_region", "custom:region is required: set it to %s to sign up here", h.region)
	case region != h.region && awsname.Region(region):
		return refuse("wrong_region", "This is region %s, not %s. Sign up in %s", h.region, region, region)
	case region != h.region:
		return refuse("wrong_region", "custom:region must be %s to sign up here", h.region)
	}

	country := attrs[AttrCountry]
	switch {
	case country == "":
		return refuse("missing_country", "custom:country is required (ISO 3166 alpha-2 code, e.g. DE)")
	case !iso3166.Assigned(country):
		return refuse("invalid_country", "custom:country must be an ISO 3166 alpha-2 code, e.g. DE")
	}
	cz, ok := h.policy.ZoneOfCountry(country)
	if !ok {
		return refuse("country_not_served", "Sign-up is not available for country %s", country)
	}
	if cz != zone {
		use := h.policy.RegionsOf(cz)[0]
		return refuse("country_other_zone", "Accounts for country %s are served in %s. Sign up in %s", country, use, use)
	}

	var err error
	if inv.key, err = h.keys.Key(ctx, email); err != nil {
		return emailError(err)
	}
	rec, found, err := h.registry.Lookup(ctx, inv.key)
	if err != nil {
		return err
	}
	if found {
		inv.home = rec.HomeRegion
		if rec.HomeRegion != h.region {
			return refuse("registered_elsewhere", "This e-mail address is already registered in %s. Sign in there", rec.HomeRegion)
		}
	}
	return nil
}
