// Command orders-api is the regional orders API of homeregion: the API
// Gateway HTTP API (payload v2) handler of package ordersapi. main only
// wires, in the shape every function shares (package lambdamain):
// ordersapi.Setup (ParseEnv, awsconfig.Load, NewFromAWS), then the Lambda
// runtime.
package main

import (
	"context"
	"log/slog"

	"github.com/homeregion/homeregion/shared/lambdamain"
	"github.com/homeregion/homeregion/shared/ordersapi"
)

func main() { lambdamain.Start(setup) }

// setup is ordersapi.Setup, handing the handler's Handle to the runtime.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (any, error) {
	h, err := ordersapi.Setup(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
