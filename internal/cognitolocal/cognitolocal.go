// Package cognitolocal is a Cognito-compatible endpoint for the local stack:
// it speaks the AWS JSON 1.1 protocol of Amazon Cognito user pools
// (X-Amz-Target: AWSCognitoIdentityProviderService.*) that `aws cognito-idp
// --endpoint-url` and the SDKs use, forwards every call to moto_server, and
// adds what Cognito does and moto does not:
//
//   - Lambda triggers, invoked in-process with Cognito's event shapes: pre
//     sign-up around SignUp and AdminCreateUser, pre authentication around
//     InitiateAuth and AdminInitiateAuth, post confirmation after
//     ConfirmSignUp, AdminConfirmSignUp and ConfirmForgotPassword. A refusal
//     is Cognito's 400 UserLambdaValidationException "PreSignUp failed with
//     error <message>." (PreAuthentication, PostConfirmation likewise); a
//     failed post confirmation trigger leaves the user confirmed.
//   - Confirmation: ConfirmSignUp and AdminConfirmSignUp refuse a user who is
//     not UNCONFIRMED; ConfirmSignUp marks verified the auto-verified attribute
//     the code was sent to (email_verified=true); AdminConfirmSignUp verifies
//     nothing.
//   - Sign-up records the e-mail address and phone number as unverified, and
//     refuses an app client's write of email_verified or phone_number_verified.
//   - Attribute updates: a changed email or phone_number becomes unverified;
//     when the pool requires verification before update, the new value is
//     held as pending (in this endpoint's memory, lost on restart) and the
//     original value stays active until VerifyUserAttribute, or
//     AdminUpdateUserAttributes with email_verified=true, applies it.
//     VerifyUserAttribute and GetUserAttributeVerificationCode (which moto
//     lacks) are served here. Writes to immutable attributes (custom:region)
//     are refused, as are users' own writes of the verification flags.
//
// There is no mail or SMS locally: codes are never sent, and any non-empty
// confirmation or verification code is accepted, as moto's ConfirmSignUp
// accepts any code.
//
// All this applies to the one user pool (and its app clients) the endpoint is
// configured with, and to the pools replicated to its region (Replica:
// Cognito multi-Region replication, served from the primary's moto pool with
// this region's pre authentication trigger, and no sign-up, password reset
// or profile change); calls for any other pool are forwarded untouched.
// SetDown emulates the region's outage.
package cognitolocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"
)

// Trigger invokes a Lambda trigger in-process: JSON event in, JSON event out,
// e.g. lambda.NewHandler(h.Handle).Invoke.
type Trigger func(ctx context.Context, payload []byte) ([]byte, error)

// Users is the part of the Cognito API, served by moto, that the endpoint
// calls itself (a *cognitoidentityprovider.Client pointed at moto satisfies it).
type Users interface {
	AdminGetUser(ctx context.Context, in *cip.AdminGetUserInput, optFns ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	AdminConfirmSignUp(ctx context.Context, in *cip.AdminConfirmSignUpInput, optFns ...func(*cip.Options)) (*cip.AdminConfirmSignUpOutput, error)
	AdminUpdateUserAttributes(ctx context.Context, in *cip.AdminUpdateUserAttributesInput, optFns ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error)
	GetUser(ctx context.Context, in *cip.GetUserInput, optFns ...func(*cip.Options)) (*cip.GetUserOutput, error)
}

// DefaultTriggerTimeout is how long Cognito waits for a trigger.
const DefaultTriggerTimeout = 5 * time.Second

// maxBody bounds a request body (Cognito requests are small).
const maxBody = 1 << 20

const targetPrefix = "AWSCognitoIdentityProviderService."

// Config configures an Endpoint.
type Config struct {
	// Region is the user pool's region (the event's "region").
	Region string
	// UserPoolID is the pool the triggers are attached to.
	UserPoolID string
	// ClientIDs are the pool's app clients (SignUp and InitiateAuth name a client, not a pool).
	ClientIDs []string
	// Upstream is moto_server's URL, e.g. http://127.0.0.1:5000.
	Upstream string
	// PreSignUp and PreAuthentication are the triggers; nil means none.
	PreSignUp, PreAuthentication Trigger
	// PostConfirmation is the post confirmation trigger; nil means none.
	PostConfirmation Trigger
	// Users reads, confirms and updates users in moto. Required with any
	// trigger or attribute setting below.
	Users Users
	// AutoVerifiedAttributes is the pool's AutoVerifiedAttributes ("email",
	// "phone_number"): where Cognito sends confirmation and verification
	// codes, so the attribute ConfirmSignUp marks verified.
	AutoVerifiedAttributes []string
	// AttributesRequireVerificationBeforeUpdate is the pool's
	// UserAttributeUpdateSettings: changes to these attributes ("email",
	// "phone_number") stay pending until verified.
	AttributesRequireVerificationBeforeUpdate []string
	// ImmutableAttributes are the pool's schema attributes with Mutable
	// false (e.g. "custom:region"), which no update may write.
	ImmutableAttributes []string
	// RequiredAttributes are the pool's schema attributes with Required
	// true (e.g. "email"), which no update may delete.
	RequiredAttributes []string
	// PasswordPolicy is the pool's policy; Cognito checks it before the
	// pre sign-up trigger runs (nil: moto checks it, after the trigger).
	PasswordPolicy *ciptypes.PasswordPolicyType
	// PreventUserExistenceErrors is the app client's setting: when set, a
	// sign-in of an unknown user runs the pre authentication trigger with
	// userNotFound and fails with Cognito's generic NotAuthorizedException.
	PreventUserExistenceErrors bool
	// ExplicitAuthFlows are the app clients' ExplicitAuthFlows by client id
	// (DescribeUserPoolClient, see FromUserPoolClient); InitiateAuth and
	// AdminInitiateAuth with a flow the client does not enable are refused
	// as Cognito refuses them. A client without an entry is not checked.
	ExplicitAuthFlows map[string][]string
	// SignInUnavailable is the PreAuthentication trigger's message when its
	// store cannot be reached. Locally moto is Cognito's store and the
	// registry at once: when it cannot be reached on a sign-in, the endpoint
	// answers as Cognito does when the trigger fails with this message.
	// Empty: InternalErrorException.
	SignInUnavailable string
	// HTTPClient forwards calls to Upstream; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// TriggerTimeout bounds a trigger invocation; 0 means DefaultTriggerTimeout.
	TriggerTimeout time.Duration
	// Logger receives one line per call (operation, status, duration; never
	// user names, e-mails or tokens); nil discards.
	Logger *slog.Logger
	// Replicas are other regions' pools replicated to Region (Cognito
	// multi-Region replication): see Replica.
	Replicas []Replica
}

// FromUserPool sets what Cognito enforces from the pool's settings as
// DescribeUserPool reports them: PasswordPolicy, AutoVerifiedAttributes,
// AttributesRequireVerificationBeforeUpdate (UserAttributeUpdateSettings)
// ImmutableAttributes (the SchemaAttributes with Mutable false) and
// RequiredAttributes (those with Required true).
func (c *Config) FromUserPool(p *ciptypes.UserPoolType) {
	if p == nil {
		return
	}
	c.PasswordPolicy = nil
	if p.Policies != nil {
		c.PasswordPolicy = p.Policies.PasswordPolicy
	}
	c.AutoVerifiedAttributes = nil
	for _, a := range p.AutoVerifiedAttributes {
		c.AutoVerifiedAttributes = append(c.AutoVerifiedAttributes, string(a))
	}
	c.AttributesRequireVerificationBeforeUpdate = nil
	if s := p.UserAttributeUpdateSettings; s != nil {
		for _, a := range s.AttributesRequireVerificationBeforeUpdate {
			c.AttributesRequireVerificationBeforeUpdate = append(c.AttributesRequireVerificationBeforeUpdate, string(a))
		}
	}
	c.ImmutableAttributes, c.RequiredAttributes = nil, nil
	for _, a := range p.SchemaAttributes {
		if a.Mutable != nil && !*a.Mutable {
			c.ImmutableAttributes = append(c.ImmutableAttributes, aws.ToString(a.Name))
		}
		if aws.ToBool(a.Required) {
			c.RequiredAttributes = append(c.RequiredAttributes, aws.ToString(a.Name))
		}
	}
}

// Endpoint is an http.Handler serving the Cognito user pools API.
type Endpoint struct {
	cfg Config

	mu sync.Mutex
	// pending holds attribute values awaiting verification.
	pending map[pendingKey]string
	// tokens maps access tokens moto has validated to their user names.
	tokens map[string]string

	// confirmMu serialises confirmations: the status check and moto's
	// confirmation are one step, so concurrent calls confirm (and run the
	// post confirmation trigger) once, as Cognito does.
	confirmMu sync.Mutex

	// replicas are the pools replicated here (Config.Replicas).
	replicas []*replica
	// down is set while the region is down (SetDown).
	down atomic.Bool
}

// SetDown takes the endpoint's region down (true) or back up (false): while
// down, every call, for the region's own pool or a replica, is answered 503
// InternalErrorException, as by a Cognito regional outage. A replica of this
// region's pool served by another region's endpoint keeps working.
func (e *Endpoint) SetDown(down bool) { e.down.Store(down) }

// New checks cfg and returns an Endpoint.
func New(cfg Config) (*Endpoint, error) {
	switch {
	case cfg.Region == "":
		return nil, errors.New("cognitolocal: Region is required")
	case cfg.UserPoolID == "":
		return nil, errors.New("cognitolocal: UserPoolID is required")
	case cfg.Upstream == "":
		return nil, errors.New("cognitolocal: Upstream is required")
	case cfg.Users == nil && (cfg.PreSignUp != nil || cfg.PreAuthentication != nil || cfg.PostConfirmation != nil ||
		len(cfg.AutoVerifiedAttributes) > 0 || len(cfg.AttributesRequireVerificationBeforeUpdate) > 0 || len(cfg.ImmutableAttributes) > 0):
		return nil, errors.New("cognitolocal: Users is required with triggers or attribute settings")
	}
	cfg.Upstream = strings.TrimRight(cfg.Upstream, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.TriggerTimeout == 0 {
		cfg.TriggerTimeout = DefaultTriggerTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	replicas, err := newReplicas(cfg)
	if err != nil {
		return nil, err
	}
	return &Endpoint{cfg: cfg, pending: map[pendingKey]string{}, tokens: map[string]string{}, replicas: replicas}, nil
}

// apiError is a Cognito error answered in the AWS JSON protocol.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// reply is a response to write: either forwarded from moto or built here.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// ServeHTTP answers one Cognito API call.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	rep, err := e.serve(r, op)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			e.cfg.Logger.Error("cognito call failed", "op", op, "err", err)
			ae = &apiError{http.StatusInternalServerError, "InternalErrorException", "Internal error in the local Cognito endpoint."}
		}
		rep = errorReply(ae)
	}
	for k, vs := range rep.header {
		if hopByHop[http.CanonicalHeaderKey(k)] || strings.EqualFold(k, "Content-Length") {
			continue
		}
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
	e.cfg.Logger.Info("cognito", "op", op, "status", rep.status, "ms", time.Since(start).Milliseconds())
}

func (e *Endpoint) serve(r *http.Request, op string) (*reply, error) {
	if e.down.Load() {
		return nil, &apiError{http.StatusServiceUnavailable, "InternalErrorException", "The local Cognito endpoint of " + e.cfg.Region + " is down."}
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix) {
		// Not an API call (e.g. the JWKS at /<pool>/.well-known/jwks.json): moto answers.
		return e.forward(r, nil)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, "InvalidParameterException", "Could not read the request body."}
	}
	if len(body) > maxBody {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "InvalidParameterException", "Request body too large."}
	}
	if rp := e.replicaFor(body); rp != nil {
		return rp.serve(r, op, body)
	}
	return e.dispatch(r, op, body)
}

// dispatch answers an API call for the endpoint's pool (or any pool it does
// not know, forwarded untouched).
func (e *Endpoint) dispatch(r *http.Request, op string, body []byte) (*reply, error) {
	switch op {
	case "SignUp":
		return e.signUp(r, body)
	case "AdminCreateUser":
		return e.adminCreateUser(r, body)
	case "InitiateAuth", "AdminInitiateAuth":
		return e.initiateAuth(r, op, body)
	case "ConfirmSignUp":
		return e.confirmSignUp(r, body)
	case "AdminConfirmSignUp":
		return e.adminConfirmSignUp(r, body)
	case "ConfirmForgotPassword":
		return e.confirmForgotPassword(r, body)
	case "UpdateUserAttributes", "AdminUpdateUserAttributes":
		return e.updateUserAttributes(r, op == "AdminUpdateUserAttributes", body)
	case "VerifyUserAttribute":
		return e.verifyUserAttribute(r, body)
	case "GetUserAttributeVerificationCode":
		return e.getUserAttributeVerificationCode(r, body)
	}
	return e.forward(r, body)
}

type attribute struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

func attrMap(as []attribute) map[string]string {
	m := make(map[string]string, len(as))
	for _, a := range as {
		m[a.Name] = a.Value
	}
	return m
}

// userAttrMap flattens a user's attributes as read from moto.
func userAttrMap(as []ciptypes.AttributeType) map[string]string {
	m := make(map[string]string, len(as)+1)
	for _, a := range as {
		m[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	return m
}

func attrMapOrNil(as []attribute) map[string]string {
	if len(as) == 0 {
		return nil
	}
	return attrMap(as)
}

type signUpInput struct {
	ClientID       string            `json:"ClientId"`
	Username       string            `json:"Username"`
	Password       string            `json:"Password"`
	UserAttributes []attribute       `json:"UserAttributes"`
	ValidationData []attribute       `json:"ValidationData"`
	ClientMetadata map[string]string `json:"ClientMetadata"`
}

func (e *Endpoint) signUp(r *http.Request, body []byte) (*reply, error) {
	var in signUpInput
	if err := json.Unmarshal(body, &in); err != nil || e.cfg.Users == nil || !slices.Contains(e.cfg.ClientIDs, in.ClientID) {
		return e.forward(r, body) // moto validates malformed input; other pools have no triggers here
	}
	attrs := attrMap(in.UserAttributes)
	if err := refuseVerificationFlags(in.UserAttributes); err != nil {
		return nil, err
	}
	var resp events.CognitoEventUserPoolsPreSignupResponse
	if e.cfg.PreSignUp != nil {
		if err := checkPassword(e.cfg.PasswordPolicy, in.Password); err != nil {
			return nil, err
		}
		ev := events.CognitoEventUserPoolsPreSignup{
			CognitoEventUserPoolsHeader: e.header("PreSignUp_SignUp", in.ClientID, uuid.NewString()),
			Request: events.CognitoEventUserPoolsPreSignupRequest{
				UserAttributes: attrs,
				ValidationData: attrMapOrNil(in.ValidationData),
				ClientMetadata: in.ClientMetadata,
			},
		}
		var out events.CognitoEventUserPoolsPreSignup
		if err := e.invoke(r.Context(), "PreSignUp", e.cfg.PreSignUp, ev, &out); err != nil {
			return nil, err
		}
		resp = out.Response
	}
	rep, err := e.forward(r, body)
	if err != nil || rep.status != http.StatusOK {
		return rep, err
	}
	return e.applySignUpResponse(r.Context(), in.Username, attrs, resp, rep)
}

// refuseVerificationFlags refuses an app client's write of email_verified or
// phone_number_verified: only verification or an administrator sets them
// (Cognito answers this, e.g. aws/aws-sdk-js#3603; moto stores them).
func refuseVerificationFlags(as []attribute) error {
	for _, a := range as {
		if a.Name == "email_verified" || a.Name == "phone_number_verified" {
			return &apiError{http.StatusBadRequest, "NotAuthorizedException", "A client attempted to write unauthorized attribute"}
		}
	}
	return nil
}

// applySignUpResponse records the new user's e-mail address and phone number
// as unverified (Cognito verifies them on confirmation; moto leaves the flags
// unset), or verified when the pre sign-up trigger answered
// autoVerifyEmail / autoVerifyPhone, and auto-confirms on autoConfirmUser.
func (e *Endpoint) applySignUpResponse(ctx context.Context, username string, attrs map[string]string, resp events.CognitoEventUserPoolsPreSignupResponse, rep *reply) (*reply, error) {
	var flags []ciptypes.AttributeType
	for _, f := range []struct {
		attr, flag string
		verified   bool
	}{{"email", "email_verified", resp.AutoVerifyEmail}, {"phone_number", "phone_number_verified", resp.AutoVerifyPhone}} {
		if attrs[f.attr] != "" || f.verified {
			flags = append(flags, ciptypes.AttributeType{Name: aws.String(f.flag), Value: aws.String(fmt.Sprint(f.verified))})
		}
	}
	if len(flags) > 0 {
		if _, err := e.cfg.Users.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
			UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username), UserAttributes: flags,
		}); err != nil {
			return nil, fmt.Errorf("record verification after sign-up: %w", err)
		}
	}
	if !resp.AutoConfirmUser {
		return rep, nil
	}
	if _, err := e.cfg.Users.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{
		UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username),
	}); err != nil {
		return nil, fmt.Errorf("auto-confirm after sign-up: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(rep.body, &out); err != nil {
		return nil, fmt.Errorf("decode moto SignUp response: %w", err)
	}
	out["UserConfirmed"] = true
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode SignUp response: %w", err)
	}
	rep.body = b
	return rep, nil
}

type adminCreateUserInput struct {
	UserPoolID     string            `json:"UserPoolId"`
	Username       string            `json:"Username"`
	UserAttributes []attribute       `json:"UserAttributes"`
	ValidationData []attribute       `json:"ValidationData"`
	ClientMetadata map[string]string `json:"ClientMetadata"`
}

func (e *Endpoint) adminCreateUser(r *http.Request, body []byte) (*reply, error) {
	var in adminCreateUserInput
	if err := json.Unmarshal(body, &in); err != nil || e.cfg.PreSignUp == nil || in.UserPoolID != e.cfg.UserPoolID {
		return e.forward(r, body)
	}
	ev := events.CognitoEventUserPoolsPreSignup{
		CognitoEventUserPoolsHeader: e.header("PreSignUp_AdminCreateUser", "CLIENT_ID_NOT_APPLICABLE", uuid.NewString()),
		Request: events.CognitoEventUserPoolsPreSignupRequest{
			UserAttributes: attrMap(in.UserAttributes),
			ValidationData: attrMapOrNil(in.ValidationData),
			ClientMetadata: in.ClientMetadata,
		},
	}
	var out events.CognitoEventUserPoolsPreSignup
	if err := e.invoke(r.Context(), "PreSignUp", e.cfg.PreSignUp, ev, &out); err != nil {
		return nil, err
	}
	return e.forward(r, body)
}

type initiateAuthInput struct {
	AuthFlow       string            `json:"AuthFlow"`
	AuthParameters map[string]string `json:"AuthParameters"`
	ClientID       string            `json:"ClientId"`
	UserPoolID     string            `json:"UserPoolId"`
	ClientMetadata map[string]string `json:"ClientMetadata"`
}

// passwordFlows are the flows that start a sign-in (token refresh does not
// run the pre authentication trigger).
var passwordFlows = []string{"USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "USER_SRP_AUTH", "USER_AUTH"}

// flowSetting is the ExplicitAuthFlows values that enable an AuthFlow: the
// ALLOW_ setting and its legacy name
// (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html).
var flowSetting = map[string][]string{
	"USER_PASSWORD_AUTH":       {"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"},
	"ADMIN_USER_PASSWORD_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
	"ADMIN_NO_SRP_AUTH":        {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
	"USER_SRP_AUTH":            {"ALLOW_USER_SRP_AUTH"},
	"REFRESH_TOKEN_AUTH":       {"ALLOW_REFRESH_TOKEN_AUTH"},
	"REFRESH_TOKEN":            {"ALLOW_REFRESH_TOKEN_AUTH"},
	"CUSTOM_AUTH":              {"ALLOW_CUSTOM_AUTH", "CUSTOM_AUTH_FLOW_ONLY"},
	"USER_AUTH":                {"ALLOW_USER_AUTH"},
}

// checkFlow refuses a flow the app client does not enable, as Cognito does:
// InvalidParameterException "USER_PASSWORD_AUTH flow not enabled for this
// client", "Auth flow not enabled for this client" for the others (Cognito's
// answers as seen from the service; the API reference names only the
// exception).
func (e *Endpoint) checkFlow(clientID, flow string) error {
	enabled, ok := e.cfg.ExplicitAuthFlows[clientID]
	if !ok {
		return nil
	}
	for _, s := range flowSetting[flow] {
		if slices.Contains(enabled, s) {
			return nil
		}
	}
	msg := "Auth flow not enabled for this client"
	if flow == "USER_PASSWORD_AUTH" {
		msg = "USER_PASSWORD_AUTH flow not enabled for this client"
	}
	return &apiError{http.StatusBadRequest, "InvalidParameterException", msg}
}

// FromUserPoolClient sets what Cognito enforces from an app client's settings
// as DescribeUserPoolClient reports them: ExplicitAuthFlows and
// PreventUserExistenceErrors.
func (c *Config) FromUserPoolClient(pc *ciptypes.UserPoolClientType) {
	if pc == nil || pc.ClientId == nil {
		return
	}
	if c.ExplicitAuthFlows == nil {
		c.ExplicitAuthFlows = map[string][]string{}
	}
	flows := make([]string, 0, len(pc.ExplicitAuthFlows))
	for _, f := range pc.ExplicitAuthFlows {
		flows = append(flows, string(f))
	}
	c.ExplicitAuthFlows[*pc.ClientId] = flows
	c.PreventUserExistenceErrors = pc.PreventUserExistenceErrors == ciptypes.PreventUserExistenceErrorTypesEnabled
}

func (e *Endpoint) initiateAuth(r *http.Request, op string, body []byte) (*reply, error) {
	var in initiateAuthInput
	if err := json.Unmarshal(body, &in); err != nil {
		return e.forward(r, body)
	}
	// Only this endpoint's pool and app clients get Cognito's checks and triggers.
	if !(op == "AdminInitiateAuth" && in.UserPoolID == e.cfg.UserPoolID || op == "InitiateAuth" && slices.Contains(e.cfg.ClientIDs, in.ClientID)) {
		return e.forward(r, body)
	}
	if err := e.checkFlow(in.ClientID, in.AuthFlow); err != nil {
		return nil, err
	}
	if e.cfg.PreAuthentication == nil || !slices.Contains(passwordFlows, in.AuthFlow) {
		return e.forward(r, body)
	}
	username := in.AuthParameters["USERNAME"]
	if username == "" {
		return e.forward(r, body)
	}
	user, err := e.cfg.Users.AdminGetUser(r.Context(), &cip.AdminGetUserInput{
		UserPoolId: aws.String(e.cfg.UserPoolID), Username: aws.String(username),
	})
	var notFound *ciptypes.UserNotFoundException
	if errors.As(err, &notFound) {
		if !e.cfg.PreventUserExistenceErrors {
			// Cognito does not run the trigger for an unknown user: moto answers.
			return e.forward(r, body)
		}
		ev := events.CognitoEventUserPoolsPreAuthentication{
			CognitoEventUserPoolsHeader: e.header("PreAuthentication_Authentication", in.ClientID, username),
			Request: events.CognitoEventUserPoolsPreAuthenticationRequest{
				UserAttributes: map[string]string{}, ValidationData: in.ClientMetadata, UserNotFound: true,
			},
		}
		var out events.CognitoEventUserPoolsPreAuthentication
		if err := e.invoke(r.Context(), "PreAuthentication", e.cfg.PreAuthentication, ev, &out); err != nil {
			return nil, err
		}
		return nil, &apiError{http.StatusBadRequest, "NotAuthorizedException", "Incorrect username or password."}
	}
	if err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) && r.Context().Err() == nil && e.cfg.SignInUnavailable != "" {
			// moto unreachable: in AWS the user store is Cognito's and stays
			// up while the trigger's registry may not; the user sees the
			// trigger's "temporarily unavailable" either way.
			e.cfg.Logger.Error("look up user before pre authentication", "err", err)
			return nil, triggerFailed("PreAuthentication", e.cfg.SignInUnavailable)
		}
		return nil, fmt.Errorf("look up user before pre authentication: %w", err)
	}
	attrs := userAttrMap(user.UserAttributes)
	attrs["cognito:user_status"] = string(user.UserStatus)
	ev := events.CognitoEventUserPoolsPreAuthentication{
		CognitoEventUserPoolsHeader: e.header("PreAuthentication_Authentication", in.ClientID, aws.ToString(user.Username)),
		Request: events.CognitoEventUserPoolsPreAuthenticationRequest{
			UserAttributes: attrs,
			ValidationData: in.ClientMetadata,
		},
	}
	var out events.CognitoEventUserPoolsPreAuthentication
	if err := e.invoke(r.Context(), "PreAuthentication", e.cfg.PreAuthentication, ev, &out); err != nil {
		return nil, err
	}
	return e.forward(r, body)
}

func (e *Endpoint) header(source, clientID, userName string) events.CognitoEventUserPoolsHeader {
	return events.CognitoEventUserPoolsHeader{
		Version:       "1",
		TriggerSource: source,
		Region:        e.cfg.Region,
		UserPoolID:    e.cfg.UserPoolID,
		CallerContext: events.CognitoEventUserPoolsCallerContext{AWSSDKVersion: "aws-sdk-unknown-unknown", ClientID: clientID},
		UserName:      userName,
	}
}

// invoke runs a trigger with event and decodes its answer into out, mapping
// failures to the errors Cognito returns.
func (e *Endpoint) invoke(ctx context.Context, name string, t Trigger, event, out any) (err error) {
	payload, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.TriggerTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			e.cfg.Logger.Error("trigger panicked", "trigger", name, "panic", fmt.Sprint(p))
			err = &apiError{http.StatusBadRequest, "UnexpectedLambdaException", name + " invocation failed due to error Unhandled."}
		}
	}()
	resp, terr := t(ctx, payload)
	if terr != nil {
		if ctx.Err() != nil {
			return &apiError{http.StatusBadRequest, "UnexpectedLambdaException", name + " invocation failed due to error TimeoutError."}
		}
		return triggerFailed(name, terr.Error())
	}
	if err := json.Unmarshal(resp, out); err != nil || !json.Valid(resp) || bytes.TrimSpace(resp)[0] != '{' {
		return &apiError{http.StatusBadRequest, "InvalidLambdaResponseException", "Unrecognizable lambda output"}
	}
	return nil
}

// triggerFailed is Cognito's answer when a trigger returns an error.
func triggerFailed(name, msg string) error {
	return &apiError{http.StatusBadRequest, "UserLambdaValidationException", fmt.Sprintf("%s failed with error %s.", name, msg)}
}

// checkPassword applies the pool's password policy with Cognito's messages.
func checkPassword(p *ciptypes.PasswordPolicyType, pw string) error {
	if p == nil {
		return nil
	}
	fail := func(why string) error {
		return &apiError{http.StatusBadRequest, "InvalidPasswordException", "Password did not conform with policy: " + why}
	}
	has := func(f func(rune) bool) bool { return strings.IndexFunc(pw, f) >= 0 }
	switch {
	case len([]rune(pw)) < int(aws.ToInt32(p.MinimumLength)):
		return fail("Password not long enough")
	case p.RequireUppercase && !has(func(c rune) bool { return c >= 'A' && c <= 'Z' }):
		return fail("Password must have uppercase characters")
	case p.RequireLowercase && !has(func(c rune) bool { return c >= 'a' && c <= 'z' }):
		return fail("Password must have lowercase characters")
	case p.RequireNumbers && !has(func(c rune) bool { return c >= '0' && c <= '9' }):
		return fail("Password must have numeric characters")
	case p.RequireSymbols && !has(func(c rune) bool { return strings.ContainsRune(passwordSymbols, c) }):
		return fail("Password must have symbol characters")
	}
	return nil
}

// passwordSymbols are the characters Cognito counts as symbols.
const passwordSymbols = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- "

// hopByHop are headers a proxy must not forward.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// forward sends the call to moto unchanged (body nil: stream r.Body) and returns moto's answer.
func (e *Endpoint) forward(r *http.Request, body []byte) (*reply, error) {
	var rd io.Reader = r.Body
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, e.cfg.Upstream+r.URL.RequestURI(), rd)
	if err != nil {
		return nil, fmt.Errorf("build upstream request: %w", err)
	}
	for k, vs := range r.Header {
		if hopByHop[k] || k == "Content-Length" {
			continue
		}
		req.Header[k] = vs
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("forward to moto: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read moto response: %w", err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// errCodeMismatch is Cognito's answer to a wrong confirmation or
// verification code (locally: an empty one).
var errCodeMismatch = &apiError{http.StatusBadRequest, "CodeMismatchException", "Invalid verification code provided, please try again."}

// upstreamError turns an error moto answered to the endpoint's own call into
// the same Cognito error for the caller; other errors are internal.
func upstreamError(what string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &apiError{http.StatusBadRequest, ae.ErrorCode(), ae.ErrorMessage()}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// jsonReply is a 200 answer with body v.
func jsonReply(v any) (*reply, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Requestid", uuid.NewString())
	return &reply{status: http.StatusOK, header: h, body: b}, nil
}

func errorReply(ae *apiError) *reply {
	b, _ := json.Marshal(map[string]string{"__type": ae.code, "message": ae.message})
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Errortype", ae.code+":")
	h.Set("X-Amzn-Requestid", uuid.NewString())
	return &reply{status: ae.status, header: h, body: b}
}
