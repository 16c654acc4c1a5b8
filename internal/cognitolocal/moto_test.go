package cognitolocal_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/homeregion/homeregion/internal/cognitolocal"
	"github.com/homeregion/homeregion/internal/mototest"
)

// The tests in this file run the endpoint in front of a real moto_server
// (started once for the package by TestMain) with a user pool provisioned
// like the template's: e-mail as user name, e-mail auto-verified, immutable
// custom:region and custom:country.

func TestMain(m *testing.M) { mototest.Main(m) }

const (
	region   = "eu-west-1"
	password = "Passw0rd!x"
)

// recorder is a post confirmation trigger that records the events it gets
// and answers with fail (nil: success) or, with block, waits for the
// invocation's deadline.
type recorder struct {
	mu     sync.Mutex
	events []events.CognitoEventUserPoolsPostConfirmation
	fail   error
	block  bool
}

func (r *recorder) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.CognitoEventUserPoolsPostConfirmation
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	if r.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if r.fail != nil {
		return nil, r.fail
	}
	return payload, nil
}

func (r *recorder) got() []events.CognitoEventUserPoolsPostConfirmation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// stack is a pool in moto and the endpoint in front of it.
type stack struct {
	pool, clientID string
	// admin talks to moto directly: what is stored, without the endpoint.
	admin *cip.Client
	// api talks to the endpoint, as the SDKs and the aws CLI do locally.
	api     *cip.Client
	cfg     cognitolocal.Config
	trigger *recorder
}

type poolSpec struct {
	// requireVerification sets UserAttributeUpdateSettings for email.
	requireVerification bool
}

// createPool creates a pool like the template's in moto, with an app client.
func createPool(t *testing.T, admin *cip.Client, spec poolSpec) (poolID, clientID string) {
	t.Helper()
	ctx := context.Background()
	in := &cip.CreateUserPoolInput{
		PoolName:               aws.String("homeregion-test"),
		UsernameAttributes:     []ciptypes.UsernameAttributeType{ciptypes.UsernameAttributeTypeEmail},
		AutoVerifiedAttributes: []ciptypes.VerifiedAttributeType{ciptypes.VerifiedAttributeTypeEmail},
		Schema: []ciptypes.SchemaAttributeType{
			{Name: aws.String("email"), AttributeDataType: ciptypes.AttributeDataTypeString, Required: aws.Bool(true), Mutable: aws.Bool(true)},
			{Name: aws.String("region"), AttributeDataType: ciptypes.AttributeDataTypeString, Mutable: aws.Bool(false)},
			{Name: aws.String("country"), AttributeDataType: ciptypes.AttributeDataTypeString, Mutable: aws.Bool(false)},
		},
	}
	if spec.requireVerification {
		in.UserAttributeUpdateSettings = &ciptypes.UserAttributeUpdateSettingsType{
			AttributesRequireVerificationBeforeUpdate: []ciptypes.VerifiedAttributeType{ciptypes.VerifiedAttributeTypeEmail},
		}
	}
	p, err := admin.CreateUserPool(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := admin.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: p.UserPool.Id, ClientName: aws.String("homeregion-app"),
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth, ciptypes.ExplicitAuthFlowsTypeAllowRefreshTokenAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(p.UserPool.Id), aws.ToString(c.UserPoolClient.ClientId)
}

// newStack provisions a pool in moto and serves the endpoint for it, with
// the settings read back from DescribeUserPool as cmd/local reads them.
func newStack(t *testing.T, spec poolSpec) *stack {
	t.Helper()
	srv := mototest.Require(t)
	s := &stack{admin: cip.NewFromConfig(srv.Config(region)), trigger: &recorder{}}
	s.pool, s.clientID = createPool(t, s.admin, spec)
	desc, err := s.admin.DescribeUserPool(context.Background(), &cip.DescribeUserPoolInput{UserPoolId: aws.String(s.pool)})
	if err != nil {
		t.Fatal(err)
	}
	s.cfg = cognitolocal.Config{
		Region: region, UserPoolID: s.pool, ClientIDs: []string{s.clientID}, Upstream: srv.URL,
		Users: s.admin, PostConfirmation: s.trigger.invoke, TriggerTimeout: 300 * time.Millisecond,
	}
	s.cfg.FromUserPool(desc.UserPool)
	ep, err := cognitolocal.New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(ep)
	t.Cleanup(h.Close)
	s.api = cip.NewFromConfig(srv.Config(region), func(o *cip.Options) {
		o.BaseEndpoint = aws.String(h.URL)
		o.RetryMaxAttempts = 1
	})
	return s
}

// signUp signs a user up through the endpoint and returns its sub.
func (s *stack) signUp(t *testing.T, email string) string {
	t.Helper()
	out, err := s.api.SignUp(context.Background(), &cip.SignUpInput{
		ClientId: aws.String(s.clientID), Username: aws.String(email), Password: aws.String(password),
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String(email)},
			{Name: aws.String("custom:region"), Value: aws.String(region)},
			{Name: aws.String("custom:country"), Value: aws.String("DE")},
		},
	})
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	return aws.ToString(out.UserSub)
}

// confirmedUser signs a user up and confirms it with a code, as a user does.
func (s *stack) confirmedUser(t *testing.T, email string) string {
	t.Helper()
	sub := s.signUp(t, email)
	if _, err := s.api.ConfirmSignUp(context.Background(), &cip.ConfirmSignUpInput{
		ClientId: aws.String(s.clientID), Username: aws.String(email), ConfirmationCode: aws.String("123456"),
	}); err != nil {
		t.Fatalf("ConfirmSignUp: %v", err)
	}
	return sub
}

// signIn returns an access token, or the sign-in error.
func (s *stack) signIn(email string) (string, error) {
	out, err := s.api.InitiateAuth(context.Background(), &cip.InitiateAuthInput{
		ClientId: aws.String(s.clientID), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password},
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.AuthenticationResult.AccessToken), nil
}

func (s *stack) mustSignIn(t *testing.T, email string) string {
	t.Helper()
	tok, err := s.signIn(email)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return tok
}

// stored is the user as moto holds it: status and attributes.
func (s *stack) stored(t *testing.T, username string) (ciptypes.UserStatusType, map[string]string) {
	t.Helper()
	out, err := s.admin.AdminGetUser(context.Background(), &cip.AdminGetUserInput{UserPoolId: aws.String(s.pool), Username: aws.String(username)})
	if err != nil {
		t.Fatalf("AdminGetUser: %v", err)
	}
	attrs := map[string]string{}
	for _, a := range out.UserAttributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	return out.UserStatus, attrs
}

// wantAPIError checks err is the Cognito error code with message.
func wantAPIError(t *testing.T, err error, code, message string) {
	t.Helper()
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if !errors.As(err, &ae) || ae.ErrorCode() != code || ae.ErrorMessage() != message {
		t.Fatalf("err = %v, want %s: %s", err, code, message)
	}
}

func attr(name, value string) ciptypes.AttributeType {
	return ciptypes.AttributeType{Name: aws.String(name), Value: aws.String(value)}
}

func TestPoolSettingsReadFromMoto(t *testing.T) {
	s := newStack(t, poolSpec{requireVerification: true})
	if got := s.cfg.AttributesRequireVerificationBeforeUpdate; !slices.Equal(got, []string{"email"}) {
		t.Errorf("AttributesRequireVerificationBeforeUpdate = %v, want [email]", got)
	}
	if got := s.cfg.AutoVerifiedAttributes; !slices.Equal(got, []string{"email"}) {
		t.Errorf("AutoVerifiedAttributes = %v, want [email]", got)
	}
	if got := slices.Sorted(slices.Values(s.cfg.ImmutableAttributes)); !slices.Equal(got, []string{"custom:country", "custom:region"}) {
		t.Errorf("ImmutableAttributes = %v, want custom:country, custom:region", got)
	}
	if got := s.cfg.RequiredAttributes; !slices.Contains(got, "email") {
		t.Errorf("RequiredAttributes = %v, want email among them", got)
	}
}

func TestPostConfirmation(t *testing.T) {
	tests := []struct {
		name         string
		confirm      func(s *stack, email string) error
		wantClientID func(s *stack) string
		wantVerified string
	}{
		{
			name: "ConfirmSignUp verifies the e-mail the code went to",
			confirm: func(s *stack, email string) error {
				_, err := s.api.ConfirmSignUp(context.Background(), &cip.ConfirmSignUpInput{
					ClientId: aws.String(s.clientID), Username: aws.String(email), ConfirmationCode: aws.String("123456"),
					ClientMetadata: map[string]string{"flow": "web"},
				})
				return err
			},
			wantClientID: func(s *stack) string { return s.clientID },
			wantVerified: "true",
		},
		{
			name: "AdminConfirmSignUp verifies nothing",
			confirm: func(s *stack, email string) error {
				_, err := s.api.AdminConfirmSignUp(context.Background(), &cip.AdminConfirmSignUpInput{
					UserPoolId: aws.String(s.pool), Username: aws.String(email), ClientMetadata: map[string]string{"flow": "web"},
				})
				return err
			},
			wantClientID: func(*stack) string { return "CLIENT_ID_NOT_APPLICABLE" },
			wantVerified: "false",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, poolSpec{})
			sub := s.signUp(t, "ana@example.com")
			if _, attrs := s.stored(t, sub); attrs["email_verified"] != "false" {
				t.Fatalf("after sign-up email_verified = %q, want false", attrs["email_verified"])
			}
			if err := tt.confirm(s, "ana@example.com"); err != nil {
				t.Fatalf("confirm: %v", err)
			}
			got := s.trigger.got()
			if len(got) != 1 {
				t.Fatalf("trigger ran %d times, want 1", len(got))
			}
			ev := got[0]
			if ev.Version != "1" || ev.TriggerSource != "PostConfirmation_ConfirmSignUp" || ev.Region != region || ev.UserPoolID != s.pool ||
				ev.UserName != sub || ev.CallerContext.ClientID != tt.wantClientID(s) {
				t.Errorf("event header = %+v", ev.CognitoEventUserPoolsHeader)
			}
			wantAttrs := map[string]string{
				"sub": sub, "email": "ana@example.com", "email_verified": tt.wantVerified,
				"custom:region": region, "custom:country": "DE", "cognito:user_status": "CONFIRMED",
			}
			if !maps.Equal(ev.Request.UserAttributes, wantAttrs) {
				t.Errorf("userAttributes = %v, want %v", ev.Request.UserAttributes, wantAttrs)
			}
			if !maps.Equal(ev.Request.ClientMetadata, map[string]string{"flow": "web"}) {
				t.Errorf("clientMetadata = %v", ev.Request.ClientMetadata)
			}
			status, attrs := s.stored(t, sub)
			if status != ciptypes.UserStatusTypeConfirmed || attrs["email_verified"] != tt.wantVerified {
				t.Errorf("stored user: %s email_verified %q, want CONFIRMED %s", status, attrs["email_verified"], tt.wantVerified)
			}

			// Cognito refuses to confirm a confirmed user; the trigger does not run again.
			wantAPIError(t, tt.confirm(s, "ana@example.com"), "NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")
			if n := len(s.trigger.got()); n != 1 {
				t.Errorf("trigger ran %d times after a second confirmation, want 1", n)
			}
		})
	}
}

func TestPostConfirmationFailureKeepsUserConfirmed(t *testing.T) {
	tests := []struct {
		name         string
		fail         error
		block        bool
		admin        bool
		wantCode     string
		wantMessage  string
		wantVerified string
	}{
		{name: "ConfirmSignUp, trigger error", fail: errors.New("e-mail already claimed in us-east-1"),
			wantCode: "UserLambdaValidationException", wantMessage: "PostConfirmation failed with error e-mail already claimed in us-east-1.", wantVerified: "true"},
		{name: "AdminConfirmSignUp, trigger error", fail: errors.New("registry unavailable"), admin: true,
			wantCode: "UserLambdaValidationException", wantMessage: "PostConfirmation failed with error registry unavailable.", wantVerified: "false"},
		{name: "ConfirmSignUp, trigger timeout", block: true,
			wantCode: "UnexpectedLambdaException", wantMessage: "PostConfirmation invocation failed due to error TimeoutError.", wantVerified: "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, poolSpec{})
			s.trigger.fail, s.trigger.block = tt.fail, tt.block
			sub := s.signUp(t, "ana@example.com")
			var err error
			if tt.admin {
				_, err = s.api.AdminConfirmSignUp(context.Background(), &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(s.pool), Username: aws.String("ana@example.com")})
			} else {
				_, err = s.api.ConfirmSignUp(context.Background(), &cip.ConfirmSignUpInput{
					ClientId: aws.String(s.clientID), Username: aws.String("ana@example.com"), ConfirmationCode: aws.String("123456"),
				})
			}
			wantAPIError(t, err, tt.wantCode, tt.wantMessage)
			status, attrs := s.stored(t, sub)
			if status != ciptypes.UserStatusTypeConfirmed || attrs["email_verified"] != tt.wantVerified {
				t.Errorf("stored user: %s email_verified %q, want CONFIRMED %s", status, attrs["email_verified"], tt.wantVerified)
			}
			if n := len(s.trigger.got()); n != 1 {
				t.Errorf("trigger ran %d times, want 1", n)
			}
		})
	}
}

func TestPostConfirmationConfirmForgotPassword(t *testing.T) {
	s := newStack(t, poolSpec{})
	sub := s.confirmedUser(t, "ana@example.com")
	ctx := context.Background()
	if _, err := s.api.ForgotPassword(ctx, &cip.ForgotPasswordInput{ClientId: aws.String(s.clientID), Username: aws.String("ana@example.com")}); err != nil {
		t.Fatalf("ForgotPassword: %v", err)
	}
	const newPassword = "N3w-Passw0rd!"
	if _, err := s.api.ConfirmForgotPassword(ctx, &cip.ConfirmForgotPasswordInput{
		ClientId: aws.String(s.clientID), Username: aws.String("ana@example.com"), ConfirmationCode: aws.String("123456"),
		Password: aws.String(newPassword), ClientMetadata: map[string]string{"flow": "reset"},
	}); err != nil {
		t.Fatalf("ConfirmForgotPassword: %v", err)
	}
	got := s.trigger.got()
	if len(got) != 2 {
		t.Fatalf("trigger ran %d times, want 2 (sign-up confirmation, password reset)", len(got))
	}
	ev := got[1]
	if ev.TriggerSource != "PostConfirmation_ConfirmForgotPassword" || ev.UserName != sub || ev.CallerContext.ClientID != s.clientID ||
		ev.Request.UserAttributes["email"] != "ana@example.com" || ev.Request.UserAttributes["email_verified"] != "true" ||
		ev.Request.UserAttributes["cognito:user_status"] != "CONFIRMED" || ev.Request.ClientMetadata["flow"] != "reset" {
		t.Errorf("event = %+v", ev)
	}
	if _, err := s.api.InitiateAuth(ctx, &cip.InitiateAuthInput{
		ClientId: aws.String(s.clientID), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "ana@example.com", "PASSWORD": newPassword},
	}); err != nil {
		t.Errorf("sign in with the new password: %v", err)
	}
}

// TestNoLogOfPersonalData: the endpoint's log lines carry no e-mail address,
// user name, sub or token, even on failures.
func TestNoLogOfPersonalData(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	s := newStack(t, poolSpec{requireVerification: true})
	s.cfg.Logger = newTestLogger(&buf, &mu)
	ep, err := cognitolocal.New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(ep)
	t.Cleanup(h.Close)
	s.api = cip.NewFromConfig(mototest.Require(t).Config(region), func(o *cip.Options) { o.BaseEndpoint = aws.String(h.URL); o.RetryMaxAttempts = 1 })
	s.trigger.fail = errors.New("refused")
	sub := s.signUp(t, "ana@example.com")
	_, _ = s.api.ConfirmSignUp(context.Background(), &cip.ConfirmSignUpInput{ClientId: aws.String(s.clientID), Username: aws.String("ana@example.com"), ConfirmationCode: aws.String("1")})
	tok := s.mustSignIn(t, "ana@example.com")
	_, _ = s.api.UpdateUserAttributes(context.Background(), &cip.UpdateUserAttributesInput{AccessToken: aws.String(tok), UserAttributes: []ciptypes.AttributeType{attr("email", "new@example.org")}})
	_, _ = s.api.VerifyUserAttribute(context.Background(), &cip.VerifyUserAttributeInput{AccessToken: aws.String(tok), AttributeName: aws.String("email"), Code: aws.String("1")})
	mu.Lock()
	logged := buf.String()
	mu.Unlock()
	if logged == "" {
		t.Fatal("nothing logged")
	}
	for _, secret := range []string{"ana@example.com", "new@example.org", sub, tok, "example"} {
		if strings.Contains(logged, secret) {
			t.Errorf("log contains %q:\n%s", secret, logged)
		}
	}
}

// lockedWriter is a writer safe for the endpoint's concurrent handlers.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newTestLogger(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestSignUpRefusesVerificationFlags(t *testing.T) {
	for _, flag := range []string{"email_verified", "phone_number_verified"} {
		t.Run(flag, func(t *testing.T) {
			s := newStack(t, poolSpec{})
			_, err := s.api.SignUp(context.Background(), &cip.SignUpInput{
				ClientId: aws.String(s.clientID), Username: aws.String("ana@example.com"), Password: aws.String(password),
				UserAttributes: []ciptypes.AttributeType{attr("email", "ana@example.com"), attr(flag, "true")},
			})
			wantAPIError(t, err, "NotAuthorizedException", "A client attempted to write unauthorized attribute")
			if _, err := s.admin.AdminGetUser(context.Background(), &cip.AdminGetUserInput{UserPoolId: aws.String(s.pool), Username: aws.String("ana@example.com")}); err == nil {
				t.Error("the refused user exists in moto")
			}
		})
	}
}

// TestConcurrentConfirmationsConfirmOnce: of several ConfirmSignUp calls for
// one user at the same moment, one confirms it and runs the post
// confirmation trigger; the others are refused, as Cognito refuses a
// confirmed user.
func TestConcurrentConfirmationsConfirmOnce(t *testing.T) {
	s := newStack(t, poolSpec{})
	s.signUp(t, "ana@example.com")
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.api.ConfirmSignUp(context.Background(), &cip.ConfirmSignUpInput{
				ClientId: aws.String(s.clientID), Username: aws.String("ana@example.com"), ConfirmationCode: aws.String("1"),
			})
			errs <- err
		}()
	}
	ok := 0
	for range n {
		if err := <-errs; err == nil {
			ok++
		} else {
			wantAPIError(t, err, "NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")
		}
	}
	if ok != 1 || len(s.trigger.got()) != 1 {
		t.Errorf("%d confirmations succeeded and the trigger ran %d times, want 1 and 1", ok, len(s.trigger.got()))
	}
}
