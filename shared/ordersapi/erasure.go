package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// erasureAccepted is the 202 answer of DELETE /me.
type erasureAccepted struct {
	ErasureID string                   `json:"erasureId"`
	Status    ordertable.ErasureStatus `json:"status"`
}

// erasureStatus is the 200 answer of GET /me/erasure.
type erasureStatus struct {
	ErasureID string                   `json:"erasureId"`
	Status    ordertable.ErasureStatus `json:"status"`
	UpdatedAt string                   `json:"updatedAt"`
}

// errNoErasure answers GET /me/erasure of a user who never asked.
var errNoErasure = &apiError{status: 404, code: "NO_ERASURE", msg: "no erasure of this account was requested"}

// eraseMe serves DELETE /me: one conditional PutItem records the erasure,
// unless one exists, and the answer is the erasure that holds (the same for
// a repeated or concurrent request, with its current status). The record
// names the user's home region (the token's custom:region), whose erasure
// worker carries it out: in a zone pair the partner region may serve the
// request. The log line names the erasure id only, never the user.
func (h *Handler) eraseMe(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id, err := h.identify(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	e, created, err := h.store.RequestErasure(ctx, id.sub, h.newID(), id.home, h.now())
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("request erasure: %w", err)
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "erasure requested",
		slog.String("erasureId", e.ID), slog.Bool("created", created), slog.String("erasureStatus", string(e.Status)))
	return jsonResponse(202, erasureAccepted{ErasureID: e.ID, Status: e.Status}), nil
}

// erasure serves GET /me/erasure: one strongly consistent GetItem.
func (h *Handler) erasure(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	owner, err := h.caller(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	e, err := h.store.Erasure(ctx, owner)
	if errors.Is(err, ordertable.ErrNoErasure) {
		return events.APIGatewayV2HTTPResponse{}, errNoErasure
	}
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("get erasure: %w", err)
	}
	return jsonResponse(200, erasureStatus{
		ErasureID: e.ID,
		Status:    e.Status,
		UpdatedAt: e.UpdatedAt.UTC().Format(orders.TimeFormat),
	}), nil
}
