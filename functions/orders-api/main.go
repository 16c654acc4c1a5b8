// Command orders-api is the regional orders API of homeregion: the API
// Gateway HTTP API (payload v2) handler of package ordersapi. main only
// wires, in the shape every function shares: ordersapi.ParseEnv (the
// configuration's rules), awsconfig.Load (one aws.Config),
// ordersapi.NewFromAWS (the SDK clients and the handler), then the Lambda
// runtime.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/ordersapi"
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
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*ordersapi.Handler, error) {
	c, err := ordersapi.ParseEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("orders-api configuration: %w", err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, ordersapi.SDKOptions)
	if err != nil {
		return nil, err
	}
	return ordersapi.NewFromAWS(c, awscfg, log)
}
