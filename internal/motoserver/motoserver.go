// Package motoserver starts, waits for and stops moto_server, the local
// AWS-compatible backend, on a free 127.0.0.1 port. It is used by the local
// stack (cmd/local) and by the test harness (internal/mototest).
//
// A server this package starts runs in its own process group; Stop signals
// that group only, so everything moto spawned stops with it and nothing else
// does. A server adopted with Adopt is never stopped.
package motoserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// DefaultReadyTimeout is how long Start waits for a new moto_server to answer.
const DefaultReadyTimeout = 60 * time.Second

// Options configures Start. The zero value starts `moto_server` from PATH on a
// free port and discards its output.
type Options struct {
	// Bin is the moto_server executable; "" looks it up on PATH.
	Bin string
	// Port is the port to listen on; 0 picks a free one.
	Port int
	// Log receives moto_server's stdout and stderr; nil discards them.
	Log io.Writer
	// ReadyTimeout bounds the wait for the server to answer; 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123 (no trailing slash).
	URL string
	cmd *exec.Cmd
	// done is closed when the started process has exited.
	done chan struct{}
}

// ErrNotFound means the moto_server executable is not installed.
var ErrNotFound = errors.New("moto_server not found on PATH: install it with pip install 'moto[server]'")

// Start starts moto_server on 127.0.0.1 and waits until it answers.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin := o.Bin
	if bin == "" {
		p, err := exec.LookPath("moto_server")
		if err != nil {
			return nil, ErrNotFound
		}
		bin = p
	}
	port := o.Port
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if o.Log != nil {
		cmd.Stdout, cmd.Stderr = o.Log, o.Log
	}
	// Own process group (Stop signals the group), and SIGTERM if we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = DefaultReadyTimeout
	}
	if err := s.Wait(ctx, timeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Adopt returns the already running server at url after checking that it
// answers within timeout. Stop never stops an adopted server.
func Adopt(ctx context.Context, url string, timeout time.Duration) (*Server, error) {
	s := &Server{URL: strings.TrimRight(url, "/")}
	if err := s.Wait(ctx, timeout); err != nil {
		return nil, err
	}
	return s, nil
}

// Started reports whether this process started the server (and Stop stops it).
func (s *Server) Started() bool { return s != nil && s.cmd != nil && s.cmd.Process != nil }

// PID is the process id (and process group id) of a started server, 0 for an adopted one.
func (s *Server) PID() int {
	if !s.Started() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Wait polls the server until it answers, the process exits, ctx ends or
// timeout passes. When ctx ends first the error wraps ctx.Err().
func (s *Server) Wait(ctx context.Context, timeout time.Duration) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/data.json", nil)
		if err != nil {
			return fmt.Errorf("moto_server at %s: %w", s.URL, err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		var exited <-chan struct{}
		if s.done != nil {
			exited = s.done
		}
		select {
		case <-exited:
			return fmt.Errorf("moto_server at %s exited before it answered", s.URL)
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fmt.Errorf("waiting for moto_server at %s: %w", s.URL, err)
			}
			return fmt.Errorf("moto_server at %s did not answer within %s", s.URL, timeout)
		case <-tick.C:
		}
	}
}

// Stop stops a started server and its process group: SIGTERM, then SIGKILL
// after 5 s. It does nothing for an adopted server and is safe to call twice.
func (s *Server) Stop() {
	if !s.Started() {
		return
	}
	pgid := s.cmd.Process.Pid
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
}

// Reset clears every resource in the server (POST /moto-api/reset).
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Config returns an aws.Config for region whose clients all talk to the
// server, with fake static credentials (no real account is ever reached).
func (s *Server) Config(region string) aws.Config {
	return Config(s.URL, region)
}

// Config returns an aws.Config for region whose clients all talk to the moto
// endpoint url, with fake static credentials.
func Config(url, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(url),
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
