// Command presignup is the Cognito PreSignUp trigger of homeregion (see package
// triggers for the rules). main only wires: triggers.Build reads the
// configuration once and builds the SDK clients once from one aws.Config,
// then the handler goes to the Lambda runtime.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/triggers"
)

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

// setup is the testable cold start; an error names the variable or part at fault.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*triggers.PreSignUp, error) {
	return triggers.Build(ctx, "presignup", getenv, log, triggers.NewPreSignUp)
}
