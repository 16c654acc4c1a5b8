// Command presignup is the Cognito PreSignUp trigger of homeregion (see
// package triggers for the rules). main only wires: it reads the
// configuration once, builds the SDK clients once from one aws.Config and
// hands the handler to the Lambda runtime.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/triggers"
)

// config is what the function reads from its environment.
type config struct {
	triggers.Env
}

// loadConfig reads the configuration through getenv; the error names the
// first missing or malformed variable.
func loadConfig(getenv func(string) string) (config, error) {
	e, err := triggers.ParseEnv(getenv)
	if err != nil {
		return config{}, fmt.Errorf("presignup configuration: %w", err)
	}
	return config{Env: e}, nil
}

func main() {
	log := logging.New(os.Stdout, os.Getenv("LOG_LEVEL"))
	slog.SetDefault(log)
	h, err := setup(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("cold start failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	// *triggers.PreSignUp is a lambda.Handler: its Invoke decodes the event with
	// clear errors for malformed payloads, then calls Handle.
	lambda.Start(h)
}

// setup builds the handler: configuration, one aws.Config, the clients.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*triggers.PreSignUp, error) {
	c, err := loadConfig(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconfig.Load(ctx, c.Region, triggers.SDKOptions)
	if err != nil {
		return nil, err
	}
	d, err := triggers.NewDeps(ctx, cfg, c.Env, log)
	if err != nil {
		return nil, err
	}
	h := &triggers.PreSignUp{Region: c.Region, Policy: d.Policy, Keys: d.Keys, Registry: d.Registry, Log: log}
	if err := h.Check(); err != nil {
		return nil, fmt.Errorf("presignup: %w", err)
	}
	return h, nil
}
