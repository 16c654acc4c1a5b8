// Command failover is the CloudWatch alarm action function of homeregion,
// deployed once per ACTION (failover, promote, scale; see package
// alarmaction for what each does). main only wires: it reads the
// configuration once (the SECONDARY_REGION residency zone check included),
// builds the SDK clients its action needs once from one aws.Config and hands
// the handler to the Lambda runtime.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/awsclient/dynamodbops"
	"github.com/homeregion/homeregion/shared/awsclient/ecsops"
	"github.com/homeregion/homeregion/shared/awsclient/route53ops"
	"github.com/homeregion/homeregion/shared/awsclient/sqsops"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/residency"
)

// config is what the function reads from its environment.
type config struct {
	alarmaction.Config
	// zones is the residency policy compiled into the binary.
	zones *residency.Policy
}

// loadConfig reads and validates the configuration through getenv; the error
// names the first missing or malformed variable, or the SECONDARY_REGION
// outside this region's residency zone.
func loadConfig(getenv func(string) string) (config, error) {
	c, err := alarmaction.ParseEnv(getenv)
	if err != nil {
		return config{}, fmt.Errorf("failover configuration: %w", err)
	}
	if c.Region == "" {
		return config{}, fmt.Errorf("failover configuration: AWS_REGION is not set")
	}
	if !awsname.Region(c.Region) {
		return config{}, fmt.Errorf("failover configuration: AWS_REGION %q is not a region name", c.Region)
	}
	if c.Action == alarmaction.ActionFailover && !awsname.Region(c.SecondaryRegion) {
		return config{}, fmt.Errorf("failover configuration: SECONDARY_REGION %q is not a region name", c.SecondaryRegion)
	}
	policy, err := residency.Default()
	if err != nil {
		return config{}, fmt.Errorf("failover configuration: residency policy: %w", err)
	}
	if err := c.Validate(policy); err != nil {
		return config{}, fmt.Errorf("failover configuration: %w", err)
	}
	return config{Config: c, zones: policy}, nil
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

// setup builds the handler: configuration, one aws.Config, only the clients
// the configured action uses.
func setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*alarmaction.Handler, error) {
	c, err := loadConfig(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconfig.Load(ctx, c.Region, getenv, awsconfig.Options{})
	if err != nil {
		return nil, err
	}
	clients := alarmaction.Clients{DynamoDB: dynamodbops.New(dynamodb.NewFromConfig(cfg))}
	switch c.Action {
	case alarmaction.ActionFailover:
		// Route 53 is a global service; the SDK resolves its endpoint from any region.
		clients.Route53 = route53ops.New(route53.NewFromConfig(cfg))
	case alarmaction.ActionPromote:
		clients.ECS = ecsops.New(ecs.NewFromConfig(cfg))
	case alarmaction.ActionScale:
		clients.ECS = ecsops.New(ecs.NewFromConfig(cfg))
		clients.SQS = sqsops.New(sqs.NewFromConfig(cfg))
	}
	deps := alarmaction.FromClients(c.Config, clients)
	deps.Zones = c.zones
	deps.Logger = log
	h, err := alarmaction.New(c.Config, deps)
	if err != nil {
		return nil, fmt.Errorf("failover configuration: %w", err)
	}
	log.Info("cold start", slog.String("action", string(c.Action)), slog.String("config", c.String()))
	return h, nil
}
