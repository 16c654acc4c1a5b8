package alarmaction

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/shared/awsclient/dynamodbops"
	"github.com/homeregion/homeregion/shared/awsconfig"
)

// SDKOptions bound the alarm functions' SDK calls (awsconfig's defaults).
var SDKOptions = awsconfig.Options{}

// NewFromAWS builds the handler for cfg (from ParseEnv) with only the SDK
// clients its action uses, made from awscfg (awsconfig.Load: one config,
// instrumented in one place): the control table for every action, Route 53
// (SWITCH=healthcheck) or the ARC cluster client (SWITCH=arc) for failover, ECS for promote, ECS and SQS for scale. The awsclient/*ops
// bindings keep each client's unused operations out of the binary. It makes
// no network call.
func NewFromAWS(cfg Config, awscfg aws.Config, log *slog.Logger) (*Handler, error) {
	c := Clients{DynamoDB: dynamodbops.New(dynamodb.NewFromConfig(awscfg))}
	switch cfg.Action {
	case ActionFailover:
		if cfg.Switch == SwitchARC {
			// The cluster's own endpoints (ARC_ENDPOINTS), not the SDK's resolver.
			c.ARC = newARC(awscfg)
			break
		}
		c.Route53 = newRoute53(awscfg)
	case ActionPromote:
		c.ECS = newECS(awscfg)
	case ActionScale:
		c.ECS = newECS(awscfg)
		c.SQS = newSQS(awscfg)
	}
	d := FromClients(cfg, c)
	d.Logger = log
	return New(cfg, d)
}

// Setup is an alarm function's cold start, the same on Lambda
// (functions/failover) and in the local stack: ParseEnv, awsconfig.Load,
// NewFromAWS, from the environment getenv reads, then one log line with the
// effective configuration. It makes no network call; an error names the
// function and the variable or part at fault.
func Setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Handler, error) {
	c, err := ParseEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("failover configuration: %w", err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, SDKOptions)
	if err != nil {
		return nil, fmt.Errorf("failover configuration: %w", err)
	}
	h, err := NewFromAWS(c, awscfg, log)
	if err != nil {
		return nil, fmt.Errorf("failover: %w", err)
	}
	log.Info("cold start", slog.String("action", string(c.Action)), slog.String("config", c.String()))
	return h, nil
}
