// Command erasure is the regional erasure worker of homeregion: invoked
// every minute by a schedule, it drives each pending erasure to COMPLETED;
// invoked by an operator with {"email":"…"}, it starts the erasure of that
// address's user (package erasure). main only wires, in the shape every
// function shares (package lambdamain): erasure.Setup (ParseEnv,
// awsconfig.Load, NewFromAWS), then the Lambda runtime.
package main

import (
	"context"
	"log/slog"

	"github.com/homeregion/homeregion/shared/erasure"
	"github.com/homeregion/homeregion/shared/lambdamain"
)

func main() { lambdamain.Start(setup) }

// setup is erasure.Setup, handing the handler's Handle to the runtime.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (any, error) {
	h, err := erasure.Setup(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
