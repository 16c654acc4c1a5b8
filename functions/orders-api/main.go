// Command orders-api is the regional orders API of homeregion: the API
// Gateway HTTP API (payload v2) handler of package ordersapi. main only wires:
// it reads the configuration once, builds the DynamoDB and SQS clients once
// from one aws.Config and hands the handler to the Lambda runtime.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/awsclient/dynamodbops"
	"github.com/homeregion/homeregion/shared/awsclient/sqsops"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/ordersapi"
)

// config is what the function reads from its environment.
type config struct {
	Region   string // AWS_REGION
	Table    string // ORDERS_TABLE
	QueueURL string // ORDERS_QUEUE_URL
}

// loadConfig reads the configuration through getenv; the error names the
// first missing or malformed variable.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{Region: getenv("AWS_REGION"), Table: getenv("ORDERS_TABLE"), QueueURL: getenv("ORDERS_QUEUE_URL")}
	switch {
	case c.Region == "":
		return config{}, fmt.Errorf("orders-api configuration: AWS_REGION is not set")
	case !awsname.Region(c.Region):
		return config{}, fmt.Errorf("orders-api configuration: AWS_REGION %q is not a region name", c.Region)
	case c.Table == "":
		return config{}, fmt.Errorf("orders-api configuration: ORDERS_TABLE is not set")
	case !awsname.Table(c.Table):
		return config{}, fmt.Errorf("orders-api configuration: ORDERS_TABLE %q is not a DynamoDB table name", c.Table)
	case c.QueueURL == "":
		return config{}, fmt.Errorf("orders-api configuration: ORDERS_QUEUE_URL is not set")
	case !awsname.QueueURL(c.QueueURL):
		return config{}, fmt.Errorf("orders-api configuration: ORDERS_QUEUE_URL %q is not an SQS queue URL", c.QueueURL)
	}
	return c, nil
}

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

// setup builds the handler: configuration, one aws.Config, the clients.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*ordersapi.Handler, error) {
	c, err := loadConfig(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconfig.Load(ctx, c.Region, getenv, awsconfig.Options{})
	if err != nil {
		return nil, err
	}
	h := &ordersapi.Handler{
		Region: c.Region,
		Store:  ordersapi.NewDynamoStore(dynamodbops.New(dynamodb.NewFromConfig(cfg)), c.Table),
		Queue:  ordersapi.NewSQSQueue(sqsops.New(sqs.NewFromConfig(cfg)), c.QueueURL),
		Log:    log,
	}
	if err := h.Check(); err != nil {
		return nil, err
	}
	return h, nil
}
