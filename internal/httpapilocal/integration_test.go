package httpapilocal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/homeregion/homeregion/internal/httpapilocal"
	"github.com/homeregion/homeregion/internal/mototest"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// TestMotoIDToken verifies a real moto-issued ID token against the pool's
// JWKS served by moto, with the issuer AWS (and moto) put in it.
func TestMotoIDToken(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	const region = "eu-west-1"
	c := cip.NewFromConfig(srv.Config(region))
	pool, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:           aws.String("httpapilocal-test"),
		UsernameAttributes: []ciptypes.UsernameAttributeType{ciptypes.UsernameAttributeTypeEmail},
		Schema: []ciptypes.SchemaAttributeType{
			{Name: aws.String("region"), AttributeDataType: ciptypes.AttributeDataTypeString, Mutable: aws.Bool(false)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	poolID := aws.ToString(pool.UserPool.Id)
	client, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(poolID), ClientName: aws.String("app"),
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth, ciptypes.ExplicitAuthFlowsTypeAllowRefreshTokenAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	clientID := aws.ToString(client.UserPoolClient.ClientId)
	const email, password = "ana@example.com", "Passw0rd!x"
	if _, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(clientID), Username: aws.String(email), Password: aws.String(password),
		UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: aws.String(email)}, {Name: aws.String("custom:region"), Value: aws.String(region)}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(poolID), Username: aws.String(email)}); err != nil {
		t.Fatal(err)
	}
	auth, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(clientID), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password}})
	if err != nil {
		t.Fatal(err)
	}
	idToken := aws.ToString(auth.AuthenticationResult.IdToken)
	accessToken := aws.ToString(auth.AuthenticationResult.AccessToken)

	jwks := httpapilocal.NewJWKS(httpapilocal.MotoJWKSURL(srv.URL, poolID), nil)
	if err := jwks.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		issuer     string
		audience   string
		token      string
		wantStatus int
	}{
		{"moto ID token verifies", httpapilocal.CognitoIssuer(region, poolID), clientID, idToken, 200},
		// API Gateway checks client_id when there is no aud (Cognito access tokens).
		{"moto access token verifies", httpapilocal.CognitoIssuer(region, poolID), clientID, accessToken, 200},
		{"access token of another client", httpapilocal.CognitoIssuer(region, poolID), "someone-else", accessToken, 401},
		{"another pool's issuer", httpapilocal.CognitoIssuer("us-east-1", poolID), clientID, idToken, 401},
		{"another client", httpapilocal.CognitoIssuer(region, poolID), "someone-else", idToken, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]string
			handler := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				got = ev.RequestContext.Authorizer.JWT.Claims
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "{}"}, nil
			}
			api, err := httpapilocal.New(httpapilocal.Config{Routes: []string{"GET /orders/{orderId}"}, Issuer: tt.issuer,
				Audience: []string{tt.audience}, Keyfunc: jwks.Keyfunc, Handler: lambda.NewHandler(handler).Invoke})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(api)
			defer hs.Close()
			req, _ := http.NewRequest(http.MethodGet, hs.URL+"/orders/o1", nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.wantStatus, resp.Header.Get("Www-Authenticate"))
			}
			if tt.token == accessToken {
				if tt.wantStatus == 200 && (got["client_id"] != clientID || got["custom:region"] != "") {
					t.Errorf("claims = %v", got)
				}
				return
			}
			if tt.wantStatus == 200 && (got["custom:region"] != region || got["sub"] == "" || got["email"] != email) {
				t.Errorf("claims = %v", got)
			}
		})
	}
}
