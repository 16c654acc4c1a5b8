package cognitolocal_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/homeregion/homeregion/internal/cognitolocal"
)

const (
	pool   = "eu-west-1_pool"
	client = "client1"
)

// fakeMoto records the calls it gets and answers each with a canned body.
type fakeMoto struct {
	mu      sync.Mutex
	targets []string
	bodies  []string
	answer  func(target string) (int, string)
}

func (f *fakeMoto) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	t := r.Header.Get("X-Amz-Target")
	if t == "" {
		t = r.Method + " " + r.URL.Path
	}
	f.mu.Lock()
	f.targets = append(f.targets, t)
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	status, body := http.StatusOK, `{}`
	if f.answer != nil {
		status, body = f.answer(t)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeMoto) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.targets...)
}

// fakeUsers is a Users with function fields.
type fakeUsers struct {
	getUser   func(*cip.AdminGetUserInput) (*cip.AdminGetUserOutput, error)
	confirmed []string
	updated   []string
}

func (f *fakeUsers) AdminGetUser(_ context.Context, in *cip.AdminGetUserInput, _ ...func(*cip.Options)) (*cip.AdminGetUserOutput, error) {
	return f.getUser(in)
}

func (f *fakeUsers) AdminConfirmSignUp(_ context.Context, in *cip.AdminConfirmSignUpInput, _ ...func(*cip.Options)) (*cip.AdminConfirmSignUpOutput, error) {
	f.confirmed = append(f.confirmed, aws.ToString(in.Username))
	return &cip.AdminConfirmSignUpOutput{}, nil
}

func (f *fakeUsers) AdminUpdateUserAttributes(_ context.Context, in *cip.AdminUpdateUserAttributesInput, _ ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error) {
	for _, a := range in.UserAttributes {
		f.updated = append(f.updated, aws.ToString(a.Name))
	}
	return &cip.AdminUpdateUserAttributesOutput{}, nil
}

func (f *fakeUsers) GetUser(context.Context, *cip.GetUserInput, ...func(*cip.Options)) (*cip.GetUserOutput, error) {
	return nil, &ciptypes.NotAuthorizedException{Message: aws.String("Invalid Access Token")}
}

func existingUser(*cip.AdminGetUserInput) (*cip.AdminGetUserOutput, error) {
	return &cip.AdminGetUserOutput{
		Username:   aws.String("3f1c-sub"),
		UserStatus: ciptypes.UserStatusTypeConfirmed,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String("ana@example.com")},
			{Name: aws.String("custom:country"), Value: aws.String("DE")},
			{Name: aws.String("sub"), Value: aws.String("3f1c-sub")},
		},
	}, nil
}

type setup struct {
	moto      *fakeMoto
	users     *fakeUsers
	client    *cip.Client
	url       string
	presignup cognitolocal.Trigger
	preauth   cognitolocal.Trigger
	policy    *ciptypes.PasswordPolicyType
	prevent   bool
	flows     []string // the app client's ExplicitAuthFlows; nil: not checked
	upstream  string   // moto's URL; empty: s.moto
}

func start(t *testing.T, s *setup) {
	t.Helper()
	if s.moto == nil {
		s.moto = &fakeMoto{}
	}
	if s.users == nil {
		s.users = &fakeUsers{getUser: existingUser}
	}
	if s.upstream == "" {
		up := httptest.NewServer(s.moto)
		t.Cleanup(up.Close)
		s.upstream = up.URL
	}
	cfg := cognitolocal.Config{
		Region: "eu-west-1", UserPoolID: pool, ClientIDs: []string{client}, Upstream: s.upstream,
		PreSignUp: s.presignup, PreAuthentication: s.preauth, Users: s.users,
		PasswordPolicy: s.policy, PreventUserExistenceErrors: s.prevent,
		TriggerTimeout:    200 * time.Millisecond,
		SignInUnavailable: "Sign-in is temporarily unavailable. Please try again in a moment.",
	}
	if s.flows != nil {
		cfg.ExplicitAuthFlows = map[string][]string{client: s.flows}
	}
	ep, err := cognitolocal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.client = cip.NewFromConfig(aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(srv.URL),
	}, func(o *cip.Options) { o.RetryMaxAttempts = 1 })
}

func signUpInput(clientID string) *cip.SignUpInput {
	return &cip.SignUpInput{
		ClientId: aws.String(clientID), Username: aws.String("ana@example.com"), Password: aws.String("Passw0rd!x"),
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String("ana@example.com")},
			{Name: aws.String("custom:region"), Value: aws.String("eu-west-1")},
			{Name: aws.String("custom:country"), Value: aws.String("DE")},
		},
	}
}

func TestSignUpRefusedNeverReachesMoto(t *testing.T) {
	s := &setup{presignup: func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("sign up in eu-west-1")
	}}
	start(t, s)
	_, err := s.client.SignUp(context.Background(), signUpInput(client))
	var lve *ciptypes.UserLambdaValidationException
	if !errors.As(err, &lve) {
		t.Fatalf("SignUp error = %v, want UserLambdaValidationException", err)
	}
	if got, want := lve.ErrorMessage(), "PreSignUp failed with error sign up in eu-west-1."; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if c := s.moto.calls(); len(c) != 0 {
		t.Errorf("moto got %v, want no call", c)
	}

	// The raw wire format is the AWS JSON 1.1 error.
	req, _ := http.NewRequest(http.MethodPost, s.url, strings.NewReader(`{"ClientId":"client1","Username":"a","Password":"p"}`))
	req.Header.Set("X-Amz-Target", "AWSCognitoIdentityProviderService.SignUp")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || body["__type"] != "UserLambdaValidationException" || body["message"] != "PreSignUp failed with error sign up in eu-west-1." ||
		resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("got %d %v %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
}

func TestSignUpAllowedIsProxied(t *testing.T) {
	tests := []struct {
		name          string
		clientID      string
		response      events.CognitoEventUserPoolsPreSignupResponse
		wantTrigger   bool
		wantConfirmed bool
	}{
		{name: "allowed", clientID: client, wantTrigger: true},
		{name: "auto-confirmed", clientID: client, wantTrigger: true, wantConfirmed: true,
			response: events.CognitoEventUserPoolsPreSignupResponse{AutoConfirmUser: true, AutoVerifyEmail: true}},
		{name: "other pool's client: no trigger", clientID: "someone-else"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []events.CognitoEventUserPoolsPreSignup
			s := &setup{
				moto: &fakeMoto{answer: func(string) (int, string) { return 200, `{"UserConfirmed":false,"UserSub":"abc"}` }},
				presignup: func(_ context.Context, p []byte) ([]byte, error) {
					var ev events.CognitoEventUserPoolsPreSignup
					if err := json.Unmarshal(p, &ev); err != nil {
						return nil, err
					}
					got = append(got, ev)
					ev.Response = tt.response
					return json.Marshal(ev)
				},
			}
			start(t, s)
			out, err := s.client.SignUp(context.Background(), signUpInput(tt.clientID))
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.UserSub) != "abc" || out.UserConfirmed != tt.wantConfirmed {
				t.Errorf("SignUp = sub %q confirmed %v, want abc %v", aws.ToString(out.UserSub), out.UserConfirmed, tt.wantConfirmed)
			}
			if c := s.moto.calls(); len(c) != 1 || c[0] != "AWSCognitoIdentityProviderService.SignUp" || !strings.Contains(s.moto.bodies[0], `"custom:country"`) {
				t.Fatalf("moto got %v %v, want the SignUp call as sent", c, s.moto.bodies)
			}
			if !tt.wantTrigger {
				if len(got) != 0 {
					t.Fatalf("trigger ran %d times for another pool", len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("trigger ran %d times, want 1", len(got))
			}
			ev := got[0]
			if ev.TriggerSource != "PreSignUp_SignUp" || ev.UserPoolID != pool || ev.Region != "eu-west-1" || ev.Version != "1" ||
				ev.CallerContext.ClientID != client || ev.Request.UserAttributes["custom:country"] != "DE" ||
				ev.Request.UserAttributes["email"] != "ana@example.com" || ev.UserName == "" || ev.UserName == "ana@example.com" {
				t.Errorf("event = %+v", ev)
			}
			if tt.wantConfirmed && (len(s.users.confirmed) != 1 || len(s.users.updated) != 1 || s.users.updated[0] != "email_verified") {
				t.Errorf("confirmed %v updated %v", s.users.confirmed, s.users.updated)
			}
		})
	}
}

func TestAdminCreateUser(t *testing.T) {
	var source string
	s := &setup{presignup: func(_ context.Context, p []byte) ([]byte, error) {
		var ev events.CognitoEventUserPoolsPreSignup
		_ = json.Unmarshal(p, &ev)
		source = ev.TriggerSource + "/" + ev.CallerContext.ClientID
		return nil, errors.New("country XX is not served")
	}}
	start(t, s)
	_, err := s.client.AdminCreateUser(context.Background(), &cip.AdminCreateUserInput{UserPoolId: aws.String(pool), Username: aws.String("b@example.com")})
	var lve *ciptypes.UserLambdaValidationException
	if !errors.As(err, &lve) || lve.ErrorMessage() != "PreSignUp failed with error country XX is not served." {
		t.Fatalf("err = %v", err)
	}
	if source != "PreSignUp_AdminCreateUser/CLIENT_ID_NOT_APPLICABLE" || len(s.moto.calls()) != 0 {
		t.Errorf("source %q, moto calls %v", source, s.moto.calls())
	}
}

func TestInitiateAuth(t *testing.T) {
	refuse := func(_ context.Context, p []byte) ([]byte, error) { return nil, errors.New("sign in in eu-west-1") }
	tests := []struct {
		name        string
		flow        ciptypes.AuthFlowType
		getUser     func(*cip.AdminGetUserInput) (*cip.AdminGetUserOutput, error)
		trigger     func(context.Context, []byte) ([]byte, error)
		wantCode    string
		wantMessage string
		wantTrigger int
		wantMoto    int
	}{
		{name: "refused", flow: ciptypes.AuthFlowTypeUserPasswordAuth, getUser: existingUser, trigger: refuse,
			wantCode: "UserLambdaValidationException", wantMessage: "PreAuthentication failed with error sign in in eu-west-1.", wantTrigger: 1},
		{name: "allowed", flow: ciptypes.AuthFlowTypeUserPasswordAuth, getUser: existingUser, wantTrigger: 1, wantMoto: 1},
		{name: "unknown user: moto answers, no trigger", flow: ciptypes.AuthFlowTypeUserPasswordAuth, trigger: refuse, wantMoto: 1,
			getUser: func(*cip.AdminGetUserInput) (*cip.AdminGetUserOutput, error) {
				return nil, &ciptypes.UserNotFoundException{Message: aws.String("User does not exist.")}
			}},
		{name: "token refresh: no trigger", flow: ciptypes.AuthFlowTypeRefreshTokenAuth, getUser: existingUser, trigger: refuse, wantMoto: 1},
		{name: "timeout", flow: ciptypes.AuthFlowTypeUserPasswordAuth, getUser: existingUser, wantTrigger: 1,
			trigger:  func(ctx context.Context, _ []byte) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() },
			wantCode: "UnexpectedLambdaException", wantMessage: "PreAuthentication invocation failed due to error TimeoutError."},
		{name: "unrecognizable output", flow: ciptypes.AuthFlowTypeUserPasswordAuth, getUser: existingUser, wantTrigger: 1,
			trigger:  func(context.Context, []byte) ([]byte, error) { return []byte(`"ok"`), nil },
			wantCode: "InvalidLambdaResponseException", wantMessage: "Unrecognizable lambda output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []events.CognitoEventUserPoolsPreAuthentication
			calls := 0
			s := &setup{
				users: &fakeUsers{getUser: tt.getUser},
				moto:  &fakeMoto{answer: func(string) (int, string) { return 200, `{"AuthenticationResult":{"IdToken":"x"}}` }},
				preauth: func(ctx context.Context, p []byte) ([]byte, error) {
					calls++
					var ev struct {
						events.CognitoEventUserPoolsPreAuthentication
					}
					if err := json.Unmarshal(p, &ev); err != nil {
						return nil, err
					}
					seen = append(seen, ev.CognitoEventUserPoolsPreAuthentication)
					if tt.trigger != nil {
						return tt.trigger(ctx, p)
					}
					return p, nil
				},
			}
			start(t, s)
			_, err := s.client.InitiateAuth(context.Background(), &cip.InitiateAuthInput{
				ClientId: aws.String(client), AuthFlow: tt.flow,
				AuthParameters: map[string]string{"USERNAME": "ana@example.com", "PASSWORD": "Passw0rd!x", "REFRESH_TOKEN": "r"},
			})
			if tt.wantCode == "" && err != nil {
				t.Fatalf("InitiateAuth: %v", err)
			}
			if tt.wantCode != "" {
				var ae interface {
					ErrorCode() string
					ErrorMessage() string
				}
				if !errors.As(err, &ae) || ae.ErrorCode() != tt.wantCode || ae.ErrorMessage() != tt.wantMessage {
					t.Fatalf("err = %v, want %s: %s", err, tt.wantCode, tt.wantMessage)
				}
			}
			if calls != tt.wantTrigger || len(s.moto.calls()) != tt.wantMoto {
				t.Fatalf("trigger calls %d (want %d), moto calls %v (want %d)", calls, tt.wantTrigger, s.moto.calls(), tt.wantMoto)
			}
			if calls > 0 {
				ev := seen[0]
				if ev.TriggerSource != "PreAuthentication_Authentication" || ev.UserName != "3f1c-sub" || ev.CallerContext.ClientID != client ||
					ev.Request.UserAttributes["email"] != "ana@example.com" || ev.Request.UserAttributes["cognito:user_status"] != "CONFIRMED" {
					t.Errorf("event = %+v", ev)
				}
			}
		})
	}
}

// TestExplicitAuthFlows: Cognito refuses a flow the app client does not
// enable, before any trigger runs, with InvalidParameterException
// ("USER_PASSWORD_AUTH flow not enabled for this client"; other flows "Auth
// flow not enabled for this client").
func TestExplicitAuthFlows(t *testing.T) {
	srp := []string{"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
	withPwd := []string{"ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
	tests := []struct {
		name        string
		flows       []string
		admin       bool
		flow        ciptypes.AuthFlowType
		wantMessage string
		wantTrigger int
	}{
		{name: "USER_PASSWORD_AUTH not enabled", flows: srp, flow: ciptypes.AuthFlowTypeUserPasswordAuth, wantMessage: "USER_PASSWORD_AUTH flow not enabled for this client"},
		{name: "USER_PASSWORD_AUTH enabled", flows: withPwd, flow: ciptypes.AuthFlowTypeUserPasswordAuth, wantTrigger: 1},
		{name: "legacy USER_PASSWORD_AUTH value", flows: []string{"USER_PASSWORD_AUTH"}, flow: ciptypes.AuthFlowTypeUserPasswordAuth, wantTrigger: 1},
		{name: "admin flow not enabled", flows: withPwd, admin: true, flow: ciptypes.AuthFlowTypeAdminUserPasswordAuth, wantMessage: "Auth flow not enabled for this client"},
		{name: "admin flow enabled", flows: []string{"ALLOW_ADMIN_USER_PASSWORD_AUTH"}, admin: true, flow: ciptypes.AuthFlowTypeAdminUserPasswordAuth, wantTrigger: 1},
		{name: "refresh enabled", flows: srp, flow: ciptypes.AuthFlowTypeRefreshTokenAuth},
		{name: "refresh not enabled", flows: []string{"ALLOW_USER_SRP_AUTH"}, flow: ciptypes.AuthFlowTypeRefreshTokenAuth, wantMessage: "Auth flow not enabled for this client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			s := &setup{flows: tt.flows,
				moto:    &fakeMoto{answer: func(string) (int, string) { return 200, `{"AuthenticationResult":{"IdToken":"x"}}` }},
				preauth: func(_ context.Context, p []byte) ([]byte, error) { calls++; return p, nil },
			}
			start(t, s)
			params := map[string]string{"USERNAME": "ana@example.com", "PASSWORD": "Passw0rd!x", "REFRESH_TOKEN": "r"}
			var err error
			if tt.admin {
				_, err = s.client.AdminInitiateAuth(context.Background(), &cip.AdminInitiateAuthInput{
					UserPoolId: aws.String(pool), ClientId: aws.String(client), AuthFlow: tt.flow, AuthParameters: params})
			} else {
				_, err = s.client.InitiateAuth(context.Background(), &cip.InitiateAuthInput{
					ClientId: aws.String(client), AuthFlow: tt.flow, AuthParameters: params})
			}
			var ipe *ciptypes.InvalidParameterException
			switch {
			case tt.wantMessage == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantMessage != "" && (!errors.As(err, &ipe) || ipe.ErrorMessage() != tt.wantMessage):
				t.Fatalf("err = %v, want InvalidParameterException: %s", err, tt.wantMessage)
			}
			wantMoto := 1
			if tt.wantMessage != "" {
				wantMoto = 0
			}
			if calls != tt.wantTrigger || len(s.moto.calls()) != wantMoto {
				t.Fatalf("trigger calls %d (want %d), moto calls %v (want %d)", calls, tt.wantTrigger, s.moto.calls(), wantMoto)
			}
		})
	}
}

// TestSignInWithMotoDown: moto stands for Cognito's store and the registry
// alike; when it cannot be reached a sign-in gets what the PreAuthentication
// trigger answers when its store is unavailable, not an internal error.
func TestSignInWithMotoDown(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	s := &setup{upstream: deadURL,
		users: &fakeUsers{getUser: func(*cip.AdminGetUserInput) (*cip.AdminGetUserOutput, error) {
			return nil, errors.New("operation error Cognito Identity Provider: AdminGetUser, https response error: dial tcp " + strings.TrimPrefix(deadURL, "http://") + ": connect: connection refused")
		}},
		preauth: func(_ context.Context, p []byte) ([]byte, error) { return p, nil },
	}
	start(t, s)
	_, err := s.client.InitiateAuth(context.Background(), &cip.InitiateAuthInput{ClientId: aws.String(client), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "ana@example.com", "PASSWORD": "Passw0rd!x"}})
	var lve *ciptypes.UserLambdaValidationException
	const want = "PreAuthentication failed with error Sign-in is temporarily unavailable. Please try again in a moment.."
	if !errors.As(err, &lve) || lve.ErrorMessage() != want {
		t.Fatalf("err = %v, want UserLambdaValidationException: %s", err, want)
	}
}

func TestNonAPICallsAreForwarded(t *testing.T) {
	s := &setup{moto: &fakeMoto{answer: func(string) (int, string) { return 200, `{"keys":[]}` }}}
	start(t, s)
	resp, err := http.Get(s.url + "/" + pool + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"keys":[]}` {
		t.Errorf("got %d %s", resp.StatusCode, b)
	}
	if c := s.moto.calls(); len(c) != 1 || c[0] != "GET /"+pool+"/.well-known/jwks.json" {
		t.Errorf("moto calls %v", c)
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  cognitolocal.Config
	}{
		{"no region", cognitolocal.Config{UserPoolID: pool, Upstream: "http://x"}},
		{"no pool", cognitolocal.Config{Region: "eu-west-1", Upstream: "http://x"}},
		{"no upstream", cognitolocal.Config{Region: "eu-west-1", UserPoolID: pool}},
		{"triggers without users", cognitolocal.Config{Region: "eu-west-1", UserPoolID: pool, Upstream: "http://x",
			PreSignUp: func(context.Context, []byte) ([]byte, error) { return nil, nil }}},
		{"post confirmation without users", cognitolocal.Config{Region: "eu-west-1", UserPoolID: pool, Upstream: "http://x",
			PostConfirmation: func(context.Context, []byte) ([]byte, error) { return nil, nil }}},
		{"attribute settings without users", cognitolocal.Config{Region: "eu-west-1", UserPoolID: pool, Upstream: "http://x",
			AttributesRequireVerificationBeforeUpdate: []string{"email"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cognitolocal.New(tt.cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestPasswordPolicyCheckedBeforeTrigger(t *testing.T) {
	policy := &ciptypes.PasswordPolicyType{MinimumLength: aws.Int32(12), RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: true}
	tests := []struct {
		password, want string
	}{
		{"Sh0rt!", "Password did not conform with policy: Password not long enough"},
		{"lowercase-only-1", "Password did not conform with policy: Password must have uppercase characters"},
		{"UPPERCASE-ONLY-1", "Password did not conform with policy: Password must have lowercase characters"},
		{"No-Numbers-Here", "Password did not conform with policy: Password must have numeric characters"},
		{"NoSymbols12345", "Password did not conform with policy: Password must have symbol characters"},
		{"Correct-Horse-1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			calls := 0
			s := &setup{policy: policy, presignup: func(_ context.Context, p []byte) ([]byte, error) { calls++; return p, nil }}
			start(t, s)
			in := signUpInput(client)
			in.Password = aws.String(tt.password)
			_, err := s.client.SignUp(context.Background(), in)
			if tt.want == "" {
				if err != nil || calls != 1 || len(s.moto.calls()) != 1 {
					t.Fatalf("err %v, trigger calls %d, moto calls %v", err, calls, s.moto.calls())
				}
				return
			}
			var ipe *ciptypes.InvalidPasswordException
			if !errors.As(err, &ipe) || ipe.ErrorMessage() != tt.want {
				t.Fatalf("err = %v, want InvalidPasswordException %q", err, tt.want)
			}
			if calls != 0 || len(s.moto.calls()) != 0 {
				t.Errorf("trigger calls %d, moto calls %v: want none", calls, s.moto.calls())
			}
		})
	}
}

func TestPreventUserExistenceErrors(t *testing.T) {
	var got events.CognitoEventUserPoolsPreAuthentication
	s := &setup{
		prevent: true,
		users: &fakeUsers{getUser: func(*cip.AdminGetUserInput) (*cip.AdminGetUserOutput, error) {
			return nil, &ciptypes.UserNotFoundException{Message: aws.String("User does not exist.")}
		}},
		preauth: func(_ context.Context, p []byte) ([]byte, error) {
			if err := json.Unmarshal(p, &got); err != nil {
				return nil, err
			}
			return p, nil
		},
	}
	start(t, s)
	_, err := s.client.InitiateAuth(context.Background(), &cip.InitiateAuthInput{ClientId: aws.String(client), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "nobody@example.com", "PASSWORD": "x"}})
	var nae *ciptypes.NotAuthorizedException
	if !errors.As(err, &nae) || nae.ErrorMessage() != "Incorrect username or password." {
		t.Fatalf("err = %v, want NotAuthorizedException", err)
	}
	if !got.Request.UserNotFound || got.TriggerSource != "PreAuthentication_Authentication" {
		t.Errorf("trigger event = %+v, want userNotFound", got)
	}
	if c := s.moto.calls(); len(c) != 0 {
		t.Errorf("moto calls %v, want none", c)
	}
}

// TestAWSCLI drives the endpoint with the aws CLI, as the README's
// copy-paste commands do (skipped when the CLI is not installed).
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns the aws CLI")
	}
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	tests := []struct {
		name       string
		trigger    cognitolocal.Trigger
		wantOut    string
		wantErrOut string
	}{
		{"refused", func(context.Context, []byte) ([]byte, error) { return nil, errors.New("Sign up in eu-west-1") },
			"", "An error occurred (UserLambdaValidationException) when calling the SignUp operation: PreSignUp failed with error Sign up in eu-west-1."},
		{"allowed", func(_ context.Context, p []byte) ([]byte, error) { return p, nil }, `"UserSub": "abc"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &setup{presignup: tt.trigger, moto: &fakeMoto{answer: func(string) (int, string) { return 200, `{"UserConfirmed":false,"UserSub":"abc"}` }}}
			start(t, s)
			cmd := exec.Command(cli, "cognito-idp", "sign-up", "--endpoint-url", s.url, "--region", "eu-west-1", "--client-id", client,
				"--username", "ana@example.com", "--password", "Correct-Horse-42",
				"--user-attributes", "Name=email,Value=ana@example.com", "Name=custom:region,Value=eu-west-1", "Name=custom:country,Value=DE")
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_CONFIG_FILE=/dev/null",
				"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if (err != nil) != (tt.wantErrOut != "") || !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stderr.String(), tt.wantErrOut) {
				t.Fatalf("aws: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
		})
	}
}
