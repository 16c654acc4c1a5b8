// Package sitehttptest provides a stand-in for an adopter's HTTP endpoint
// in tests of the processor's HTTP delivery (package httpdelivery): a local
// server on 127.0.0.1 that fails and answers slowly when told to, checks
// every request against the delivery contract, de-duplicates orders by
// their Idempotency-Key as the contract asks every endpoint to, and counts
// what it saw.
package sitehttptest

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/httpdelivery"
)

// maxBody bounds the request body the server reads.
const maxBody = 1 << 20

// Options choose the server's misbehaviour. The zero value accepts every
// valid request at once.
type Options struct {
	// FailEvery makes 1 request in FailEvery answer 500 or 503 (in turn,
	// without Retry-After); 0 never fails.
	FailEvery int
	// FailAfterAccept makes a failing request take its order first, as an
	// endpoint that crashes after committing: the order counts as accepted
	// and only the answer is lost. Otherwise a failing request takes
	// nothing.
	FailAfterAccept bool
	// SlowEvery makes 1 request in SlowEvery answer after SlowFor (or when
	// its client gives up), its order already taken: a client whose
	// timeout is shorter retries an order the server has; 0 never.
	SlowEvery int
	SlowFor   time.Duration
	// Seed chooses which requests fail or are slow. 0: deterministically,
	// the n-th request to arrive (1-based, every request counted) fails
	// when n is a multiple of FailEvery and is slow when n is a multiple of
	// SlowEvery. Otherwise each request fails with probability 1/FailEvery
	// and is slow with probability 1/SlowEvery, drawn in arrival order from
	// a PCG seeded with Seed.
	Seed uint64
}

// Stats count the requests a Server answered.
type Stats struct {
	Requests   int // every request
	Rejected   int // broke the contract (Mismatches): answered 400
	Failed     int // answered 500 or 503 on purpose
	Slow       int // answered after SlowFor (or when the client gave up)
	Duplicates int // de-duplicated: the order was already accepted, so not counted again
}

// keyState is what the server knows of one Idempotency-Key.
type keyState struct {
	attempts int
	accepted int // 0 or 1: the server de-duplicates
	payload  httpdelivery.Payload
}

// Server is the stand-in endpoint. It is safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	opts    Options
	closing chan struct{}

	mu         sync.Mutex
	rng        *rand.Rand // nil: deterministic
	stats      Stats
	keys       map[string]*keyState
	mismatches []string
}

// New starts a Server on 127.0.0.1 that t's cleanup closes. It fails t if
// opts are invalid.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	switch {
	case opts.FailEvery < 0, opts.SlowEvery < 0, opts.SlowFor < 0:
		t.Fatalf("sitehttptest: negative option in %+v", opts)
	case opts.SlowEvery > 0 && opts.SlowFor == 0:
		t.Fatalf("sitehttptest: SlowEvery %d without SlowFor", opts.SlowEvery)
	}
	s := &Server{opts: opts, closing: make(chan struct{}), keys: map[string]*keyState{}}
	if opts.Seed != 0 {
		s.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.closing) // releases slow answers
		s.srv.Close()
	})
	return s
}

// URL is the endpoint's URL, for DELIVERY_URL.
func (s *Server) URL() string { return s.srv.URL + "/orders" }

// every reports whether this request is one in n: the n-th by arrival when
// deterministic, else a draw. Called with s.mu held.
func (s *Server) every(n, seq int) bool {
	switch {
	case n == 0:
		return false
	case s.rng == nil:
		return seq%n == 0
	}
	return s.rng.IntN(n) == 0
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	key := r.Header.Get(httpdelivery.HeaderIdempotencyKey)

	s.mu.Lock()
	s.stats.Requests++
	seq := s.stats.Requests
	fail := s.every(s.opts.FailEvery, seq)
	slow := s.every(s.opts.SlowEvery, seq)
	k := s.keys[key]
	if k == nil && key != "" {
		k = &keyState{}
		s.keys[key] = k
	}
	if k != nil {
		k.attempts++
	}
	p, problem := check(r, key, body, readErr)
	if problem != "" {
		s.stats.Rejected++
		s.mismatches = append(s.mismatches, fmt.Sprintf("request %d (Idempotency-Key %q): %s", seq, key, problem))
		s.mu.Unlock()
		http.Error(w, "request breaks the delivery contract", http.StatusBadRequest)
		return
	}
	status := http.StatusOK
	if fail {
		s.stats.Failed++
		status = http.StatusInternalServerError
		if s.stats.Failed%2 == 0 {
			status = http.StatusServiceUnavailable
		}
	}
	if !fail || s.opts.FailAfterAccept {
		if k.accepted == 0 {
			k.accepted, k.payload = 1, p
		} else {
			s.stats.Duplicates++
		}
	}
	if slow {
		s.stats.Slow++
	}
	s.mu.Unlock()

	if slow {
		t := time.NewTimer(s.opts.SlowFor)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.closing:
		}
		t.Stop()
	}
	w.WriteHeader(status)
}

// check returns what is wrong with a delivery request, or "" and its
// payload.
func check(r *http.Request, key string, body []byte, readErr error) (httpdelivery.Payload, string) {
	var p httpdelivery.Payload
	if r.Method != http.MethodPost {
		return p, "method " + r.Method
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return p, fmt.Sprintf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if ua := r.Header.Get("User-Agent"); ua != httpdelivery.UserAgent {
		return p, fmt.Sprintf("User-Agent %q", ua)
	}
	if n, err := strconv.Atoi(r.Header.Get(httpdelivery.HeaderAttempt)); err != nil || n < 1 {
		return p, fmt.Sprintf("%s %q", httpdelivery.HeaderAttempt, r.Header.Get(httpdelivery.HeaderAttempt))
	}
	switch {
	case readErr != nil:
		return p, "body unreadable"
	case len(body) > maxBody:
		return p, "body over 1 MiB"
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, "body is not a delivery payload"
	}
	switch {
	case key == "":
		return p, "no " + httpdelivery.HeaderIdempotencyKey
	case p.OrderID != key:
		return p, fmt.Sprintf("body orderId %q differs from the key", p.OrderID)
	}
	return p, ""
}

// Accepted maps every Idempotency-Key that arrived to the times its order
// was accepted after de-duplication: 1, or 0 if no attempt with that key
// was ever accepted (each failed, or broke the contract).
func (s *Server) Accepted() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.keys))
	for k, st := range s.keys {
		out[k] = st.accepted
	}
	return out
}

// Attempts is how many requests carried key, valid or not (a request
// without a key shows in Mismatches only).
func (s *Server) Attempts(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[key]; k != nil {
		return k.attempts
	}
	return 0
}

// Payload is the body of key's accepted request.
func (s *Server) Payload(key string) (httpdelivery.Payload, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[key]
	if k == nil || k.accepted == 0 {
		return httpdelivery.Payload{}, false
	}
	return k.payload, true
}

// Mismatches describes, in arrival order, every request that broke the
// delivery contract: no Idempotency-Key or one that differs from the
// body's orderId, a body that is not a Payload, a wrong method,
// Content-Type, User-Agent or attempt header. Each was answered 400.
func (s *Server) Mismatches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mismatches)
}

// Stats counts the requests so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
