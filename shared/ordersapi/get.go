package ordersapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/orders"
)

// statusBody is the 200 answer of GET /orders/{orderId}.
type statusBody struct {
	OrderID   string        `json:"orderId"`
	Status    orders.Status `json:"status"`
	CreatedAt string        `json:"createdAt"`
	UpdatedAt string        `json:"updatedAt"`
}

// errOrderNotFound is the answer for an unknown order and for someone else's
// order alike: the API is no oracle of which ids exist.
var errOrderNotFound = &apiError{status: 404, code: "ORDER_NOT_FOUND", msg: "no such order"}

// get serves GET /orders/{orderId}.
func (h *Handler) get(ctx context.Context, req events.APIGatewayV2HTTPRequest, id string) (events.APIGatewayV2HTTPResponse, error) {
	owner, err := h.caller(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if !validOrderID(id) {
		return events.APIGatewayV2HTTPResponse{}, errOrderNotFound
	}
	rec, err := h.store.Order(ctx, id)
	if errors.Is(err, orders.ErrUnknownOrder) {
		return events.APIGatewayV2HTTPResponse{}, errOrderNotFound
	}
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("get order %s: %w", id, err)
	}
	if rec.Owner != owner || rec.Status == orders.StatusErased {
		// Someone else's order, or an erased order's tombstone (which the
		// Store reports as unknown already): no existence oracle.
		return events.APIGatewayV2HTTPResponse{}, errOrderNotFound
	}
	return jsonResponse(200, statusBody{
		OrderID:   rec.ID,
		Status:    rec.Status,
		CreatedAt: rec.CreatedAt.UTC().Format(orders.TimeFormat),
		UpdatedAt: rec.UpdatedAt.UTC().Format(orders.TimeFormat),
	}), nil
}

// validOrderID bounds what is looked up: 1-64 of [A-Za-z0-9_-].
func validOrderID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
