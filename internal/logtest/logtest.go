// Package logtest is the log sink of tests that read what a component logs
// while it runs (for example, that no line names a user): a buffer safe for
// the logger's goroutines and the test at once, and the JSON slog.Logger
// that writes to it.
package logtest

import (
	"bytes"
	"log/slog"
	"sync"
)

// Buffer collects log lines; it is safe for concurrent use. The zero value
// is ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a JSON slog.Logger at debug level that writes to b.
func (b *Buffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
