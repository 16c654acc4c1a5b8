package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestNewWritesLambdaJSONWithRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info").With("component", "test")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	log.InfoContext(ctx, "hello", "orderId", "o1")
	log.DebugContext(ctx, "hidden at INFO")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("%d lines logged, want 1 (DEBUG filtered):\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(lines[0], &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	for k, want := range map[string]string{"message": "hello", "requestId": "req-1", "component": "test", "orderId": "o1", "level": "INFO"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %q (record %s)", k, rec[k], want, lines[0])
		}
	}
	if _, ok := rec["timestamp"]; !ok {
		t.Errorf("no timestamp field: %s", lines[0])
	}
}

func TestNoRequestIDOutsideLambda(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "").Info("start")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec["requestId"]; ok {
		t.Errorf("requestId logged without a Lambda context: %s", buf.String())
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"DEBUG": slog.LevelDebug, " debug ": slog.LevelDebug, "WARN": slog.LevelWarn, "warning": slog.LevelWarn,
		"ERROR": slog.LevelError, "INFO": slog.LevelInfo, "": slog.LevelInfo, "verbose": slog.LevelInfo,
	} {
		if got := ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	base := errors.New("list users: filter email = \"ada@example.com\" for sub-1")
	wrapped := fmt.Errorf("erasure: %w", base)
	got := Redact(wrapped, "ada@example.com", "", "sub-1")
	if want := `erasure: list users: filter email = "[redacted]" for [redacted]`; got.Error() != want {
		t.Errorf("Redact = %q, want %q", got.Error(), want)
	}
	if !errors.Is(got, base) {
		t.Error("the redacted error no longer wraps the original")
	}
	if clean := errors.New("nothing to hide"); Redact(clean, "ada@example.com") != clean {
		t.Error("an error without a secret is not returned as it is")
	}
}
