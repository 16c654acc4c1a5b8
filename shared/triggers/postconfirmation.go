package triggers

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// PostConfirmation trigger sources. Cognito runs PostConfirmation after
// ConfirmSignUp (a code sent to the e-mail address), AdminConfirmSignUp, a
// federated user's first sign-in (all PostConfirmation_ConfirmSignUp) and
// ConfirmForgotPassword (PostConfirmation_ConfirmForgotPassword); never for
// users created with AdminCreateUser.
//
//   - PostConfirmation_ConfirmSignUp claims the e-mail for this region when
//     email_verified is "true". After ConfirmSignUp with an e-mail code it is;
//     after AdminConfirmSignUp it is only if an administrator set it; for a
//     federated user it is what the provider's attribute mapping says. An
//     unverified address is refused with UnverifiedEmail and claims nothing.
//   - PostConfirmation_ConfirmForgotPassword does nothing: a password reset
//     changes no e-mail address, the account's claim (or its absence) is
//     settled at the next sign-in by PreAuth, and the reset (already done when
//     the trigger runs) must not depend on the registry region.
const (
	SourceConfirmSignUp         = "PostConfirmation_ConfirmSignUp"
	SourceConfirmForgotPassword = "PostConfirmation_ConfirmForgotPassword"
)

// ConfirmUnavailable is the message shown when the claim cannot be written
// in time. Cognito has already confirmed the user; the next sign-in claims
// the verified address (PreAuth), so nothing is lost.
const ConfirmUnavailable = "Your account is confirmed, but its home region could not be recorded just now. Sign in to finish"

// PostConfirmation is the PostConfirmation trigger: it claims the e-mail of a
// user who has just proved ownership of it for this region, with one
// conditional write in the registry region (the first verified claim wins
// everywhere; repeating it in the home region succeeds). If another region
// holds the address it fails naming that region: Cognito has confirmed the
// user all the same, and PreAuth refuses every sign-in of that account
// outside the home region, so it stays unusable.
type PostConfirmation struct {
	base
	registry Claimer // takes the claim in the registry region
}

// NewPostConfirmation returns the PostConfirmation handler for c.Region over d; log nil means
// slog.Default(). A missing dependency, or a region in no zone of the
// residency policy, is an error: it fails the cold start, never an
// invocation.
func NewPostConfirmation(c Config, d Deps, log *slog.Logger) (*PostConfirmation, error) {
	b, err := newBase("postconfirmation", "PostConfirmation", c, d, log, ConfirmUnavailable)
	if err != nil {
		return nil, err
	}
	return &PostConfirmation{base: b, registry: d.Registry}, nil
}

// Handle decides one PostConfirmation event.
func (h *PostConfirmation) Handle(ctx context.Context, ev events.CognitoEventUserPoolsPostConfirmation) (events.CognitoEventUserPoolsPostConfirmation, error) {
	err := h.run(ctx, invocation{source: ev.TriggerSource, pool: ev.UserPoolID, sub: ev.Request.UserAttributes["sub"]}, func(ctx context.Context, inv *invocation) error {
		return h.decide(ctx, &ev, inv)
	})
	return ev, err
}

// decide sets inv.outcome of a successful invocation: "claim" (this call
// made the claim), "home" (the claim was already this region's) or "ignore"
// (a password reset). Only this region's own pool confirms users: an event
// of the partner's pool (replicated here) is refused, and one of any other
// pool too (unknown_pool).
func (h *PostConfirmation) decide(ctx context.Context, ev *events.CognitoEventUserPoolsPostConfirmation, inv *invocation) error {
	switch ev.TriggerSource {
	case SourceConfirmSignUp, SourceConfirmForgotPassword:
	case "":
		return invalid("PostConfirmation", "missing triggerSource")
	default:
		return invalid("PostConfirmation", "unsupported triggerSource %q", ev.TriggerSource)
	}
	switch home, err := h.poolHome(inv); {
	case err != nil:
		return err
	case home != h.region:
		// The partner's pool, replicated here: confirmations and password
		// resets happen only at its primary, so this cannot be Cognito's
		// doing; claim nothing.
		return refuse("replica_no_confirmation", "This account can be confirmed only in %s", home)
	}
	if ev.TriggerSource == SourceConfirmForgotPassword {
		inv.outcome = "ignore"
		return nil
	}
	attrs := ev.Request.UserAttributes
	if attrs == nil {
		return invalid("PostConfirmation", "missing request.userAttributes")
	}
	email := attrs[AttrEmail]
	if email == "" {
		return refuse("missing_email", "This account has no e-mail address, so it cannot have a home region")
	}
	if !verified(attrs) {
		return refuse("unverified_email", UnverifiedEmail)
	}
	var err error
	if inv.key, err = h.keys.Key(ctx, email); err != nil {
		return emailError(err)
	}
	rec, created, err := h.registry.Claim(ctx, inv.key, h.region)
	if err != nil {
		return err
	}
	inv.home = rec.HomeRegion
	if rec.HomeRegion != h.region {
		return refuse("registered_elsewhere", "This e-mail address already belongs to an account in %s. Sign in there; this account cannot be used", rec.HomeRegion)
	}
	inv.outcome = "home"
	if created {
		inv.outcome = "claim"
	}
	return nil
}
