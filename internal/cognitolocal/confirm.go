package cognitolocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// Post confirmation, as documented in
// https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html:
// "Your user pool invokes your post confirmation function on ConfirmSignUp,
// AdminConfirmSignUp, and ConfirmForgotPassword"; the request carries "the
// current attributes for the confirmed user" and the request's ClientMetadata.

// clientIDNotApplicable is the callerContext.clientId of admin operations.
const clientIDNotApplicable = "CLIENT_ID_NOT_APPLICABLE"

type confirmSignUpInput struct {
	ClientID         string            `json:"ClientId"`
	Username         string            `json:"Username"`
	ConfirmationCode string            `json:"ConfirmationCode"`
	ClientMetadata   map[string]string `json:"ClientMetadata"`
}

// confirmSignUp confirms with the code the user received. No code is sent
// locally, so any non-empty code is accepted (moto accepts any code too).
func (e *Endpoint) confirmSignUp(r *http.Request, body []byte) (*reply, error) {
	var in confirmSignUpInput
	if err := json.Unmarshal(body, &in); err != nil || e.cfg.Users == nil || !slices.Contains(e.cfg.ClientIDs, in.ClientID) {
		return e.forward(r, body)
	}
	if in.ConfirmationCode == "" {
		return nil, errCodeMismatch
	}
	return e.confirm(r, body, in.Username, in.ClientID, in.ClientMetadata, true)
}

type adminConfirmSignUpInput struct {
	UserPoolID     string            `json:"UserPoolId"`
	Username       string            `json:"Username"`
	ClientMetadata map[string]string `json:"ClientMetadata"`
}

// adminConfirmSignUp confirms as an administrator: no code went anywhere, so
// nothing is verified.
func (e *Endpoint) adminConfirmSignUp(r *http.Request, body []byte) (*reply, error) {
	var in adminConfirmSignUpInput
	if err := json.Unmarshal(body, &in); err != nil || e.cfg.Users == nil || in.UserPoolID != e.cfg.UserPoolID {
		return e.forward(r, body)
	}
	return e.confirm(r, body, in.Username, clientIDNotApplicable, in.ClientMetadata, false)
}

// confirm forwards a ConfirmSignUp or AdminConfirmSignUp to moto, then does
// what Cognito does after it: verify the attribute the code went to (verify)
// and run the post confirmation trigger. A trigger failure is the call's
// answer, but the user stays confirmed, as in Cognito.
func (e *Endpoint) confirm(r *http.Request, body []byte, username, clientID string, metadata map[string]string, verify bool) (*reply, error) {
	ctx := r.Context()
	user, rep, err := e.confirmUnconfirmed(r, body, username)
	if err != nil || user == nil || rep.status != http.StatusOK {
		return rep, err
	}
	name := aws.ToString(user.Username)
	if verify {
		if err := e.verifyCodeDestination(ctx, name, userAttrMap(user.UserAttributes)); err != nil {
			return nil, err
		}
	}
	if e.cfg.PostConfirmation == nil {
		return rep, nil
	}
	if err := e.postConfirmation(ctx, "PostConfirmation_ConfirmSignUp", clientID, name, metadata); err != nil {
		return nil, err
	}
	return rep, nil
}

// confirmUnconfirmed forwards the confirmation to moto if the user is
// UNCONFIRMED. moto confirms a user in any status; Cognito refuses, so a
// confirmed user never runs the post confirmation trigger twice. The check
// and moto's confirmation are one step under confirmMu, so concurrent
// confirmations of one user confirm it once. user is nil when moto answered
// (e.g. UserNotFoundException).
func (e *Endpoint) confirmUnconfirmed(r *http.Request, body []byte, username string) (*cip.AdminGetUserOutput, *reply, error) {
	e.confirmMu.Lock()
	defer e.confirmMu.Unlock()
	user, err := e.cfg.Users.AdminGetUser(r.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username)})
	var notFound *ciptypes.UserNotFoundException
	if errors.As(err, &notFound) {
		rep, err := e.forward(r, body) // moto answers UserNotFoundException
		return nil, rep, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up user before confirmation: %w", err)
	}
	if user.UserStatus != ciptypes.UserStatusTypeUnconfirmed {
		return nil, nil, &apiError{http.StatusBadRequest, "NotAuthorizedException", "User cannot be confirmed. Current status is " + string(user.UserStatus)}
	}
	rep, err := e.forward(r, body)
	if err != nil {
		return nil, nil, err
	}
	return user, rep, nil
}

// verifyCodeDestination marks verified the attribute the sign-up code was
// sent to: with the code "they confirm ownership of the email address or
// phone number that they provided" (API_ConfirmSignUp), and Cognito "updates
// the user attributes to indicate that the email address or phone number is
// verified" (https://repost.aws/knowledge-center/cognito-confirm-account);
// confirming as an administrator verifies nothing. With both attributes
// auto-verified, Cognito verifies only the phone number (AWS CDK
// AutoVerifiedAttrs docs).
func (e *Endpoint) verifyCodeDestination(ctx context.Context, username string, attrs map[string]string) error {
	var flag string
	switch {
	case slices.Contains(e.cfg.AutoVerifiedAttributes, "phone_number") && attrs["phone_number"] != "":
		flag = "phone_number_verified"
	case slices.Contains(e.cfg.AutoVerifiedAttributes, "email") && attrs["email"] != "":
		flag = "email_verified"
	default:
		return nil
	}
	if _, err := e.cfg.Users.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
		UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username),
		UserAttributes: []ciptypes.AttributeType{{Name: aws.String(flag), Value: aws.String("true")}},
	}); err != nil {
		return fmt.Errorf("verify %s after confirmation: %w", flag, err)
	}
	return nil
}

type confirmForgotPasswordInput struct {
	ClientID         string            `json:"ClientId"`
	Username         string            `json:"Username"`
	ConfirmationCode string            `json:"ConfirmationCode"`
	ClientMetadata   map[string]string `json:"ClientMetadata"`
}

// confirmForgotPassword runs the post confirmation trigger after moto has
// set the new password.
func (e *Endpoint) confirmForgotPassword(r *http.Request, body []byte) (*reply, error) {
	var in confirmForgotPasswordInput
	if err := json.Unmarshal(body, &in); err != nil || e.cfg.PostConfirmation == nil || !slices.Contains(e.cfg.ClientIDs, in.ClientID) {
		return e.forward(r, body)
	}
	rep, err := e.forward(r, body)
	if err != nil || rep.status != http.StatusOK {
		return rep, err
	}
	user, err := e.cfg.Users.AdminGetUser(r.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(in.Username)})
	if err != nil {
		return nil, fmt.Errorf("look up user after password reset: %w", err)
	}
	if err := e.postConfirmation(r.Context(), "PostConfirmation_ConfirmForgotPassword", in.ClientID, aws.ToString(user.Username), in.ClientMetadata); err != nil {
		return nil, err
	}
	return rep, nil
}

// postConfirmation invokes the trigger with the user's current attributes
// (read after the confirmation, so including sub, email_verified and custom
// attributes) plus cognito:user_status, as Cognito sends them.
func (e *Endpoint) postConfirmation(ctx context.Context, source, clientID, username string, metadata map[string]string) error {
	user, err := e.cfg.Users.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username)})
	if err != nil {
		return fmt.Errorf("look up user for post confirmation: %w", err)
	}
	attrs := userAttrMap(user.UserAttributes)
	attrs["cognito:user_status"] = string(user.UserStatus)
	ev := events.CognitoEventUserPoolsPostConfirmation{
		CognitoEventUserPoolsHeader: e.header(source, clientID, aws.ToString(user.Username)),
		Request: events.CognitoEventUserPoolsPostConfirmationRequest{
			UserAttributes: attrs,
			ClientMetadata: metadata,
		},
	}
	var out events.CognitoEventUserPoolsPostConfirmation
	return e.invoke(ctx, "PostConfirmation", e.cfg.PostConfirmation, ev, &out)
}
