package httpapilocal_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/golang-jwt/jwt/v5"

	"github.com/homeregion/homeregion/internal/httpapilocal"
)

const (
	issuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool"
	clientID = "client1"
)

var (
	keyOnce          sync.Once
	signKey, evilKey *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if signKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if evilKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return signKey, evilKey
}

func jwksJSON(kid string, k *rsa.PublicKey) string {
	n := base64.RawURLEncoding.EncodeToString(k.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())
	return `{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"` + kid + `","n":"` + n + `","e":"` + e + `"}]}`
}

var now = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

func idClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": issuer, "aud": clientID, "sub": "3f1c-sub", "token_use": "id",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"custom:region": "eu-west-1", "email_verified": true,
	}
}

// accessClaims are a Cognito access token's: no aud, client_id instead, no
// custom or e-mail claims. An empty client drops client_id.
func accessClaims(client string) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": issuer, "sub": "3f1c-sub", "token_use": "access", "scope": "aws.cognito.signin.user.admin",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "username": "3f1c-sub",
	}
	if client != "" {
		c["client_id"] = client
	}
	return c
}

func sign(t *testing.T, k *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type harness struct {
	url    string
	events []events.APIGatewayV2HTTPRequest
	answer func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	// samples receives the API's metric samples (dropped when full).
	samples chan httpapilocal.MetricSample
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, []string{"POST /orders", "GET /orders/{orderId}"}, nil)
}

// newHarnessWith serves routes (template route keys, "$default" included)
// with cors as the API's CORS configuration (nil: none).
func newHarnessWith(t *testing.T, routes []string, cors *httpapilocal.CORS) *harness {
	t.Helper()
	key, _ := keys(t)
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, jwksJSON("k1", &key.PublicKey))
	}))
	t.Cleanup(jwksSrv.Close)
	jwks := httpapilocal.NewJWKS(jwksSrv.URL, nil)
	if err := jwks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{samples: make(chan httpapilocal.MetricSample, 16)}
	handler := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		h.events = append(h.events, ev)
		if h.answer != nil {
			return h.answer(ev)
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 202, Headers: map[string]string{"Content-Type": "application/json", "Location": "/orders/o1"}, Body: `{"orderId":"o1"}`}, nil
	}
	api, err := httpapilocal.New(httpapilocal.Config{
		Routes:   routes,
		CORS:     cors,
		Issuer:   issuer,
		Audience: []string{clientID},
		Keyfunc:  jwks.Keyfunc,
		Handler:  lambda.NewHandler(handler).Invoke,
		Now:      func() time.Time { return now },
		APIID:    "api1",
		Metrics: func(s httpapilocal.MetricSample) {
			select {
			case h.samples <- s:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func do(t *testing.T, method, url, auth, contentType string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Idempotency-Key", "k-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestRefusedTokens(t *testing.T) {
	key, evil := keys(t)
	with := func(kv ...any) jwt.MapClaims {
		c := idClaims()
		for i := 0; i < len(kv); i += 2 {
			if k := kv[i].(string); kv[i+1] == nil {
				delete(c, k)
			} else {
				c[k] = kv[i+1]
			}
		}
		return c
	}
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, idClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	pubDER := key.PublicKey.N.Bytes()
	hsTok := jwt.NewWithClaims(jwt.SigningMethodHS256, idClaims())
	hsTok.Header["kid"] = "k1"
	hs, _ := hsTok.SignedString(pubDER)

	tests := []struct {
		name, auth, why string
	}{
		{"no token", "", "missing token"},
		{"garbage", "Bearer not.a.jwt", "invalid token"},
		{"expired", "Bearer " + sign(t, key, "k1", with("exp", now.Add(-time.Second).Unix())), "the token has expired"},
		{"no expiry", "Bearer " + sign(t, key, "k1", with("exp", nil)), "invalid token"},
		{"wrong audience", "Bearer " + sign(t, key, "k1", with("aud", "other-client")), "the token does not have a valid audience"},
		{"wrong issuer", "Bearer " + sign(t, key, "k1", with("iss", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool")), "the token does not have a valid issuer"},
		{"issued in the future", "Bearer " + sign(t, key, "k1", with("iat", now.Add(time.Hour).Unix())), "the token is not valid yet"},
		{"unsigned (alg none)", "Bearer " + unsigned, "signature is invalid"},
		{"signed by another key", "Bearer " + sign(t, evil, "k1", idClaims()), "signature is invalid"},
		{"HS256 with the public key", "Bearer " + hs, "signature is invalid"},
		{"unknown kid", "Bearer " + sign(t, key, "k2", idClaims()), "signature is invalid"},
		// An access token has no aud: API Gateway then checks client_id.
		{"access token for another client", "Bearer " + sign(t, key, "k1", accessClaims("other-client")), "the token does not have a valid audience"},
		{"access token without client_id", "Bearer " + sign(t, key, "k1", accessClaims("")), "the token does not have a valid audience"},
		// When aud is present it is the one evaluated, even if client_id would match.
		{"wrong aud, right client_id", "Bearer " + sign(t, key, "k1", with("client_id", clientID, "aud", "other-client")), "the token does not have a valid audience"},
	}
	h := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, h.url+"/orders", tt.auth, "application/json", []byte(`{}`))
			if resp.StatusCode != http.StatusUnauthorized || body != `{"message":"Unauthorized"}` {
				t.Fatalf("got %d %s, want 401 Unauthorized", resp.StatusCode, body)
			}
			if wa := resp.Header.Get("Www-Authenticate"); !strings.Contains(wa, `error_description="`+tt.why+`"`) {
				t.Errorf("WWW-Authenticate = %q, want %q", wa, tt.why)
			}
		})
	}
	if len(h.events) != 0 {
		t.Fatalf("handler ran %d times for refused tokens", len(h.events))
	}
}

func TestGoodTokenReachesHandler(t *testing.T) {
	key, _ := keys(t)
	tok := sign(t, key, "k1", idClaims())
	tests := []struct {
		name, method, path, auth, contentType string
		body                                  []byte
		wantRoute                             string
		wantParams                            map[string]string
		wantBody                              string
		wantB64                               bool
		access                                bool
	}{
		{name: "json body", method: "POST", path: "/orders", auth: "Bearer " + tok, contentType: "application/json",
			body: []byte(`{"items":[]}`), wantRoute: "POST /orders", wantBody: `{"items":[]}`},
		{name: "token without Bearer prefix", method: "POST", path: "/orders", auth: tok, contentType: "application/json; charset=utf-8",
			body: []byte(`{}`), wantRoute: "POST /orders", wantBody: `{}`},
		{name: "binary body is base64", method: "POST", path: "/orders", auth: "Bearer " + tok, contentType: "application/octet-stream",
			body: []byte{0xff, 0x00, 0x01}, wantRoute: "POST /orders", wantBody: base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0x01}), wantB64: true},
		{name: "path parameter", method: "GET", path: "/orders/o-42", auth: "Bearer " + tok,
			wantRoute: "GET /orders/{orderId}", wantParams: map[string]string{"orderId": "o-42"}},
		// API Gateway's JWT authorizer: "If the aud claim isn't present, the
		// authorizer checks client_id" (http-api-jwt-authorizer.html).
		{name: "access token whose client_id is an audience", method: "GET", path: "/orders/o-42", auth: "Bearer " + sign(t, key, "k1", accessClaims(clientID)),
			wantRoute: "GET /orders/{orderId}", wantParams: map[string]string{"orderId": "o-42"}, access: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			resp, body := do(t, tt.method, h.url+tt.path, tt.auth, tt.contentType, tt.body)
			if resp.StatusCode != 202 || body != `{"orderId":"o1"}` || resp.Header.Get("Location") != "/orders/o1" {
				t.Fatalf("got %d %s %v", resp.StatusCode, body, resp.Header)
			}
			if len(h.events) != 1 {
				t.Fatalf("handler ran %d times", len(h.events))
			}
			ev := h.events[0]
			claims := ev.RequestContext.Authorizer.JWT.Claims
			if ev.Version != "2.0" || ev.RouteKey != tt.wantRoute || ev.RequestContext.RouteKey != tt.wantRoute || ev.RawPath != tt.path ||
				ev.RequestContext.HTTP.Method != tt.method || ev.Body != tt.wantBody || ev.IsBase64Encoded != tt.wantB64 {
				t.Errorf("event = %+v", ev)
			}
			if tt.access {
				if claims["sub"] != "3f1c-sub" || claims["client_id"] != clientID || claims["token_use"] != "access" || claims["custom:region"] != "" {
					t.Errorf("claims = %v", claims)
				}
				return
			}
			if claims["sub"] != "3f1c-sub" || claims["custom:region"] != "eu-west-1" || claims["email_verified"] != "true" || claims["exp"] != "1795312800" {
				t.Errorf("claims = %v", claims)
			}
			if ev.Headers["content-type"] != tt.contentType {
				t.Errorf("content-type header = %q, want %q (the orders API requires it)", ev.Headers["content-type"], tt.contentType)
			}
			if ev.Headers["idempotency-key"] != "k-1" || ev.Headers["Idempotency-Key"] != "" {
				t.Errorf("headers not lower-cased: %v", ev.Headers)
			}
			if len(tt.wantParams) != len(ev.PathParameters) || ev.PathParameters["orderId"] != tt.wantParams["orderId"] {
				t.Errorf("path parameters = %v, want %v", ev.PathParameters, tt.wantParams)
			}
		})
	}
}

func TestRoutingAndIntegrationErrors(t *testing.T) {
	key, _ := keys(t)
	auth := "Bearer " + sign(t, key, "k1", idClaims())
	tests := []struct {
		name, method, path, auth string
		answer                   func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		wantStatus               int
		wantBody                 string
		wantCalls                int
	}{
		// Without a $default route API Gateway answers unmatched requests itself.
		{name: "unknown route, no $default", method: "GET", path: "/nope", wantStatus: 404, wantBody: `{"message":"Not Found"}`},
		{name: "wrong method, no $default", method: "DELETE", path: "/orders", auth: auth, wantStatus: 404, wantBody: `{"message":"Not Found"}`},
		{name: "handler error", method: "POST", path: "/orders", auth: auth, wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`, wantCalls: 1,
			answer: func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{}, errors.New("boom")
			}},
		{name: "base64 response", method: "POST", path: "/orders", auth: auth, wantStatus: 400, wantBody: `{"error":{}}`, wantCalls: 1,
			answer: func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 400, IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString([]byte(`{"error":{}}`))}, nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.answer = tt.answer
			resp, body := do(t, tt.method, h.url+tt.path, tt.auth, "application/json", []byte(`{}`))
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody || len(h.events) != tt.wantCalls {
				t.Fatalf("got %d %s after %d calls, want %d %s after %d", resp.StatusCode, body, len(h.events), tt.wantStatus, tt.wantBody, tt.wantCalls)
			}
		})
	}
}

// TestDefaultRouteAndPreflight: the template's routes, $default included,
// all behind the authorizer; OPTIONS is a method like any other unless the
// API has a CORS configuration, when API Gateway answers the preflight itself
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html).
func TestDefaultRouteAndPreflight(t *testing.T) {
	key, _ := keys(t)
	auth := "Bearer " + sign(t, key, "k1", idClaims())
	routes := []string{"POST /orders", "GET /orders/{orderId}", "$default"}
	cors := &httpapilocal.CORS{AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"authorization", "content-type", "idempotency-key"}, MaxAge: 300}
	tests := []struct {
		name, method, path, auth string
		cors                     *httpapilocal.CORS
		origin                   string
		wantStatus               int
		wantBody, wantRoute      string
		wantHeaders              map[string]string
	}{
		{name: "unknown route without a token: the authorizer refuses", method: "GET", path: "/nope", wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "unknown route with a token: $default", method: "GET", path: "/nope", auth: auth, wantStatus: 202, wantRoute: "$default"},
		{name: "wrong method with a token: $default", method: "DELETE", path: "/orders", auth: auth, wantStatus: 202, wantRoute: "$default"},
		{name: "route still wins over $default", method: "POST", path: "/orders", auth: auth, wantStatus: 202, wantRoute: "POST /orders"},
		{name: "no CORS: preflight without a token is refused", method: "OPTIONS", path: "/orders", origin: "https://app.example.com", wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "no CORS: OPTIONS with a token goes to $default", method: "OPTIONS", path: "/orders", origin: "https://app.example.com", auth: auth, wantStatus: 202, wantRoute: "$default"},
		{name: "CORS: preflight answered without the authorizer", method: "OPTIONS", path: "/orders", cors: cors, origin: "https://app.example.com", wantStatus: 204,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "GET,POST",
				"Access-Control-Allow-Headers": "authorization,content-type,idempotency-key", "Access-Control-Max-Age": "300"}},
		{name: "CORS: preflight from another origin gets no CORS headers", method: "OPTIONS", path: "/orders", cors: cors, origin: "https://evil.example", wantStatus: 204,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "CORS: OPTIONS that is not a preflight goes to the routes", method: "OPTIONS", path: "/orders", cors: cors, wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "CORS: headers added to the integration's answer", method: "POST", path: "/orders", cors: cors, origin: "https://app.example.com", auth: auth, wantStatus: 202, wantRoute: "POST /orders",
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessWith(t, routes, tt.cors)
			req, _ := http.NewRequest(tt.method, h.url+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
				if tt.method == "OPTIONS" {
					req.Header.Set("Access-Control-Request-Method", "POST")
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || tt.wantBody != "" && string(b) != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			if tt.wantRoute == "" && len(h.events) != 0 || tt.wantRoute != "" && (len(h.events) != 1 || h.events[0].RouteKey != tt.wantRoute) {
				t.Fatalf("handler events %+v, want route %q", h.events, tt.wantRoute)
			}
			for k, v := range tt.wantHeaders {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	key, _ := keys(t)
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"valid", jwksJSON("k1", &key.PublicKey), false},
		{"not json", `nope`, true},
		{"no keys", `{"keys":[]}`, true},
		{"only an EC key", `{"keys":[{"kty":"EC","kid":"e"}]}`, true},
		{"bad modulus", `{"keys":[{"kty":"RSA","kid":"k","n":"!!","e":"AQAB"}]}`, true},
		{"bad exponent", `{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":""}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := httpapilocal.ParseJWKS([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && (ks["k1"] == nil || ks["k1"].N.Cmp(key.N) != 0 || ks["k1"].E != key.E) {
				t.Errorf("keys = %v", ks)
			}
		})
	}
}

func TestJWKSRefetchesOnUnknownKid(t *testing.T) {
	key, evil := keys(t)
	var mu sync.Mutex
	body, fetches := jwksJSON("old", &evil.PublicKey), 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		io.WriteString(w, body)
	}))
	defer srv.Close()
	j := httpapilocal.NewJWKS(srv.URL, nil)
	j.MinRefresh = time.Nanosecond
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	body = jwksJSON("new", &key.PublicKey) // rotation
	mu.Unlock()
	tok, err := jwt.Parse(sign(t, key, "new", idClaims()), j.Keyfunc, jwt.WithoutClaimsValidation())
	if err != nil || !tok.Valid || fetches != 2 {
		t.Fatalf("parse after rotation: %v valid=%v fetches=%d", err, tok != nil && tok.Valid, fetches)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	kf := func(*jwt.Token) (any, error) { return nil, nil }
	inv := func(context.Context, []byte) ([]byte, error) { return nil, nil }
	tests := []struct {
		name string
		cfg  httpapilocal.Config
	}{
		{"no issuer", httpapilocal.Config{Audience: []string{"a"}, Keyfunc: kf, Handler: inv}},
		{"no audience", httpapilocal.Config{Issuer: "i", Keyfunc: kf, Handler: inv}},
		{"no keyfunc", httpapilocal.Config{Issuer: "i", Audience: []string{"a"}, Handler: inv}},
		{"no handler", httpapilocal.Config{Issuer: "i", Audience: []string{"a"}, Keyfunc: kf}},
		{"bad route", httpapilocal.Config{Issuer: "i", Audience: []string{"a"}, Keyfunc: kf, Handler: inv, Routes: []string{"orders"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := httpapilocal.New(tt.cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

// BenchmarkAuthorizedRequest measures one POST /orders through the emulated
// API: RS256 verification, event building and the in-process Lambda JSON path.
func BenchmarkAuthorizedRequest(b *testing.B) {
	key, _ := keys(b)
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, jwksJSON("k1", &key.PublicKey))
	}))
	defer jwksSrv.Close()
	jwks := httpapilocal.NewJWKS(jwksSrv.URL, nil)
	if err := jwks.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	handler := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 202, Body: `{"orderId":"o1"}`}, nil
	}
	api, err := httpapilocal.New(httpapilocal.Config{Routes: []string{"POST /orders"}, Issuer: issuer, Audience: []string{clientID},
		Keyfunc: jwks.Keyfunc, Handler: lambda.NewHandler(handler).Invoke, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, idClaims())
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(key)
	if err != nil {
		b.Fatal(err)
	}
	body := `{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"A","line1":"B","city":"C","postalCode":"1","country":"DE"}}`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+signed)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != 202 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
