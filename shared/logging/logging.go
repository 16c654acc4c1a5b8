// Package logging provides the structured JSON logger every homeregion binary
// uses: log/slog, Lambda's field names (timestamp, message, requestId), the
// level from LOG_LEVEL.
//
// aws-lambda-go (v1.55, pinned) has lambdacontext.NewLogHandler, and this
// package uses its lambdacontext.ReplaceAttr for the field names. It does not
// use NewLogHandler itself: that handler takes its level from
// AWS_LAMBDA_LOG_LEVEL instead of LOG_LEVEL (the functions' configuration
// contract), writes JSON only when AWS_LAMBDA_LOG_FORMAT=JSON (text in the
// on-prem processor, tests and elsewhere), reads both once at package
// initialisation and always writes to os.Stdout. Its request-id wrapper is
// unexported, so the few lines of requestIDHandler below stay.
//
// Nothing here can tell PII from other data: callers log identifiers that are
// not PII (request ids, order ids, hashed identity keys, regions, codes) and
// never e-mail addresses, postal addresses, names or tokens. Where an error
// of an SDK, a driver or adopter code may echo a value the caller holds (an
// e-mail in a ListUsers filter, an owner given to an Eraser), Redact blanks
// it out before the error is logged or returned.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a JSON logger writing to w at the level named by level
// (DEBUG, INFO, WARN, ERROR; case-insensitive; empty or unknown = INFO).
// Records logged with a Lambda context carry its requestId.
func New(w io.Writer, level string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       ParseLevel(level),
		ReplaceAttr: lambdacontext.ReplaceAttr,
	})
	return slog.New(requestIDHandler{h})
}

// ParseLevel maps a LOG_LEVEL value to a slog level (INFO when unknown).
func ParseLevel(s string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// requestIDHandler adds the Lambda request id found in the record's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// Discard returns a logger that writes nothing (benchmarks, quiet fakes).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// redactedError is an error whose message has values blanked out;
// errors.Is and errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Redact returns err with every non-empty secret in its message replaced by
// "[redacted]" (err itself when none occurs); errors.Is and errors.As still
// see err.
func Redact(err error, secrets ...string) error {
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
