// Package runtimeapi is a minimal local AWS Lambda Runtime API (version
// 2018-06-01) for measuring and exercising real `bootstrap` binaries on
// 127.0.0.1: it serves GET /runtime/invocation/next, POST
// /runtime/invocation/{id}/response, POST /runtime/invocation/{id}/error and
// POST /runtime/init/error, and records when the runtime first asked for work.
//
// The time of the first `next` request is the end of a function's cold start:
// everything the binary does before it (runtime start-up, package init,
// main's configuration and client construction) is what Lambda bills as Init.
package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prefix is the path every Runtime API route starts with.
const Prefix = "/2018-06-01/runtime/"

// Result is what the runtime answered for one invocation.
type Result struct {
	// RequestID is the invocation's id.
	RequestID string
	// Payload is the response body, or the error body when Err is true.
	Payload []byte
	// Err reports that the runtime posted to /error instead of /response.
	Err bool
}

// ErrClosed reports that the server was closed.
var ErrClosed = errors.New("runtimeapi: server closed")

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan Result
}

// Server is a local Runtime API. Create it with Start.
type Server struct {
	ln  net.Listener
	srv *http.Server

	queue  chan *invocation
	closed chan struct{}

	mu        sync.Mutex
	firstNext time.Time
	nextCh    chan struct{} // closed on the first next request
	initErr   []byte
	initErrCh chan struct{} // closed on an init error
	pending   map[string]*invocation
	seq       int
	closeOnce sync.Once
}

// Start listens on a free 127.0.0.1 port and serves the Runtime API until
// Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: listen: %w", err)
	}
	s := &Server{
		ln:        ln,
		queue:     make(chan *invocation),
		closed:    make(chan struct{}),
		nextCh:    make(chan struct{}),
		initErrCh: make(chan struct{}),
		pending:   map[string]*invocation{},
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server; blocked `next` requests are released with an error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// FirstNext returns a channel closed when the runtime first asks for work.
func (s *Server) FirstNext() <-chan struct{} { return s.nextCh }

// FirstNextTime returns when the first `next` request arrived, and false if
// none has yet.
func (s *Server) FirstNextTime() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstNext, !s.firstNext.IsZero()
}

// InitError returns a channel closed when the runtime reports an init error.
func (s *Server) InitError() <-chan struct{} { return s.initErrCh }

// InitErrorBody returns the body the runtime posted to /runtime/init/error.
func (s *Server) InitErrorBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.initErr...)
}

// Invoke hands payload to the runtime's next `next` request and waits for its
// response or error, for at most timeout (also the deadline the runtime sees).
func (s *Server) Invoke(ctx context.Context, payload []byte, timeout time.Duration) (Result, error) {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
	inv := &invocation{id: id, payload: payload, deadline: time.Now().Add(timeout), done: make(chan Result, 1)}
	s.pending[id] = inv
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case s.queue <- inv:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("runtimeapi: invoke %s: queue: %w", id, ctx.Err())
	case <-s.closed:
		return Result{}, ErrClosed
	}
	select {
	case r := <-inv.done:
		return r, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("runtimeapi: invoke %s: %w", id, ctx.Err())
	case <-s.closed:
		return Result{}, ErrClosed
	}
}

// ServeHTTP implements the Runtime API routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		s.next(w, r)
	case r.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		if s.initErr == nil {
			s.initErr = body
			close(s.initErrCh)
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, kind, ok := strings.Cut(rest, "/")
		if !ok || (kind != "response" && kind != "error") {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		inv := s.pending[id]
		s.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorMessage":"unknown request id"}`, http.StatusBadRequest)
			return
		}
		inv.done <- Result{RequestID: id, Payload: body, Err: kind == "error"}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	if s.firstNext.IsZero() {
		s.firstNext = now
		close(s.nextCh)
	}
	s.mu.Unlock()
	select {
	case inv := <-s.queue:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:000000000000:function:local")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(inv.payload)
	case <-r.Context().Done():
	case <-s.closed:
		http.Error(w, "closed", http.StatusServiceUnavailable)
	}
}
