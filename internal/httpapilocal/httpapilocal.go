// Package httpapilocal emulates, for the local stack, an API Gateway HTTP API
// with a Cognito JWT authorizer in front of a Lambda integration (payload
// format 2.0): it verifies the token the way the authorizer does (RS256
// signature against the user pool's JWKS, issuer, aud or else client_id = app
// client id, expiry), serves the routes and the $default route behind it,
// answers CORS preflights itself only when a CORS configuration is given,
// answers 401 {"message":"Unauthorized"} like
// API Gateway when it does not verify, builds the events.APIGatewayV2HTTPRequest
// (route key, path parameters, lower-cased headers, base64 body when binary,
// the token's claims under requestContext.authorizer.jwt.claims) and invokes
// the handler in-process, e.g. through lambda.NewHandler(h.Handle).Invoke.
//
// Every request is reported, when Config.Metrics is set, as the CloudWatch
// metrics API Gateway publishes for an HTTP API (MetricSample.Metrics).
package httpapilocal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Invoke runs the integration's Lambda handler: JSON event in, JSON response out.
type Invoke func(ctx context.Context, payload []byte) ([]byte, error)

// MaxBody is API Gateway's request payload limit (10 MB).
const MaxBody = 10 << 20

// IntegrationTimeout is API Gateway's HTTP API integration timeout.
const IntegrationTimeout = 30 * time.Second

// Config configures an API.
type Config struct {
	// Routes are the route keys, e.g. "POST /orders", "GET /orders/{orderId}",
	// "ANY /orders" and "$default", the catch-all for requests no other route
	// matches. Every route is behind the JWT authorizer, as the template's
	// DefaultAuthorizer puts it.
	Routes []string
	// CORS is the API's CORS configuration; nil means none.
	CORS *CORS
	// Issuer is the expected "iss" (see CognitoIssuer).
	Issuer string
	// Audience lists the accepted "aud" values (the app client ids).
	Audience []string
	// Keyfunc returns the key that verifies a token (see JWKS.Keyfunc).
	Keyfunc jwt.Keyfunc
	// Handler is the Lambda integration.
	Handler Invoke
	// Now is the clock for expiry checks; nil means time.Now.
	Now func() time.Time
	// Logger receives one access-log line per request (no tokens, no bodies); nil discards.
	Logger *slog.Logger
	// APIID is the API's id: the requestContext.apiId of the events and the
	// ApiId dimension of its metrics ("local" when empty).
	APIID string
	// Metrics, when set, receives every request once it is answered. It is
	// called on the request's goroutine: it must not block (e.g. queue the
	// sample for a batch publisher).
	Metrics func(MetricSample)
}

// CORS is an HTTP API's CORS configuration (AWS::ApiGatewayV2::Api Cors,
// SAM CorsConfiguration).
type CORS struct {
	AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders []string
	AllowCredentials                                        bool
	MaxAge                                                  int
}

// API is an http.Handler serving the HTTP API.
type API struct {
	cfg        Config
	routes     []route
	hasDefault bool
	parser     *jwt.Parser
}

// DefaultRoute is the $default route key: it catches the requests that don't
// match any other route
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html).
const DefaultRoute = "$default"

type route struct {
	key, method string
	segments    []string
}

// New checks cfg and returns an API.
func New(cfg Config) (*API, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("httpapilocal: Issuer is required")
	case len(cfg.Audience) == 0:
		return nil, errors.New("httpapilocal: Audience is required")
	case cfg.Keyfunc == nil:
		return nil, errors.New("httpapilocal: Keyfunc is required")
	case cfg.Handler == nil:
		return nil, errors.New("httpapilocal: Handler is required")
	}
	a := &API{cfg: cfg}
	for _, k := range cfg.Routes {
		if k == DefaultRoute {
			a.hasDefault = true
			continue
		}
		method, path, ok := strings.Cut(k, " ")
		if !ok || method == "" || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("httpapilocal: bad route key %q (want \"METHOD /path\")", k)
		}
		a.routes = append(a.routes, route{key: k, method: method, segments: strings.Split(strings.Trim(path, "/"), "/")})
	}
	if a.cfg.Now == nil {
		a.cfg.Now = time.Now
	}
	if a.cfg.Logger == nil {
		a.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if a.cfg.APIID == "" {
		a.cfg.APIID = "local"
	}
	a.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return a.cfg.Now() }),
	)
	return a, nil
}

// match finds the route for method and path and its path parameters: a
// route with the request's method before an ANY route, then $default.
func (a *API) match(method, path string) (*route, map[string]string) {
	if r, p := a.matchMethod(method, path); r != nil {
		return r, p
	}
	if r, p := a.matchMethod("ANY", path); r != nil {
		return r, p
	}
	if a.hasDefault {
		return &route{key: DefaultRoute}, nil
	}
	return nil, nil
}

func (a *API) matchMethod(method, path string) (*route, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range a.routes {
		r := &a.routes[i]
		if r.method != method || len(r.segments) != len(segs) {
			continue
		}
		var params map[string]string
		ok := true
		for j, s := range r.segments {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				if segs[j] == "" {
					ok = false
					break
				}
				if params == nil {
					params = map[string]string{}
				}
				params[s[1:len(s)-1]] = segs[j]
			} else if s != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return r, params
		}
	}
	return nil, nil
}

// ServeHTTP answers one request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.cfg.Now()
	reqID := uuid.NewString()
	w.Header().Set("Apigw-Requestid", reqID)
	began := time.Now()
	var in integration
	status := a.serve(w, r, reqID, start, &in)
	elapsed := time.Since(began)
	a.cfg.Logger.Info("http api", "method", r.Method, "path", r.URL.Path, "status", status,
		"ms", elapsed.Milliseconds(), "apiRequestId", reqID)
	if a.cfg.Metrics != nil {
		a.cfg.Metrics(MetricSample{APIID: a.cfg.APIID, Stage: Stage, Time: start, Status: status, Latency: elapsed,
			Integrated: in.called, IntegrationLatency: in.took})
	}
}

// integration records whether and how long a request's integration ran.
type integration struct {
	called bool
	took   time.Duration
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, reqID string, start time.Time, in *integration) int {
	if a.cfg.CORS != nil {
		// "If you configure CORS for an API, API Gateway automatically sends a
		// response to preflight OPTIONS requests, even if there isn't an
		// OPTIONS route configured", before any authorizer; a preflight has
		// both Origin and Access-Control-Request-Method
		// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html).
		if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			a.cfg.CORS.preflight(w.Header(), r.Header.Get("Origin"))
			w.WriteHeader(http.StatusNoContent)
			return http.StatusNoContent
		}
		// Other requests get the configured headers on whatever is answered
		// (the integration's own CORS headers are ignored).
		if o := r.Header.Get("Origin"); o != "" {
			w = &corsWriter{ResponseWriter: w, cors: a.cfg.CORS, origin: o}
		}
	}
	// Without a CORS configuration OPTIONS is a method like any other: it goes
	// to the routes ($default included), behind the authorizer.
	rt, params := a.match(r.Method, r.URL.Path)
	if rt == nil {
		return message(w, http.StatusNotFound, "Not Found")
	}
	claims, why := a.authorize(r.Header.Get("Authorization"))
	if why != "" {
		w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer scope="" error="invalid_token" error_description=%q`, why))
		return message(w, http.StatusUnauthorized, "Unauthorized")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return message(w, http.StatusBadRequest, "Bad Request")
	}
	if len(body) > MaxBody {
		return message(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
	}
	ev := buildEvent(r, rt.key, params, claims, body, reqID, a.cfg.APIID, start)
	payload, err := json.Marshal(ev)
	if err != nil {
		a.cfg.Logger.Error("encode event", "err", err)
		return message(w, http.StatusInternalServerError, "Internal Server Error")
	}
	ctx, cancel := context.WithTimeout(r.Context(), IntegrationTimeout)
	defer cancel()
	called := time.Now()
	out, err := a.invoke(ctx, payload)
	in.called, in.took = true, time.Since(called)
	if err != nil {
		a.cfg.Logger.Error("integration failed", "route", rt.key, "err", err, "apiRequestId", reqID)
		if ctx.Err() != nil {
			return message(w, http.StatusServiceUnavailable, "Service Unavailable")
		}
		return message(w, http.StatusInternalServerError, "Internal Server Error")
	}
	return writeResponse(w, out)
}

func (a *API) invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return a.cfg.Handler(ctx, payload)
}

// authorize verifies the bearer token and returns its claims as API Gateway
// passes them, or the reason it is refused.
func (a *API) authorize(header string) (map[string]string, string) {
	tok := strings.TrimSpace(header)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		return nil, "missing token"
	}
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(tok, claims, a.cfg.Keyfunc)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, "the token has expired"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, "the token does not have a valid audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, "the token does not have a valid issuer"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, "signature is invalid"
	default:
		return nil, "invalid token"
	}
	// "the JWT's aud or client_id claim must match one of the audience
	// entries that's configured for the authorizer. API Gateway validates
	// client_id only if aud is not present"
	// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html).
	// API Gateway does not look at token_use: Cognito access tokens (client_id,
	// no aud) are accepted; the handler refuses what lacks its claims.
	if !a.audienceOK(claims) {
		return nil, "the token does not have a valid audience"
	}
	return flatten(claims), ""
}

// audienceOK checks aud when present, else client_id, against the audience.
func (a *API) audienceOK(c jwt.MapClaims) bool {
	var got []string
	if _, present := c["aud"]; present {
		aud, err := c.GetAudience()
		if err != nil {
			return false
		}
		got = aud
	} else if id, ok := c["client_id"].(string); ok {
		got = []string{id}
	}
	for _, g := range got {
		for _, want := range a.cfg.Audience {
			if g == want {
				return true
			}
		}
	}
	return false
}

// flatten renders claims as API Gateway does: every value a string.
func flatten(c jwt.MapClaims) map[string]string {
	m := make(map[string]string, len(c))
	for k, v := range c {
		switch v := v.(type) {
		case string:
			m[k] = v
		case float64:
			m[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			m[k] = strconv.FormatBool(v)
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			m[k] = "[" + strings.Join(parts, " ") + "]"
		default:
			b, _ := json.Marshal(v)
			m[k] = string(b)
		}
	}
	return m
}

// textual reports whether API Gateway passes a body of this content type as
// text; anything else is base64-encoded.
func textual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}

func buildEvent(r *http.Request, routeKey string, params, claims map[string]string, body []byte, reqID, apiID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	if r.ContentLength > 0 || len(body) > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = make(map[string]string, len(q))
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	host, _, _ := strings.Cut(r.Host, ":")
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "123456789012",
			Stage:        Stage,
			RequestID:    reqID,
			APIID:        apiID,
			DomainName:   host,
			DomainPrefix: strings.SplitN(host, ".", 2)[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent(),
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
			},
		},
	}
	if len(body) > 0 {
		if textual(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// writeResponse writes a payload 2.0 response; output that is not a response
// object is the body of a 200 application/json response, as API Gateway does.
func writeResponse(w http.ResponseWriter, out []byte) int {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(out, &probe); err != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(bytes.TrimSpace(out))
		return http.StatusOK
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		return message(w, http.StatusInternalServerError, "Internal Server Error")
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return message(w, http.StatusInternalServerError, "Internal Server Error")
		}
		body = b
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode
}

// allowsOrigin reports whether origin is one of AllowOrigins ("*": any).
func (c *CORS) allowsOrigin(origin string) bool {
	for _, o := range c.AllowOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// originHeader sets Access-Control-Allow-Origin (and credentials) for an allowed origin.
func (c *CORS) originHeader(h http.Header, origin string) bool {
	if !c.allowsOrigin(origin) {
		return false
	}
	if len(c.AllowOrigins) == 1 && c.AllowOrigins[0] == "*" && !c.AllowCredentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	return true
}

// preflight sets the headers of API Gateway's own answer to a preflight.
func (c *CORS) preflight(h http.Header, origin string) {
	if !c.originHeader(h, origin) {
		return
	}
	if len(c.AllowMethods) > 0 {
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
	}
	if len(c.AllowHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
}

// corsWriter replaces the response's CORS headers with the configured ones.
type corsWriter struct {
	http.ResponseWriter
	cors   *CORS
	origin string
	done   bool
}

func (cw *corsWriter) WriteHeader(status int) {
	if !cw.done {
		cw.done = true
		h := cw.Header()
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				h.Del(k)
			}
		}
		if cw.cors.originHeader(h, cw.origin) && len(cw.cors.ExposeHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(cw.cors.ExposeHeaders, ","))
		}
	}
	cw.ResponseWriter.WriteHeader(status)
}

func (cw *corsWriter) Write(b []byte) (int, error) {
	if !cw.done {
		cw.WriteHeader(http.StatusOK)
	}
	return cw.ResponseWriter.Write(b)
}

// message writes an API Gateway error: {"message":"..."}.
func message(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"message":%q}`, msg)
	return status
}
