// Command failover is the CloudWatch alarm action function of homeregion,
// deployed once per ACTION (failover, promote, scale; see package
// alarmaction for what each does). main only wires, in the shape every
// function shares (package lambdamain): alarmaction.Setup (ParseEnv, the
// SECONDARY_REGION residency zone check included, awsconfig.Load, NewFromAWS
// with only the clients the action uses), then the Lambda runtime.
//
// Each deployment's bootstrap is built for its one ACTION (the Makefile's
// build-FailoverFunction, build-PromoteFunction, build-ScaleFunction pass the
// build tag alarmaction_failover, alarmaction_promote or
// alarmaction_scale), so it links and initialises no SDK service package
// only another action uses. Such a bootstrap still reads and checks ACTION,
// and refuses at cold start an ACTION it was not built for. Built without a
// tag it serves every action.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/lambdamain"
)

func main() { lambdamain.Start(setup) }

// setup is alarmaction.Setup, handing the handler's Handle to the runtime,
// after checking that this bootstrap was built for the ACTION it is given.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (any, error) {
	if err := checkBuiltFor(builtFor, getenv("ACTION")); err != nil {
		return nil, err
	}
	h, err := alarmaction.Setup(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}

// checkBuiltFor refuses an ACTION other than the one a single-action
// bootstrap was built for (built "" serves every action; ParseEnv checks the
// value itself).
func checkBuiltFor(built alarmaction.Action, action string) error {
	if built == "" || alarmaction.Action(action) == built {
		return nil
	}
	return fmt.Errorf("failover configuration: ACTION=%q: this bootstrap is built for ACTION=%s only", action, built)
}
