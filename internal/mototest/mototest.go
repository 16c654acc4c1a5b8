// Package mototest runs moto_server for integration tests: the real AWS SDK
// clients talk to it over HTTP on 127.0.0.1.
//
// A test package's TestMain calls Main; integration tests call Require(t) to
// get the server (skipped only under -short). The server is the one named by
// MOTO_ENDPOINT when set, otherwise a moto_server this package starts on a
// free loopback port and stops when the tests end. A missing moto_server is a
// failure with one clear line, never a silent skip.
package mototest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/homeregion/homeregion/internal/motoserver"
)

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	srv *motoserver.Server
}

var current *Server

// Main starts (or adopts) moto_server, runs the package's tests and stops the
// server it started. Use it as TestMain: func TestMain(m *testing.M) { mototest.Main(m) }.
func Main(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	s, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mototest:", err)
		os.Exit(1)
	}
	current = s
	// Fake credentials so no test ever reaches a real account.
	os.Setenv("AWS_ACCESS_KEY_ID", "testing")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	os.Unsetenv("AWS_SESSION_TOKEN")
	os.Unsetenv("AWS_PROFILE")
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// Require returns the package's moto_server, skipping the test under -short.
func Require(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs moto_server (run without -short)")
	}
	if current == nil {
		t.Fatal("mototest: no server: call mototest.Main from TestMain")
	}
	return current
}

// Start returns the server at MOTO_ENDPOINT, or starts moto_server on a free
// 127.0.0.1 port and waits until it answers.
func Start() (*Server, error) {
	ctx := context.Background()
	if ep := os.Getenv("MOTO_ENDPOINT"); ep != "" {
		s, err := motoserver.Adopt(ctx, ep, 10*time.Second)
		if err != nil {
			return nil, err
		}
		return &Server{URL: s.URL, srv: s}, nil
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("moto-%d.log", port))
	o := motoserver.Options{Port: port}
	if f, err := os.Create(logPath); err == nil {
		defer f.Close() // the child keeps its own copy of the descriptor
		o.Log = f
	}
	s, err := motoserver.Start(ctx, o)
	if errors.Is(err, motoserver.ErrNotFound) {
		return nil, fmt.Errorf("%w (or set MOTO_ENDPOINT)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, logPath)
	}
	return &Server{URL: s.URL, srv: s}, nil
}

// Stop stops a server this package started (never one it adopted).
func (s *Server) Stop() {
	if s == nil || s.srv == nil {
		return
	}
	s.srv.Stop()
}

// Reset clears every resource in the server (POST /moto-api/reset).
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	srv := s.srv
	if srv == nil {
		srv = &motoserver.Server{URL: s.URL}
	}
	if err := srv.Reset(context.Background()); err != nil {
		t.Fatalf("%v", err)
	}
}

// Config returns an aws.Config for region whose clients all talk to the
// server, with fake static credentials.
func (s *Server) Config(region string) aws.Config {
	return motoserver.Config(s.URL, region)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	return motoserver.FreePort()
}

// BlackHole returns the URL of a listener on 127.0.0.1 that accepts
// connections and never answers: an endpoint that hangs. It closes with the test.
func BlackHole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("black hole: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}
