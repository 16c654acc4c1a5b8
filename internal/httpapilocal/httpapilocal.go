// Package httpapilocal emulates, for the local stack, an API Gateway HTTP API
// with a Cognito JWT authorizer in front of a Lambda integration (payload
// format 2.0): it verifies the ID token the way the authorizer does (RS256
// signature against the user pool's JWKS, issuer, audience = app client id,
// expiry; plus token_use = id), answers 401 {"message":"Unauthorized"} like
// API Gateway when it does not verify, builds the events.APIGatewayV2HTTPRequest
// (route key, path parameters, lower-cased headers, base64 body when binary,
// the token's claims under requestContext.authorizer.jwt.claims) and invokes
// the handler in-process, e.g. through lambda.NewHandler(h.Handle).Invoke.
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
	// Routes are the route keys, e.g. "POST /orders", "GET /orders/{orderId}".
	Routes []string
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
}

// API is an http.Handler serving the HTTP API.
type API struct {
	cfg    Config
	routes []route
	parser *jwt.Parser
}

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
	a.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return a.cfg.Now() }),
	)
	return a, nil
}

// match finds the route for method and path and its path parameters.
func (a *API) match(method, path string) (*route, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range a.routes {
		r := &a.routes[i]
		if r.method != method && r.method != "ANY" || len(r.segments) != len(segs) {
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
	status := a.serve(w, r, reqID, start)
	a.cfg.Logger.Info("http api", "method", r.Method, "path", r.URL.Path, "status", status,
		"ms", time.Since(start).Milliseconds(), "apiRequestId", reqID)
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, reqID string, start time.Time) int {
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
	ev := buildEvent(r, rt.key, params, claims, body, reqID, start)
	payload, err := json.Marshal(ev)
	if err != nil {
		a.cfg.Logger.Error("encode event", "err", err)
		return message(w, http.StatusInternalServerError, "Internal Server Error")
	}
	ctx, cancel := context.WithTimeout(r.Context(), IntegrationTimeout)
	defer cancel()
	out, err := a.invoke(ctx, payload)
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
	if use, _ := claims["token_use"].(string); use != "id" {
		return nil, "not an ID token"
	}
	return flatten(claims), ""
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

func buildEvent(r *http.Request, routeKey string, params, claims map[string]string, body []byte, reqID string, now time.Time) events.APIGatewayV2HTTPRequest {
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
			Stage:        "$default",
			RequestID:    reqID,
			APIID:        "local",
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

// message writes an API Gateway error: {"message":"..."}.
func message(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"message":%q}`, msg)
	return status
}
