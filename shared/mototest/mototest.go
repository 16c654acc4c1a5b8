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
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	cmd *exec.Cmd
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
	if ep := os.Getenv("MOTO_ENDPOINT"); ep != "" {
		s := &Server{URL: strings.TrimRight(ep, "/")}
		return s, s.wait(10 * time.Second)
	}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server not found on PATH: install it with pip install 'moto[server]' (or set MOTO_ENDPOINT)")
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("moto-%d.log", port))
	if f, err := os.Create(logPath); err == nil {
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	if err := s.wait(60 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, logPath)
	}
	return s, nil
}

func (s *Server) wait(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("moto_server at %s did not answer within %s", s.URL, d)
}

// Stop stops a server this package started (never one it adopted).
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Reset clears every resource in the server (POST /moto-api/reset).
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
}

// Config returns an aws.Config for region whose clients all talk to the
// server, with fake static credentials.
func (s *Server) Config(region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(s.URL),
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
