// Command failover is the CloudWatch alarm action function of homeregion,
// deployed once per ACTION (failover, promote, scale; see package
// alarmaction for what each does). main only wires, in the shape every
// function shares: alarmaction.ParseEnv (every configuration rule, the
// SECONDARY_REGION residency zone check included), awsconfig.Load (one
// aws.Config), alarmaction.NewFromAWS (only the clients the action uses, and
// the handler), then the Lambda runtime.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/logging"
)

func main() {
	log := logging.New(os.Stdout, os.Getenv("LOG_LEVEL"))
	slog.SetDefault(log)
	h, err := setup(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("cold start failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// setup is the cold start, from the environment getenv reads. It makes no
// network call.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*alarmaction.Handler, error) {
	c, err := alarmaction.ParseEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("failover configuration: %w", err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, alarmaction.SDKOptions)
	if err != nil {
		return nil, err
	}
	h, err := alarmaction.NewFromAWS(c, awscfg, log)
	if err != nil {
		return nil, fmt.Errorf("failover: %w", err)
	}
	log.Info("cold start", slog.String("action", string(c.Action)), slog.String("config", c.String()))
	return h, nil
}
