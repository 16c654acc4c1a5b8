package httpdelivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/httpdelivery"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/processor"
)

// The order's PII: no log line, and no error, may contain any of these.
var pii = []string{"Ada Lovelace", "12 Secret Lane", "Flat 3", "Geheimstadt", "D-99887", "leave with neighbour"}

func envelope(id string) orders.Envelope {
	return orders.Envelope{Version: orders.EnvelopeVersion, OrderID: id, Region: "eu-west-1", Owner: "sub-123",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("CET", 3600)),
		Order: orders.Order{Items: []orders.Item{{SKU: "AB-12", Quantity: 2}, {SKU: "CD-3", Quantity: 1}},
			DeliveryAddress: orders.Address{Name: pii[0], Line1: pii[1], Line2: pii[2], City: pii[3], PostalCode: pii[4], Country: "DE"},
			Note:            pii[5]}}
}

// seen is one request as the endpoint received it.
type seen struct {
	at     time.Time
	header http.Header
	body   []byte
	user   string
	pass   string
}

// endpoint is an httptest server that records every request and answers
// the n-th (1-based) with answer(n, w, r).
type endpoint struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []seen
	conns int
}

func newEndpoint(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		e.mu.Lock()
		e.reqs = append(e.reqs, seen{at: time.Now(), header: r.Header.Clone(), body: body, user: user, pass: pass})
		n := len(e.reqs)
		e.mu.Unlock()
		answer(n, w, r)
	}))
	e.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			e.mu.Lock()
			e.conns++
			e.mu.Unlock()
		}
	}
	e.Start()
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) connections() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns
}

func (e *endpoint) requests() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.reqs...)
}

// statuses answers the n-th request with codes[n-1] (the last one after
// that), with a small body to drain.
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(n, len(codes))-1])
		_, _ = io.WriteString(w, strings.Repeat("some answer body ", 100))
	}
}

// hang holds r until its client gives up, or 3s (so that a broken
// timeout fails the test instead of hanging it).
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(3 * time.Second):
	}
}

// logLine is one decoded slog JSON record.
type logLine map[string]any

// deliverer builds a Deliverer for url whose JSON log goes to the returned
// buffer.
func deliverer(t *testing.T, cfg httpdelivery.Config, client *http.Client) (*httpdelivery.Deliverer, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	d, err := httpdelivery.New(cfg, client, slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return d, buf
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the log, failing t if any line holds PII or a secret.
func (b *syncBuffer) lines(t *testing.T) []logLine {
	t.Helper()
	b.mu.Lock()
	raw := b.buf.String()
	b.mu.Unlock()
	for _, s := range append(pii, "s3cret", "some answer body") {
		if strings.Contains(raw, s) {
			t.Errorf("the log contains %q:\n%s", s, raw)
		}
	}
	var out []logLine
	for _, l := range strings.Split(strings.TrimSpace(raw), "\n") {
		if l == "" {
			continue
		}
		var m logLine
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRequestShape(t *testing.T) {
	e := newEndpoint(t, statuses(http.StatusAccepted))
	url := strings.Replace(e.URL, "http://", "http://svc:s3cret@", 1) + "/v1/orders"
	d, _ := deliverer(t, httpdelivery.Config{URL: url}, nil)
	if err := d.Deliver(context.Background(), envelope("o-shape")); err != nil {
		t.Fatal(err)
	}
	reqs := e.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	for k, want := range map[string]string{"Content-Type": "application/json", "Idempotency-Key": "o-shape",
		"User-Agent": "homeregion-processor", "Homeregion-Attempt": "1"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if r.user != "svc" || r.pass != "s3cret" {
		t.Errorf("basic auth = %q:%q, want the URL's userinfo", r.user, r.pass)
	}

	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &top); err != nil {
		t.Fatalf("body: %v", err)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"createdAt", "order", "orderId", "owner", "region"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("body keys = %v, want %v", keys, want)
	}
	if got := string(top["createdAt"]); got != `"2026-01-02T02:04:05.6Z"` {
		t.Errorf("createdAt = %s, want RFC 3339 in UTC", got)
	}
	var p httpdelivery.Payload
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	o := envelope("o-shape")
	if p.OrderID != o.OrderID || p.Region != o.Region || p.Owner != o.Owner || !p.CreatedAt.Equal(o.CreatedAt) || !reflect.DeepEqual(p.Order, o.Order) {
		t.Errorf("payload = %+v, want the envelope %+v", p, o)
	}
	var order map[string]json.RawMessage
	if err := json.Unmarshal(top["order"], &order); err != nil || order["deliveryAddress"] == nil || order["items"] == nil {
		t.Errorf("order = %s: want the orders API's body (items, deliveryAddress)", top["order"])
	}
}

// TestStatuses drives Deliver through the endpoint's answers: what it
// returns, how many attempts it makes (each with the same key and its own
// attempt number) and the one log line per failed attempt.
func TestStatuses(t *testing.T) {
	type want int
	const (
		ok want = iota
		permanent
		transient
	)
	var cases = []struct {
		name     string
		codes    []int
		attempts int // Config.Attempts
		want     want
		calls    int
	}{
		{name: "200", codes: []int{200}, want: ok, calls: 1},
		{name: "201", codes: []int{201}, want: ok, calls: 1},
		{name: "204", codes: []int{204}, want: ok, calls: 1},
		{name: "5xx then 200", codes: []int{500, 502, 503, 504, 200}, want: ok, calls: 5},
		{name: "408 425 429 then 200", codes: []int{408, 425, 429, 200}, want: ok, calls: 4},
		{name: "409 is transient", codes: []int{409, 409, 200}, want: ok, calls: 3},
		{name: "always 500", codes: []int{500}, attempts: 3, want: transient, calls: 3},
		{name: "one attempt", codes: []int{503}, attempts: 1, want: transient, calls: 1},
		{name: "500 then 400", codes: []int{500, 400}, want: permanent, calls: 2},
	}
	// Misconfiguration (a redirect, credentials, a wrong path) is retried
	// and ends in the DLQ, never FAILED; only a refusal of the order is.
	for _, c := range []int{401, 403, 404, 405, 410, 451, 300, 302, 304} {
		cases = append(cases, struct {
			name     string
			codes    []int
			attempts int
			want     want
			calls    int
		}{name: strconv.Itoa(c) + " is retried", codes: []int{c, 200}, want: ok, calls: 2})
	}
	for _, c := range []int{400, 413, 415, 422} {
		cases = append(cases, struct {
			name     string
			codes    []int
			attempts int
			want     want
			calls    int
		}{name: strconv.Itoa(c) + " is permanent", codes: []int{c, 200}, want: permanent, calls: 1})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEndpoint(t, statuses(tc.codes...))
			d, log := deliverer(t, httpdelivery.Config{URL: e.URL, Attempts: tc.attempts, Backoff: 10 * time.Millisecond}, nil)
			err := d.Deliver(context.Background(), envelope("o-1"))
			switch {
			case tc.want == ok && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tc.want == permanent && !processor.IsPermanent(err):
				t.Fatalf("err = %v, want a permanent error", err)
			case tc.want == transient && (err == nil || processor.IsPermanent(err)):
				t.Fatalf("err = %v, want a transient error", err)
			}
			reqs := e.requests()
			if len(reqs) != tc.calls {
				t.Fatalf("%d requests, want %d", len(reqs), tc.calls)
			}
			for i, r := range reqs {
				if k := r.header.Get("Idempotency-Key"); k != "o-1" {
					t.Errorf("attempt %d: Idempotency-Key %q, want o-1", i+1, k)
				}
				if a := r.header.Get("Homeregion-Attempt"); a != strconv.Itoa(i+1) {
					t.Errorf("attempt %d: Homeregion-Attempt %q", i+1, a)
				}
				if !bytes.Equal(r.body, reqs[0].body) {
					t.Errorf("attempt %d: body differs from the first attempt's", i+1)
				}
			}
			if n := e.connections(); n != 1 {
				t.Errorf("%d connections for %d requests: bodies not drained, connection not reused", n, len(reqs))
			}

			lines := log.lines(t)
			failures := tc.calls
			if tc.want == ok {
				failures--
			}
			if len(lines) != failures {
				t.Fatalf("%d log lines for %d failed attempts: %v", len(lines), failures, lines)
			}
			for i, l := range lines {
				last := i == len(lines)-1 && tc.want != ok
				level := "WARN"
				if last && tc.want == permanent {
					level = "ERROR"
				}
				if l["level"] != level || l["orderId"] != "o-1" || l["attempt"] != float64(i+1) || l["status"] != float64(answered(tc.codes, i)) {
					t.Errorf("line %d = %v, want %s with orderId, attempt %d and status", i, l, level, i+1)
				}
				if _, has := l["retryIn"]; has == last {
					t.Errorf("line %d = %v: retryIn only when a retry follows", i, l)
				}
			}
			if err != nil {
				msg := err.Error()
				if !strings.Contains(msg, "o-1") || !strings.Contains(msg, "status "+strconv.Itoa(answered(tc.codes, tc.calls-1))) {
					t.Errorf("err = %q: want the order id and the last status", msg)
				}
				if tc.want == transient && !strings.Contains(msg, strconv.Itoa(tc.calls)+" attempts") {
					t.Errorf("err = %q: want the number of attempts", msg)
				}
			}
		})
	}
}

// answered is the status statuses(codes...) gave the i-th (0-based) request.
func answered(codes []int, i int) int { return codes[min(i+1, len(codes))-1] }

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		code       int
		retryAfter string
		minGap     time.Duration
		maxGap     time.Duration
	}{
		{name: "429 honoured", code: 429, retryAfter: "1", minGap: time.Second, maxGap: 1800 * time.Millisecond},
		{name: "503 honoured", code: 503, retryAfter: " 1 ", minGap: time.Second, maxGap: 1800 * time.Millisecond},
		{name: "503 zero", code: 503, retryAfter: "0", maxGap: 300 * time.Millisecond},
		{name: "longer than the cap ignored", code: 503, retryAfter: "31", maxGap: 300 * time.Millisecond},
		{name: "HTTP date ignored", code: 429, retryAfter: "Wed, 21 Oct 2099 07:28:00 GMT", maxGap: 300 * time.Millisecond},
		{name: "500 ignores it", code: 500, retryAfter: "1", maxGap: 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEndpoint(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					w.WriteHeader(tc.code)
				}
			})
			d, log := deliverer(t, httpdelivery.Config{URL: e.URL, Backoff: 10 * time.Millisecond}, nil)
			if err := d.Deliver(context.Background(), envelope("o-ra")); err != nil {
				t.Fatal(err)
			}
			reqs := e.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if gap := reqs[1].at.Sub(reqs[0].at); gap < tc.minGap || gap > tc.maxGap {
				t.Errorf("retried after %s, want %s..%s", gap, tc.minGap, tc.maxGap)
			}
			if lines := log.lines(t); len(lines) != 1 || (tc.minGap > 0 && lines[0]["retryIn"] != "1s") {
				t.Errorf("log = %v, want one line with the delay", lines)
			}
		})
	}
}

// TestBackoffGrows checks the retry delays double from Backoff, with jitter
// between half and all of each.
func TestBackoffGrows(t *testing.T) {
	e := newEndpoint(t, statuses(500))
	d, log := deliverer(t, httpdelivery.Config{URL: e.URL, Attempts: 4, Backoff: 100 * time.Millisecond}, nil)
	if err := d.Deliver(context.Background(), envelope("o-b")); err == nil {
		t.Fatal("want an error")
	}
	reqs := e.requests()
	for i, nominal := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		gap := reqs[i+1].at.Sub(reqs[i].at)
		if gap < nominal/2 || gap > nominal+150*time.Millisecond {
			t.Errorf("delay %d = %s, want %s..%s", i+1, gap, nominal/2, nominal)
		}
		d, err := time.ParseDuration(log.lines(t)[i]["retryIn"].(string))
		if err != nil || d < nominal/2 || d > nominal {
			t.Errorf("retryIn %d = %s, want %s..%s", i+1, d, nominal/2, nominal)
		}
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	e := newEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			hang(r) // the first attempt

		}
	})
	d, log := deliverer(t, httpdelivery.Config{URL: e.URL, Timeout: 200 * time.Millisecond, Backoff: 10 * time.Millisecond}, nil)
	start := time.Now()
	if err := d.Deliver(context.Background(), envelope("o-t")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s: the attempt was not cut at its timeout", took)
	}
	if n := len(e.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if lines := log.lines(t); len(lines) != 1 || lines[0]["error"] != "timeout" || lines[0]["attempt"] != float64(1) {
		t.Errorf("log = %v, want one timeout line", lines)
	}
}

func TestTimeoutEveryAttempt(t *testing.T) {
	e := newEndpoint(t, func(_ int, _ http.ResponseWriter, r *http.Request) { hang(r) })
	d, log := deliverer(t, httpdelivery.Config{URL: e.URL, Attempts: 2, Timeout: 100 * time.Millisecond, Backoff: 10 * time.Millisecond}, nil)
	err := d.Deliver(context.Background(), envelope("o-t2"))
	if err == nil || processor.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "o-t2") || !strings.Contains(err.Error(), "2 attempts") || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v, want a transient timeout naming the order and the attempts", err)
	}
	if lines := log.lines(t); len(lines) != 2 {
		t.Errorf("log = %v, want 2 lines", lines)
	}
}

func TestCancel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(int, http.ResponseWriter, *http.Request)
		cfg    httpdelivery.Config
	}{
		{name: "during an attempt", cfg: httpdelivery.Config{Timeout: time.Minute},
			answer: func(_ int, _ http.ResponseWriter, r *http.Request) { hang(r) }},
		{name: "waiting to retry", cfg: httpdelivery.Config{Backoff: time.Minute}, answer: statuses(503)},
		{name: "waiting for Retry-After", cfg: httpdelivery.Config{Backoff: 10 * time.Millisecond},
			answer: func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(429)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEndpoint(t, tc.answer)
			tc.cfg.URL = e.URL
			d, _ := deliverer(t, tc.cfg, nil)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			done := make(chan error, 1)
			go func() { done <- d.Deliver(ctx, envelope("o-c")) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Second):
				t.Fatal("Deliver still running 900ms after the cancel")
			}
			if !errors.Is(err, context.Canceled) || processor.IsPermanent(err) || !strings.Contains(err.Error(), "o-c") {
				t.Errorf("err = %v, want context.Canceled, transient, naming the order", err)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	elsewhere := newEndpoint(t, statuses(200))
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, client := range []*http.Client{nil, {}} {
			e := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/stolen", code)
			})
			d, log := deliverer(t, httpdelivery.Config{URL: e.URL, Attempts: 2, Backoff: 10 * time.Millisecond}, client)
			err := d.Deliver(context.Background(), envelope("o-r"))
			// A redirect is the endpoint's misconfiguration, not the
			// order's: retried, never FAILED.
			if err == nil || processor.IsPermanent(err) || !strings.Contains(err.Error(), "status "+strconv.Itoa(code)) {
				t.Errorf("%d (own client %v): err = %v, want transient naming the status", code, client != nil, err)
			}
			if lines := log.lines(t); len(lines) != 2 || lines[0]["level"] != "WARN" {
				t.Errorf("%d: log = %v, want one WARN line per attempt", code, lines)
			}
		}
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Fatalf("a redirect was followed: %d requests reached its target", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d, log := deliverer(t, httpdelivery.Config{URL: "http://svc:s3cret@" + addr + "/in", Attempts: 2, Backoff: 10 * time.Millisecond}, nil)
	err = d.Deliver(context.Background(), envelope("o-refused"))
	if err == nil || processor.IsPermanent(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want transient, connection refused", err)
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "svc") {
		t.Errorf("err = %v: shows the URL's userinfo", err)
	}
	lines := log.lines(t)
	if len(lines) != 2 {
		t.Fatalf("log = %v, want 2 lines", lines)
	}
	for _, l := range lines {
		if l["error"] != "connection refused" || l["status"] != nil {
			t.Errorf("line %v, want error class connection refused", l)
		}
	}
}

func TestOrderIDMustBeAKey(t *testing.T) {
	e := newEndpoint(t, statuses(200))
	d, _ := deliverer(t, httpdelivery.Config{URL: e.URL}, nil)
	for _, id := range []string{"", "a\nb", "a\x00b"} {
		if err := d.Deliver(context.Background(), envelope(id)); !processor.IsPermanent(err) {
			t.Errorf("order id %q: err = %v, want permanent", id, err)
		}
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestConcurrent delivers many orders at once through one Deliverer (run
// with -race): each reaches the endpoint with its own key.
func TestConcurrent(t *testing.T) {
	var mu sync.Mutex
	keys := map[string]int{}
	e := newEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n%3 == 0 {
			w.WriteHeader(503)
			return
		}
		mu.Lock()
		keys[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
	})
	d, _ := deliverer(t, httpdelivery.Config{URL: e.URL, Attempts: 10, Backoff: 10 * time.Millisecond}, nil)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := d.Deliver(context.Background(), envelope("o-"+strconv.Itoa(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(keys) != 50 {
		t.Fatalf("%d keys accepted, want 50", len(keys))
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("%s accepted %d times", k, n)
		}
	}
}
