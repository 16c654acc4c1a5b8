// Package faultproxy is a small fault-injecting reverse proxy for tests: it
// sits on 127.0.0.1 between the real AWS SDK clients and moto_server and, per
// test and per API operation, adds latency, answers 5xx, answers throttling
// errors in the shape the SDK's protocol expects, resets connections, loses a
// response after the backend applied the request, or never answers at all.
//
// An operation is named the way the SDK names it on the wire: the part of the
// X-Amz-Target header after the dot for the JSON protocols (DynamoDB, SQS, KMS,
// ECS: "PutItem", "SendMessage"), the Action form parameter for the query
// protocol, and "METHOD /path" for REST protocols (Route 53:
// "POST /2013-04-01/healthcheck/..."). Rules match an operation exactly, by
// full target ("DynamoDB_20120810.PutItem"), by prefix when they end in "*",
// or everything when empty.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Protocol is an AWS wire protocol, which decides the shape of an injected error.
type Protocol int

// The protocols the proxy tells apart.
const (
	ProtoJSON  Protocol = iota // awsJson1_0 / awsJson1_1 (X-Amz-Target)
	ProtoQuery                 // awsQuery / ec2Query (Action=...)
	ProtoREST                  // restJson1 / restXml
)

// Kind is what a fault does.
type Kind int

// The fault kinds.
const (
	// Latency delays the request by Delay, then forwards it.
	Latency Kind = iota + 1
	// Status answers Code (e.g. 500, 503) without forwarding.
	Status
	// Throttle answers 400 with a throttling error (ErrorCode, default
	// ThrottlingException for JSON, Throttling for query/REST) without forwarding.
	Throttle
	// Reset closes the connection with a TCP reset without forwarding.
	Reset
	// BlackHole never answers: the request hangs until the client gives up.
	BlackHole
	// LostResponse forwards the request (the backend applies it), then
	// answers Code (default 500) instead of the backend's response, or resets
	// the connection when Code is -1: the client cannot know it succeeded.
	LostResponse
)

// Fault is one programmed failure.
type Fault struct {
	Kind Kind
	// Delay is Latency's added delay.
	Delay time.Duration
	// Code is the HTTP status for Status and LostResponse.
	Code int
	// ErrorCode overrides the error code of Throttle and Status answers
	// (e.g. "ProvisionedThroughputExceededException", "RequestThrottled").
	ErrorCode string
	// Times limits the fault to the first Times matching requests (0: all).
	Times int
}

// Rule applies a Fault to the requests whose operation matches Op.
type Rule struct {
	Op    string
	Fault Fault
	hits  int
}

// Event is one request the proxy saw.
type Event struct {
	Op        string
	Target    string
	Fault     Kind // 0 when none applied
	Forwarded bool // the backend received the request
	At        time.Time
}

// Proxy is a running fault proxy. Create it with Start.
type Proxy struct {
	upstream *url.URL
	ln       net.Listener
	srv      *http.Server
	rp       *httputil.ReverseProxy
	closed   chan struct{}
	once     sync.Once

	mu     sync.Mutex
	rules  []*Rule
	events []Event
}

// Start proxies 127.0.0.1:<free port> to upstream (e.g. moto's URL).
func Start(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: bad upstream %q", upstream)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{upstream: u, ln: ln, closed: make(chan struct{})}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // keep the signed Host header
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's endpoint, to use as the SDK's BaseEndpoint.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and releases black-holed requests.
func (p *Proxy) Close() error {
	p.once.Do(func() { close(p.closed) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		return p.srv.Close()
	}
	return nil
}

// Add programs a fault for op (see the package comment for matching); rules
// are tried in the order they were added and the first live match applies.
func (p *Proxy) Add(op string, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &Rule{Op: op, Fault: f})
}

// Clear removes every rule (the event log is kept).
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Events returns a copy of the requests seen so far.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Count returns how many requests for op were seen and how many of them
// reached the backend.
func (p *Proxy) Count(op string) (seen, forwarded int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if matches(op, e.Op, e.Target) {
			seen++
			if e.Forwarded {
				forwarded++
			}
		}
	}
	return seen, forwarded
}

func matches(pattern, op, target string) bool {
	switch {
	case pattern == "":
		return true
	case strings.HasSuffix(pattern, "*"):
		pre := strings.TrimSuffix(pattern, "*")
		return strings.HasPrefix(op, pre) || strings.HasPrefix(target, pre)
	default:
		return pattern == op || pattern == target
	}
}

// Operation names r's API operation and protocol; it reads (and restores) a
// form body to find a query-protocol Action.
func Operation(r *http.Request) (op, target string, proto Protocol) {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		op = t
		if i := strings.LastIndexByte(t, '.'); i >= 0 {
			op = t[i+1:]
		}
		return op, t, ProtoJSON
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a, a, ProtoQuery
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			return v.Get("Action"), v.Get("Action"), ProtoQuery
		}
	}
	op = r.Method + " " + r.URL.Path
	return op, op, ProtoREST
}

func (p *Proxy) pick(op, target string) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if !matches(r.Op, op, target) {
			continue
		}
		if r.Fault.Times > 0 && r.hits >= r.Fault.Times {
			continue
		}
		r.hits++
		return r.Fault, true
	}
	return Fault{}, false
}

func (p *Proxy) record(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

// ServeHTTP applies the first matching fault, or forwards the request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, target, proto := Operation(r)
	f, ok := p.pick(op, target)
	ev := Event{Op: op, Target: target, At: time.Now()}
	if ok {
		ev.Fault = f.Kind
	}
	switch {
	case !ok:
		ev.Forwarded = true
		p.record(ev)
		p.rp.ServeHTTP(w, r)
	case f.Kind == Latency:
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			p.record(ev)
			return
		case <-p.closed:
			p.record(ev)
			return
		}
		ev.Forwarded = true
		p.record(ev)
		p.rp.ServeHTTP(w, r)
	case f.Kind == Status:
		p.record(ev)
		code := f.Code
		if code == 0 {
			code = http.StatusInternalServerError
		}
		errorCode := f.ErrorCode
		if errorCode == "" {
			errorCode = "InternalFailure"
			if code == http.StatusServiceUnavailable {
				errorCode = "ServiceUnavailable"
			}
		}
		writeError(w, proto, code, errorCode, "injected by faultproxy")
	case f.Kind == Throttle:
		p.record(ev)
		code := f.ErrorCode
		if code == "" {
			code = "ThrottlingException"
			if proto != ProtoJSON {
				code = "Throttling"
			}
		}
		writeError(w, proto, http.StatusBadRequest, code, "Rate exceeded")
	case f.Kind == Reset:
		p.record(ev)
		reset(w)
	case f.Kind == BlackHole:
		p.record(ev)
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
		reset(w)
	case f.Kind == LostResponse:
		ev.Forwarded = true
		p.record(ev)
		rec := &discard{header: http.Header{}}
		p.rp.ServeHTTP(rec, r)
		if f.Code == -1 {
			reset(w)
			return
		}
		code := f.Code
		if code == 0 {
			code = http.StatusInternalServerError
		}
		writeError(w, proto, code, "InternalFailure", "injected by faultproxy after the backend applied the request")
	default:
		ev.Forwarded = true
		p.record(ev)
		p.rp.ServeHTTP(w, r)
	}
}

// writeError answers an AWS error in proto's shape.
func writeError(w http.ResponseWriter, proto Protocol, status int, code, msg string) {
	h := w.Header()
	h.Set("X-Amzn-RequestId", "faultproxy-0000")
	switch proto {
	case ProtoJSON:
		h.Set("Content-Type", "application/x-amz-json-1.0")
		h.Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws#%s","message":%q}`, code, msg)
	default:
		h.Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		typ := "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>faultproxy-0000</RequestId></ErrorResponse>`, typ, code, msg)
	}
}

// reset closes the client connection with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// discard is a ResponseWriter that drops the backend's response.
type discard struct {
	header http.Header
	code   int
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }
