package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

func TestRefusedNaming(t *testing.T) {
	api := func(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }
	const code, prefix = "UserLambdaValidationException", "PreSignUp failed with error"
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"refused naming the region", api(code, prefix+" This e-mail address is already registered in eu-west-1. Sign in there."), true},
		{"accepted", nil, false},
		{"other region", api(code, prefix+" registered in eu-central-1."), false},
		{"other code", api("NotAuthorizedException", prefix+" eu-west-1"), false},
		{"other trigger", api(code, "PreAuthentication failed with error eu-west-1"), false},
		{"not an API error", errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detail, err := refusedNaming(tt.err, code, prefix, "eu-west-1")
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && !strings.Contains(detail, "eu-west-1") {
				t.Fatalf("detail %q does not show the message", detail)
			}
		})
	}
}

func TestReporter(t *testing.T) {
	var b bytes.Buffer
	r := &reporter{w: &b}
	r.pass("one", "fine")
	if r.finish(time.Now()) != 0 {
		t.Fatal("all passed but exit status is not 0")
	}
	r.check("two", "", errors.New("broken"))
	if code := r.finish(time.Now()); code != 1 {
		t.Fatalf("exit status %d after a FAIL, want 1", code)
	}
	out := b.String()
	for _, want := range []string{"PASS one", "fine", "FAIL two", "broken", "1 of 2 steps failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"-timeout", "0s"}, "positive"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-nope"}, "not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := parseFlags(tt.args, &bytes.Buffer{})
			if tt.err == "" {
				if err != nil || o.stateFile != ".local/stack.json" || o.timeout != 5*time.Minute {
					t.Fatalf("defaults = %+v, %v", o, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "local.log")
	if err := os.WriteFile(p, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tail(p, 2); got != "  | b\n  | c" {
		t.Fatalf("tail = %q", got)
	}
}
