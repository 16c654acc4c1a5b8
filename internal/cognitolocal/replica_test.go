package cognitolocal_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/homeregion/homeregion/internal/cognitolocal"
	"github.com/homeregion/homeregion/internal/mototest"
)

// The tests in this file run two regions' endpoints in front of one
// moto_server: eu-west-1 (the primary of its pool) and eu-central-1, which
// serves its own pool and the replica of eu-west-1's.

const central = "eu-central-1"

// preAuth is a pre authentication trigger that records its events.
type preAuth struct {
	mu     sync.Mutex
	events []events.CognitoEventUserPoolsPreAuthentication
}

func (p *preAuth) invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.CognitoEventUserPoolsPreAuthentication
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
	return payload, nil
}

func (p *preAuth) got() []events.CognitoEventUserPoolsPreAuthentication {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]events.CognitoEventUserPoolsPreAuthentication(nil), p.events...)
}

// regionEndpoint is one region's endpoint and its own pool.
type regionEndpoint struct {
	region, pool, clientID string
	ep                     *cognitolocal.Endpoint
	url                    string
	admin                  *cip.Client // moto directly, in region
	trigger                *preAuth
	srv                    *mototest.Server
}

// api is a client of the endpoint, signed for the endpoint's region.
func (r *regionEndpoint) api() *cip.Client {
	return cip.NewFromConfig(r.srv.Config(r.region), func(o *cip.Options) {
		o.BaseEndpoint = aws.String(r.url)
		o.RetryMaxAttempts = 1
	})
}

// pairStack is eu-west-1's endpoint and eu-central-1's, which serves the
// replica of eu-west-1's pool.
type pairStack struct {
	west, central *regionEndpoint
}

func newRegion(t *testing.T, region string, replicas func(*regionEndpoint) []cognitolocal.Replica) *regionEndpoint {
	t.Helper()
	srv := mototest.Require(t)
	r := &regionEndpoint{region: region, admin: cip.NewFromConfig(srv.Config(region)), trigger: &preAuth{}, srv: srv}
	r.pool, r.clientID = createPool(t, r.admin, poolSpec{})
	cfg := cognitolocal.Config{
		Region: region, UserPoolID: r.pool, ClientIDs: []string{r.clientID}, Upstream: srv.URL,
		Users: r.admin, PreAuthentication: r.trigger.invoke,
	}
	if replicas != nil {
		cfg.Replicas = replicas(r)
	}
	ep, err := cognitolocal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.ep = ep
	h := httptest.NewServer(ep)
	t.Cleanup(h.Close)
	r.url = h.URL
	return r
}

func newPairStack(t *testing.T) *pairStack {
	t.Helper()
	w := newRegion(t, region, nil)
	c := newRegion(t, central, func(c *regionEndpoint) []cognitolocal.Replica {
		rp := cognitolocal.Replica{
			PoolID: w.pool, PrimaryRegion: region, ClientIDs: []string{w.clientID},
			PreAuthentication: c.trigger.invoke, Users: w.admin,
		}
		desc, err := w.admin.DescribeUserPoolClient(context.Background(), &cip.DescribeUserPoolClientInput{UserPoolId: aws.String(w.pool), ClientId: aws.String(w.clientID)})
		if err != nil {
			t.Fatal(err)
		}
		rp.FromUserPoolClient(desc.UserPoolClient)
		return []cognitolocal.Replica{rp}
	})
	return &pairStack{west: w, central: c}
}

// confirmedUser signs a user up and confirms it at its primary.
func (r *regionEndpoint) confirmedUser(t *testing.T, email string) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.api().SignUp(ctx, &cip.SignUpInput{
		ClientId: aws.String(r.clientID), Username: aws.String(email), Password: aws.String(password),
		UserAttributes: []ciptypes.AttributeType{attr("email", email), attr("custom:region", r.region)},
	}); err != nil {
		t.Fatalf("SignUp at %s: %v", r.region, err)
	}
	if _, err := r.admin.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(r.pool), Username: aws.String(email)}); err != nil {
		t.Fatalf("AdminConfirmSignUp: %v", err)
	}
}

// signInAt signs in at endpoint with the app client clientID.
func signInAt(endpoint *regionEndpoint, clientID, email string) (*ciptypes.AuthenticationResultType, error) {
	out, err := endpoint.api().InitiateAuth(context.Background(), &cip.InitiateAuthInput{
		ClientId: aws.String(clientID), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password},
	})
	if err != nil {
		return nil, err
	}
	return out.AuthenticationResult, nil
}

// issuer is a token's iss claim (its signature is moto's, unchecked here).
func issuer(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Iss
}

func TestReplicaSignInUsesPrimaryPoolAndReplicaTrigger(t *testing.T) {
	s := newPairStack(t)
	const email = "replica-signin@example.com"
	s.west.confirmedUser(t, email)

	atPrimary, err := signInAt(s.west, s.west.clientID, email)
	if err != nil {
		t.Fatalf("sign in at the primary: %v", err)
	}
	atReplica, err := signInAt(s.central, s.west.clientID, email)
	if err != nil {
		t.Fatalf("sign in at the replica: %v", err)
	}
	want := "https://cognito-idp." + region + ".amazonaws.com/" + s.west.pool
	for name, tok := range map[string]string{
		"replica id token": *atReplica.IdToken, "replica access token": *atReplica.AccessToken, "primary id token": *atPrimary.IdToken,
	} {
		if got := issuer(t, tok); got != want {
			t.Errorf("%s iss = %q, want the primary pool's %q", name, got, want)
		}
	}

	// The replica region's trigger ran, for the primary's pool id; the
	// primary's trigger ran only for the sign-in at the primary.
	evs := s.central.trigger.got()
	if len(evs) != 1 {
		t.Fatalf("%s's PreAuthentication ran %d times, want 1", central, len(evs))
	}
	if evs[0].UserPoolID != s.west.pool || evs[0].Region != central || evs[0].CallerContext.ClientID != s.west.clientID {
		t.Errorf("replica's event: userPoolId %q region %q clientId %q; want %q %q %q",
			evs[0].UserPoolID, evs[0].Region, evs[0].CallerContext.ClientID, s.west.pool, central, s.west.clientID)
	}
	if got := evs[0].Request.UserAttributes["custom:region"]; got != region {
		t.Errorf("replica's event custom:region = %q, want the user's %q", got, region)
	}
	if n := len(s.west.trigger.got()); n != 1 {
		t.Errorf("%s's PreAuthentication ran %d times, want 1 (its own sign-in)", region, n)
	}

	// Calls signed for eu-central-1 naming the pool reach eu-west-1's moto
	// backend (moto keys it on the credential scope's region).
	ctx := context.Background()
	if _, err := s.central.api().AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(s.west.pool), Username: aws.String(email)}); err != nil {
		t.Errorf("AdminGetUser at the replica: %v", err)
	}
	// Refresh at the replica: same users, same tokens.
	if _, err := s.central.api().InitiateAuth(ctx, &cip.InitiateAuthInput{
		ClientId: aws.String(s.west.clientID), AuthFlow: ciptypes.AuthFlowTypeRefreshTokenAuth,
		AuthParameters: map[string]string{"REFRESH_TOKEN": *atPrimary.RefreshToken},
	}); err != nil {
		t.Errorf("refresh at the replica: %v", err)
	}
	if _, err := s.central.api().GetUser(ctx, &cip.GetUserInput{AccessToken: atPrimary.AccessToken}); err != nil {
		t.Errorf("GetUser at the replica with the primary's token: %v", err)
	}
	// The app client's settings are the primary's: a flow it does not enable
	// is refused at the replica too.
	_, err = s.central.api().AdminInitiateAuth(ctx, &cip.AdminInitiateAuthInput{
		UserPoolId: aws.String(s.west.pool), ClientId: aws.String(s.west.clientID), AuthFlow: ciptypes.AuthFlowTypeAdminUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password},
	})
	wantAPIError(t, err, "InvalidParameterException", "Auth flow not enabled for this client")
}

func TestReplicaRefusesPrimaryOnlyOperations(t *testing.T) {
	s := newPairStack(t)
	const email = "replica-refused@example.com"
	s.west.confirmedUser(t, email)
	tok, err := signInAt(s.central, s.west.clientID, email)
	if err != nil {
		t.Fatalf("sign in at the replica: %v", err)
	}
	api, ctx := s.central.api(), context.Background()
	const newEmail = "replica-new@example.com"
	tests := []struct {
		op   string
		call func() error
	}{
		{"SignUp", func() error {
			_, err := api.SignUp(ctx, &cip.SignUpInput{
				ClientId: aws.String(s.west.clientID), Username: aws.String(newEmail), Password: aws.String(password),
				UserAttributes: []ciptypes.AttributeType{attr("email", newEmail), attr("custom:region", region)},
			})
			return err
		}},
		{"AdminCreateUser", func() error {
			_, err := api.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(s.west.pool), Username: aws.String(newEmail),
				UserAttributes: []ciptypes.AttributeType{attr("email", newEmail)}})
			return err
		}},
		{"ForgotPassword", func() error {
			_, err := api.ForgotPassword(ctx, &cip.ForgotPasswordInput{ClientId: aws.String(s.west.clientID), Username: aws.String(email)})
			return err
		}},
		{"ConfirmForgotPassword", func() error {
			_, err := api.ConfirmForgotPassword(ctx, &cip.ConfirmForgotPasswordInput{ClientId: aws.String(s.west.clientID),
				Username: aws.String(email), ConfirmationCode: aws.String("123456"), Password: aws.String(password + "2")})
			return err
		}},
		{"UpdateUserAttributes", func() error {
			_, err := api.UpdateUserAttributes(ctx, &cip.UpdateUserAttributesInput{AccessToken: tok.AccessToken,
				UserAttributes: []ciptypes.AttributeType{attr("email", newEmail)}})
			return err
		}},
		{"AdminUpdateUserAttributes", func() error {
			_, err := api.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: aws.String(s.west.pool),
				Username: aws.String(email), UserAttributes: []ciptypes.AttributeType{attr("email", newEmail)}})
			return err
		}},
		{"ChangePassword", func() error {
			_, err := api.ChangePassword(ctx, &cip.ChangePasswordInput{AccessToken: tok.AccessToken,
				PreviousPassword: aws.String(password), ProposedPassword: aws.String(password + "2")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			var notEnabled *ciptypes.OperationNotEnabledException
			if err := tt.call(); !errors.As(err, &notEnabled) {
				t.Fatalf("%s at the replica: err = %v, want OperationNotEnabledException", tt.op, err)
			}
		})
	}
	// Nothing changed in the directory.
	_, err = s.west.admin.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(s.west.pool), Username: aws.String(newEmail)})
	var notFound *ciptypes.UserNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("AdminGetUser(new user) = %v, want UserNotFoundException: the replica created a user", err)
	}
	if _, err := signInAt(s.west, s.west.clientID, email); err != nil {
		t.Errorf("sign in with the old password at the primary: %v (the replica changed it)", err)
	}
	if _, attrs := (&stack{pool: s.west.pool, admin: s.west.admin}).stored(t, email); attrs["email"] != email {
		t.Errorf("email = %q, want unchanged", attrs["email"])
	}
}

func TestReplicaServesWhilePrimaryDown(t *testing.T) {
	s := newPairStack(t)
	const email = "replica-down@example.com"
	s.west.confirmedUser(t, email)
	s.west.ep.SetDown(true)
	_, err := signInAt(s.west, s.west.clientID, email)
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("sign in at the down primary: err = %v, want a 503", err)
	}
	if _, err := signInAt(s.central, s.west.clientID, email); err != nil {
		t.Fatalf("sign in at the replica while the primary is down: %v", err)
	}
	s.west.ep.SetDown(false)
	if _, err := signInAt(s.west, s.west.clientID, email); err != nil {
		t.Fatalf("sign in at the primary once it is back: %v", err)
	}
}

func TestPoolsNotReplicatedUnaffected(t *testing.T) {
	s := newPairStack(t)
	ctx := context.Background()

	// eu-central-1's own pool: sign-up and sign-in as before, its trigger
	// with its own pool id.
	const own = "central-own@example.com"
	s.central.confirmedUser(t, own)
	if _, err := signInAt(s.central, s.central.clientID, own); err != nil {
		t.Fatalf("sign in at %s's own pool: %v", central, err)
	}
	if evs := s.central.trigger.got(); len(evs) != 1 || evs[0].UserPoolID != s.central.pool {
		t.Errorf("%s's PreAuthentication events = %+v, want one for its own pool", central, evs)
	}

	// Another eu-west-1 pool, not replicated to eu-central-1: forwarded
	// untouched (sign-up not refused, no trigger).
	other, otherClient := createPool(t, s.west.admin, poolSpec{})
	const email = "not-replicated@example.com"
	if _, err := s.central.api().SignUp(ctx, &cip.SignUpInput{
		ClientId: aws.String(otherClient), Username: aws.String(email), Password: aws.String(password),
		UserAttributes: []ciptypes.AttributeType{attr("email", email)},
	}); err != nil {
		t.Fatalf("SignUp for a pool not replicated here: %v", err)
	}
	if _, err := s.west.admin.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(other), Username: aws.String(email)}); err != nil {
		t.Errorf("the user is not in its pool: %v", err)
	}
	// Signed for eu-central-1 and not rewritten: moto looks for it there.
	_, err := s.central.api().AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(other), Username: aws.String(email)})
	var rnf *ciptypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("AdminGetUser signed for %s for a pool not replicated there: err = %v, want ResourceNotFoundException", central, err)
	}
	if n := len(s.central.trigger.got()); n != 1 {
		t.Errorf("%s's PreAuthentication ran %d times, want 1", central, n)
	}
}

func TestNewRejectsBadReplicas(t *testing.T) {
	base := func() cognitolocal.Config {
		return cognitolocal.Config{Region: central, UserPoolID: "eu-central-1_Own", Upstream: "http://127.0.0.1:1"}
	}
	ok := cognitolocal.Replica{PoolID: "eu-west-1_Abc", PrimaryRegion: "eu-west-1", ClientIDs: []string{"c"}}
	tests := []struct {
		name string
		mod  func(*cognitolocal.Replica)
	}{
		{"pool id without a region", func(r *cognitolocal.Replica) { r.PoolID = "Abc" }},
		{"primary region not the pool id's", func(r *cognitolocal.Replica) { r.PrimaryRegion = "eu-west-3" }},
		{"replica of this region's pool", func(r *cognitolocal.Replica) { r.PoolID, r.PrimaryRegion = "eu-central-1_Abc", central }},
		{"no app clients", func(r *cognitolocal.Replica) { r.ClientIDs = nil }},
		{"trigger without Users", func(r *cognitolocal.Replica) { r.PreAuthentication = (&preAuth{}).invoke }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, rp := base(), ok
			tt.mod(&rp)
			cfg.Replicas = []cognitolocal.Replica{rp}
			if _, err := cognitolocal.New(cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	cfg := base()
	cfg.Replicas = []cognitolocal.Replica{ok}
	if _, err := cognitolocal.New(cfg); err != nil {
		t.Errorf("New refused a valid replica: %v", err)
	}
}
