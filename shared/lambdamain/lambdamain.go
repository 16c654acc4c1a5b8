// Package lambdamain is the one main of every homeregion Lambda function.
//
// Each functions/*/main.go is one call, lambdamain.Start(setup), where setup
// is the function's cold start, always in the same shape: its package's
// ParseEnv (the only home of its configuration rules), awsconfig.Load (one
// aws.Config), its package's NewFromAWS (the SDK clients; with the handler's
// constructor, the handler): triggers.Build, ordersapi.Setup,
// alarmaction.Setup.
// The local stack (cmd/local) calls the very same setup functions, so what
// runs locally is what runs on Lambda.
package lambdamain

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/logging"
)

// Setup is a function's cold start: it reads its configuration through
// getenv, builds one aws.Config and the handler, and makes no network call.
// It returns what lambda.Start runs (a handler function or a lambda.Handler).
type Setup func(ctx context.Context, getenv func(string) string, log *slog.Logger) (any, error)

// Start runs a function: JSON logs at LOG_LEVEL with the request id, the cold
// start from the process environment, then the Lambda runtime. A cold start
// that fails logs one line naming the variable or part at fault and exits 1;
// it never reaches an invocation.
func Start(setup Setup) {
	log := logging.New(os.Stdout, os.Getenv("LOG_LEVEL"))
	slog.SetDefault(log)
	h, err := setup(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("cold start failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h)
}
