package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/homeregion/homeregion/internal/localstate"
)

// ownStack is a cmd/local this program started and must stop.
type ownStack struct {
	cmd  *exec.Cmd
	dir  string
	log  string
	done chan error
}

// startStack builds cmd/local (or uses bin), starts it in its own process
// group with its files under a fresh directory, and waits until its state
// file names it (it printed "ready").
func startStack(ctx context.Context, bin, template string, timeout time.Duration) (*ownStack, *localstate.State, error) {
	dir, err := os.MkdirTemp("", "homeregion-demo-")
	if err != nil {
		return nil, nil, fmt.Errorf("temp dir: %w", err)
	}
	if bin == "" {
		bin = filepath.Join(dir, "local")
		goTool := os.Getenv("GO")
		if goTool == "" {
			goTool = "go"
		}
		build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/local")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("build cmd/local: %w: %s", err, strings.TrimSpace(string(out)))
		}
	}
	s := &ownStack{dir: dir, log: filepath.Join(dir, "local.log"), done: make(chan error, 1)}
	logf, err := os.Create(s.log)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	state := filepath.Join(dir, "stack.json")
	s.cmd = exec.Command(bin, "-dir", dir, "-state-file", state, "-template", template)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start cmd/local: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return s, nil, fmt.Errorf("cmd/local exited before ready (%v); its output:\n%s", err, tail(s.log, 30))
		case <-deadline.C:
			return s, nil, fmt.Errorf("cmd/local not ready within %s; its output:\n%s", timeout, tail(s.log, 30))
		case <-ctx.Done():
			return s, nil, ctx.Err()
		case <-tick.C:
			st, err := localstate.Load(state)
			if err == nil && st.PID == s.cmd.Process.Pid {
				return s, st, nil
			}
		}
	}
}

// stop sends SIGTERM to the stack's process group (cmd/local stops what it
// started, moto_server included) and SIGKILL if it is still there after 20 s.
func (s *ownStack) stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
		return fmt.Errorf("cmd/local did not stop within 20s: killed (log %s)", s.log)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && !ee.Success() {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() && st.Signal() == syscall.SIGTERM {
			return nil
		}
		return fmt.Errorf("cmd/local exited with %v; log %s", err, s.log)
	}
	_ = os.RemoveAll(s.dir)
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}
