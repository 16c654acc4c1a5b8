// Command hello is the cold-start floor: the smallest aws-lambda-go function,
// built exactly like the project's bootstraps (see cmd/coldstart).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func handle(context.Context, map[string]any) (string, error) { return "hello", nil }

func main() { lambda.Start(handle) }
