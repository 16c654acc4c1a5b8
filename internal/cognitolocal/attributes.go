package cognitolocal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// Attribute updates, as the Cognito API reference documents them:
//
//   - UserAttributeUpdateSettingsType: with AttributesRequireVerificationBeforeUpdate,
//     "Amazon Cognito doesn’t change the value of the attribute until your
//     user responds to the verification message and confirms the new value.
//     You can verify an updated email address or phone number with a
//     VerifyUserAttribute API request. You can also call the
//     AdminUpdateUserAttributes API and set email_verified or
//     phone_number_verified to true." Without it, "API operations that change
//     attribute values can immediately update a user’s email or phone_number".
//   - UpdateUserAttributes / AdminUpdateUserAttributes, UserAttributes: "Your
//     user can sign in and receive messages with the original attribute value
//     until they verify the new value"; "To skip the verification message and
//     update the value ... in the same API request, include the
//     email_verified or phone_number_verified attribute, with a value of true".
//   - VerifyUserAttribute: "the attribute email_verified or
//     phone_number_verified becomes true. If your user pool requires
//     verification before Amazon Cognito updates the attribute value, this
//     operation updates the affected attribute to its pending value."
//   - "When a user updates their email address, Amazon Cognito changes the
//     email_verified attribute to unverified"
//     (https://repost.aws/knowledge-center/cognito-email-verified-attribute).
//   - SchemaAttributeType.Mutable: "If an attribute is immutable, Amazon
//     Cognito throws an error when it attempts to update the attribute."

// verifiedFlag maps each verifiable attribute to its verification flag.
var verifiedFlag = map[string]string{"email": "email_verified", "phone_number": "phone_number_verified"}

// verifiable lists verifiedFlag's keys in a fixed order.
var verifiable = []string{"email", "phone_number"}

// pendingKey names an attribute value awaiting verification.
type pendingKey struct{ pool, username, attr string }

func (e *Endpoint) pendingValue(username, attr string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.pending[pendingKey{e.cfg.UserPoolID, username, attr}]
	return v, ok
}

func (e *Endpoint) setPending(username, attr, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pending[pendingKey{e.cfg.UserPoolID, username, attr}] = v
}

// clearPending drops the pending value of attr; with only non-nil, only if
// the value is still *only (a concurrent update may have replaced it).
func (e *Endpoint) clearPending(username, attr string, only *string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := pendingKey{e.cfg.UserPoolID, username, attr}
	if only == nil || e.pending[k] == *only {
		delete(e.pending, k)
	}
}

// ownsToken reports whether an access token was issued by the configured
// pool (its iss claim ends in the pool id). The signature is not checked
// here: moto checks the token when the endpoint uses it.
func (e *Endpoint) ownsToken(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return false
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	return json.Unmarshal(b, &claims) == nil && strings.HasSuffix(claims.Iss, "/"+e.cfg.UserPoolID)
}

// maxTokens bounds the token cache (local use: a handful of sessions).
const maxTokens = 10000

// tokenUser resolves an access token of the configured pool to the user's
// user name and current attributes. moto validates the token (GetUser), but
// binds it to the alias it was signed in with, so once the e-mail address
// changes moto no longer finds the user; Cognito's token stays the user's.
// So the user name of every token moto has validated is remembered, and
// used when moto then answers UserNotFoundException for it. Any other error
// (revoked, expired, malformed token) is moto's answer.
func (e *Endpoint) tokenUser(ctx context.Context, token string) (username string, attrs map[string]string, err error) {
	user, err := e.cfg.Users.GetUser(ctx, &cip.GetUserInput{AccessToken: aws.String(token)})
	if err == nil {
		username = aws.ToString(user.Username)
		e.mu.Lock()
		if len(e.tokens) >= maxTokens {
			clear(e.tokens)
		}
		e.tokens[token] = username
		e.mu.Unlock()
		return username, userAttrMap(user.UserAttributes), nil
	}
	var notFound *ciptypes.UserNotFoundException
	e.mu.Lock()
	known, ok := e.tokens[token]
	e.mu.Unlock()
	if !errors.As(err, &notFound) || !ok {
		return "", nil, upstreamError("look up signed-in user", err)
	}
	got, gerr := e.cfg.Users.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(known)})
	if gerr != nil {
		return "", nil, upstreamError("look up signed-in user", gerr)
	}
	if !got.Enabled {
		return "", nil, &apiError{http.StatusBadRequest, "NotAuthorizedException", "User is disabled."}
	}
	return aws.ToString(got.Username), userAttrMap(got.UserAttributes), nil
}

// codeDelivery is Cognito's CodeDeliveryDetailsType.
type codeDelivery struct {
	Destination    string `json:"Destination"`
	DeliveryMedium string `json:"DeliveryMedium"`
	AttributeName  string `json:"AttributeName"`
}

// deliveryTo describes the (locally never sent) code for attr's value, with
// the destination masked as Cognito masks it ("a***@e***").
func deliveryTo(attr, value string) codeDelivery {
	if attr == "phone_number" {
		r := []rune(value)
		dest := "+*******"
		if len(r) > 4 {
			dest += string(r[len(r)-4:])
		}
		return codeDelivery{Destination: dest, DeliveryMedium: "SMS", AttributeName: attr}
	}
	dest := "***"
	if local, domain, ok := strings.Cut(value, "@"); ok && local != "" && domain != "" {
		dest = string([]rune(local)[:1]) + "***@" + string([]rune(domain)[:1]) + "***"
	}
	return codeDelivery{Destination: dest, DeliveryMedium: "EMAIL", AttributeName: attr}
}

type updateAttributesInput struct {
	AccessToken    string      `json:"AccessToken"`
	UserPoolID     string      `json:"UserPoolId"`
	Username       string      `json:"Username"`
	UserAttributes []attribute `json:"UserAttributes"`
}

// updateUserAttributes serves UpdateUserAttributes (the signed-in user,
// admin false) and AdminUpdateUserAttributes (admin true) for the
// configured pool: refuses immutable attributes, keeps changes to
// attributes that require verification pending, marks other changed e-mail
// addresses and phone numbers unverified, and forwards the rest to moto.
func (e *Endpoint) updateUserAttributes(r *http.Request, admin bool, body []byte) (*reply, error) {
	var in updateAttributesInput
	if err := json.Unmarshal(body, &in); err != nil || e.cfg.Users == nil {
		return e.forward(r, body)
	}
	if admin && in.UserPoolID != e.cfg.UserPoolID || !admin && !e.ownsToken(in.AccessToken) {
		return e.forward(r, body)
	}
	var username string
	var current map[string]string
	if admin {
		user, err := e.cfg.Users.AdminGetUser(r.Context(), &cip.AdminGetUserInput{UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(in.Username)})
		var notFound *ciptypes.UserNotFoundException
		if errors.As(err, &notFound) {
			return e.forward(r, body) // moto answers UserNotFoundException
		}
		if err != nil {
			return nil, fmt.Errorf("look up user before attribute update: %w", err)
		}
		username, current = aws.ToString(user.Username), userAttrMap(user.UserAttributes)
	} else {
		var err error
		if username, current, err = e.tokenUser(r.Context(), in.AccessToken); err != nil {
			return nil, err
		}
	}
	for _, a := range in.UserAttributes {
		if a.Value == "" && slices.Contains(e.cfg.RequiredAttributes, a.Name) {
			// Cognito's wording for a required attribute left empty.
			return nil, &apiError{http.StatusBadRequest, "InvalidParameterException", "Attributes did not conform to the schema: " + a.Name + ": The attribute is required"}
		}
		if slices.Contains(e.cfg.ImmutableAttributes, a.Name) {
			// The wording Cognito answers with (not in its docs: seen from
			// live pools, e.g. aws-amplify/amplify-swift#3981).
			return nil, &apiError{http.StatusBadRequest, "InvalidParameterException", "user." + a.Name + ": Attribute cannot be updated."}
		}
	}
	if !admin {
		if err := refuseVerificationFlags(in.UserAttributes); err != nil {
			return nil, err
		}
	}

	req := attrMap(in.UserAttributes)
	drop := map[string]bool{}
	var add []attribute
	var codes []codeDelivery
	type pendingChange struct{ attr, value string }
	var toPend []pendingChange
	var toClear []string
	for _, name := range verifiable {
		flag := verifiedFlag[name]
		value, inRequest := req[name]
		// Exactly "true", as the triggers read it: "True" verifies nothing.
		flagTrue := admin && req[flag] == "true"
		requires := slices.Contains(e.cfg.AttributesRequireVerificationBeforeUpdate, name)
		switch {
		case !inRequest:
			// An administrator verifying the pending value.
			if v, ok := e.pendingValue(username, name); ok && flagTrue && requires {
				add = append(add, attribute{Name: name, Value: v})
				toClear = append(toClear, name)
			}
		case value == current[name]:
			toClear = append(toClear, name) // back to the active value: nothing pending
		case value == "":
			toClear = append(toClear, name) // deleting applies at once
		case requires && !flagTrue:
			drop[name] = true
			toPend = append(toPend, pendingChange{name, value})
			if slices.Contains(e.cfg.AutoVerifiedAttributes, name) {
				codes = append(codes, deliveryTo(name, value))
			}
		default:
			toClear = append(toClear, name)
			if flagTrue {
				break
			}
			if _, set := req[flag]; !set {
				add = append(add, attribute{Name: flag, Value: "false"})
			}
			if slices.Contains(e.cfg.AutoVerifiedAttributes, name) {
				codes = append(codes, deliveryTo(name, value))
			}
		}
	}

	out := make([]attribute, 0, len(in.UserAttributes)+len(add))
	for _, a := range in.UserAttributes {
		if !drop[a.Name] {
			out = append(out, a)
		}
	}
	out = append(out, add...)
	var rep *reply
	if admin {
		if len(drop) > 0 || len(add) > 0 {
			var err error
			if body, err = withAttributes(body, out); err != nil {
				return nil, err
			}
		}
		var err error
		if rep, err = e.forward(r, body); err != nil || rep.status != http.StatusOK {
			return rep, err
		}
	} else {
		// The user's own update goes through the admin API: moto would
		// look the token up by the alias it was issued for (see tokenUser).
		if len(out) > 0 {
			update := make([]ciptypes.AttributeType, len(out))
			for i, a := range out {
				update[i] = ciptypes.AttributeType{Name: aws.String(a.Name), Value: aws.String(a.Value)}
			}
			if _, err := e.cfg.Users.AdminUpdateUserAttributes(r.Context(), &cip.AdminUpdateUserAttributesInput{
				UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username), UserAttributes: update,
			}); err != nil {
				return nil, upstreamError("update attributes", err)
			}
		}
		// UpdateUserAttributesResponse.CodeDeliveryDetailsList: where the
		// code confirming each new value went.
		resp := map[string]any{}
		if len(codes) > 0 {
			resp["CodeDeliveryDetailsList"] = codes
		}
		var err error
		if rep, err = jsonReply(resp); err != nil {
			return nil, err
		}
	}
	for _, c := range toPend {
		e.setPending(username, c.attr, c.value)
	}
	for _, name := range toClear {
		e.clearPending(username, name, nil)
	}
	return rep, nil
}

// withAttributes returns the request body with UserAttributes replaced.
func withAttributes(body []byte, attrs []attribute) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("encode attributes: %w", err)
	}
	m["UserAttributes"] = b
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return out, nil
}

type attributeCodeInput struct {
	AccessToken   string `json:"AccessToken"`
	AttributeName string `json:"AttributeName"`
	Code          string `json:"Code"`
}

// signedInUser resolves an access token of the configured pool; ok is false
// when the call is not for this pool (forward it).
func (e *Endpoint) signedInUser(r *http.Request, body []byte, in *attributeCodeInput) (username string, attrs map[string]string, ok bool, err error) {
	if err := json.Unmarshal(body, in); err != nil || e.cfg.Users == nil || !e.ownsToken(in.AccessToken) {
		return "", nil, false, nil
	}
	if username, attrs, err = e.tokenUser(r.Context(), in.AccessToken); err != nil {
		return "", nil, true, err
	}
	if _, known := verifiedFlag[in.AttributeName]; !known {
		return "", nil, true, &apiError{http.StatusBadRequest, "InvalidParameterException", "Attribute " + in.AttributeName + " cannot be verified."}
	}
	return username, attrs, true, nil
}

// verifyUserAttribute verifies the user's email or phone_number with a code
// (any non-empty code locally), applying a pending value if there is one.
func (e *Endpoint) verifyUserAttribute(r *http.Request, body []byte) (*reply, error) {
	var in attributeCodeInput
	username, attrs, ok, err := e.signedInUser(r, body, &in)
	if !ok {
		return e.forward(r, body)
	}
	if err != nil {
		return nil, err
	}
	if in.Code == "" {
		return nil, errCodeMismatch
	}
	var update []ciptypes.AttributeType
	pending, isPending := e.pendingValue(username, in.AttributeName)
	switch {
	case isPending:
		update = append(update, ciptypes.AttributeType{Name: aws.String(in.AttributeName), Value: aws.String(pending)})
	case attrs[in.AttributeName] == "":
		return nil, &apiError{http.StatusBadRequest, "InvalidParameterException", "User has no attribute " + in.AttributeName + " to verify."}
	}
	update = append(update, ciptypes.AttributeType{Name: aws.String(verifiedFlag[in.AttributeName]), Value: aws.String("true")})
	if _, err := e.cfg.Users.AdminUpdateUserAttributes(r.Context(), &cip.AdminUpdateUserAttributesInput{
		UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username), UserAttributes: update,
	}); err != nil {
		return nil, upstreamError("verify attribute", err)
	}
	if isPending {
		e.clearPending(username, in.AttributeName, &pending)
	}
	return jsonReply(struct{}{})
}

// getUserAttributeVerificationCode answers where the verification code went
// (the pending value if there is one); nothing is sent locally.
func (e *Endpoint) getUserAttributeVerificationCode(r *http.Request, body []byte) (*reply, error) {
	var in attributeCodeInput
	username, attrs, ok, err := e.signedInUser(r, body, &in)
	if !ok {
		return e.forward(r, body)
	}
	if err != nil {
		return nil, err
	}
	value, isPending := e.pendingValue(username, in.AttributeName)
	if !isPending {
		value = attrs[in.AttributeName]
	}
	if value == "" {
		return nil, &apiError{http.StatusBadRequest, "InvalidParameterException", "User has no attribute " + in.AttributeName + " to verify."}
	}
	return jsonReply(map[string]codeDelivery{"CodeDeliveryDetails": deliveryTo(in.AttributeName, value)})
}
