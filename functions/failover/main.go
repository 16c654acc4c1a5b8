// Command failover is the CloudWatch alarm action function of homeregion,
// deployed once per ACTION (failover, promote, scale; see package
// alarmaction for what each does). main only wires, in the shape every
// function shares (package lambdamain): alarmaction.Setup (ParseEnv, the
// SECONDARY_REGION residency zone check included, awsconfig.Load, NewFromAWS
// with only the clients the action uses), then the Lambda runtime.
package main

import (
	"context"
	"log/slog"

	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/lambdamain"
)

func main() { lambdamain.Start(setup) }

// setup is alarmaction.Setup, handing the handler's Handle to the runtime.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (any, error) {
	h, err := alarmaction.Setup(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
