package erasure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Handler is the erasure function's Lambda handler: it takes the raw JSON
// event, so one function serves the schedule and the operator.
type Handler struct {
	w *Worker
	// Margin is cut from the invocation's deadline for the run's own
	// context, so SDK calls end before Lambda stops the process (2 s).
	Margin time.Duration
}

// NewHandler returns the Handler of w.
func NewHandler(w *Worker) *Handler { return &Handler{w: w, Margin: 2 * time.Second} }

// Worker is the handler's worker (the local stack and tests shorten its
// intervals).
func (h *Handler) Worker() *Worker { return h.w }

// event is what Handle reads of an event to tell its kind.
type event struct {
	Email      *string `json:"email"`
	Source     string  `json:"source"`
	DetailType string  `json:"detail-type"`
}

// ErrUnknownEvent reports an event that is neither a scheduled event nor an
// operator's request.
var ErrUnknownEvent = errors.New(`erasure: unknown event: want an EventBridge scheduled event or {"email":"…"}`)

// Handle runs one invocation:
//   - an EventBridge scheduled event advances every pending erasure (Run)
//     and answers the run's Result;
//   - {"email":"…"} (the operator's command) starts the erasure of that
//     address's user (Request) and answers {"erasureId","status"}.
//
// Errors never contain the address.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var e event
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("erasure: the event is not a JSON object: %w", err)
	}
	if d, ok := ctx.Deadline(); ok && h.Margin > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-h.Margin))
		defer cancel()
	}
	switch {
	case e.Email != nil:
		return h.w.Request(ctx, *e.Email)
	case e.Source == "aws.events" || e.DetailType == "Scheduled Event":
		return h.w.Run(ctx)
	}
	return nil, ErrUnknownEvent
}
