package ordersapi

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/awsclient/dynamodbops"
	"github.com/homeregion/homeregion/shared/awsclient/sqsops"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// Config is the orders API function's configuration, read by ParseEnv.
type Config struct {
	Region string // AWS_REGION: this region, the one that serves (messages and answers name it)
	// Pair is this region's zone pair (PAIR_REGION, checked by package
	// zonepair): tokens must name Pair.Region or Pair.Partner. Unpaired
	// (no PAIR_REGION): this region only.
	Pair     zonepair.Pair
	Table    string // ORDERS_TABLE: the orders table; paired, the pair's MRSC global table
	QueueURL string // ORDERS_QUEUE_URL: the orders queue
	// SiteKey (SITE_PUBLIC_KEY) is the public key of the region's on-prem
	// sites, parsed once at cold start: every order is sealed to it.
	SiteKey sealed.PublicKey
}

// SDKOptions bound the orders API's SDK calls (awsconfig's defaults:
// three attempts, 1 s to connect, 2 s for response headers).
var SDKOptions = awsconfig.Options{}

// ParseEnv reads the orders API's configuration through getenv and is the
// one home of its rules; the error names the first missing or malformed
// variable (docs/orders-api.md lists them).
func ParseEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Region:   strings.TrimSpace(getenv("AWS_REGION")),
		Table:    strings.TrimSpace(getenv("ORDERS_TABLE")),
		QueueURL: strings.TrimSpace(getenv("ORDERS_QUEUE_URL")),
	}
	switch {
	case c.Region == "":
		return Config{}, fmt.Errorf("AWS_REGION is not set")
	case !awsname.Region(c.Region):
		return Config{}, fmt.Errorf("AWS_REGION %q is not a region name", c.Region)
	case c.Table == "":
		return Config{}, fmt.Errorf("ORDERS_TABLE is not set")
	case !awsname.Table(c.Table):
		return Config{}, fmt.Errorf("ORDERS_TABLE %q is not a DynamoDB table name", c.Table)
	case c.QueueURL == "":
		return Config{}, fmt.Errorf("ORDERS_QUEUE_URL is not set")
	case !awsname.QueueURL(c.QueueURL):
		return Config{}, fmt.Errorf("ORDERS_QUEUE_URL %q is not an SQS queue URL", c.QueueURL)
	case !awsname.FIFOQueueURL(c.QueueURL):
		// Replays re-send and rely on the queue's deduplication.
		return Config{}, fmt.Errorf("ORDERS_QUEUE_URL %q is not a FIFO queue's URL (its name must end in .fifo)", c.QueueURL)
	}
	pair, err := zonepair.FromEnv(getenv, c.Region)
	if err != nil {
		return Config{}, err
	}
	c.Pair = pair
	// The key is not secret, but it is long: the error names the variable
	// and the reason, never the value.
	pub := strings.TrimSpace(getenv("SITE_PUBLIC_KEY"))
	if pub == "" {
		return Config{}, fmt.Errorf("SITE_PUBLIC_KEY is not set")
	}
	k, err := sealed.ParsePublicKey(pub)
	if err != nil {
		return Config{}, fmt.Errorf("SITE_PUBLIC_KEY is malformed (want the line processor keygen prints): %w", err)
	}
	c.SiteKey = k
	return c, nil
}

// NewFromAWS builds the Handler for c with its DynamoDB and SQS clients made
// from awscfg (awsconfig.Load: one config, instrumented in one place). It
// makes no network call. Paired, the Store is a PairStore (the pair's
// table has no transactions); unpaired, a DynamoStore.
func NewFromAWS(c Config, awscfg aws.Config, log *slog.Logger) (*Handler, error) {
	// The *ops bindings keep only the operations used in the binary (see
	// package awsclient).
	pair := c.Pair
	switch {
	case pair.Region == "" && !pair.Paired():
		pair.Region = c.Region // a Config without Pair: unpaired
	case pair.Region != c.Region:
		return nil, fmt.Errorf("ordersapi: the pair's region %q is not the region %q", pair.Region, c.Region)
	}
	db := dynamodbops.New(dynamodb.NewFromConfig(awscfg))
	var store Store = NewDynamoStore(db, c.Table)
	if pair.Paired() {
		store = NewPairStore(db, c.Table)
	}
	queue := NewSQSQueue(sqsops.NewSender(sqs.NewFromConfig(awscfg)), c.QueueURL)
	return NewForPair(pair, c.SiteKey, store, queue, log)
}

// Setup is the orders-api function's cold start, the same on Lambda
// (functions/orders-api) and in the local stack: ParseEnv, awsconfig.Load,
// NewFromAWS, from the environment getenv reads. It makes no network call;
// an error names the function and the variable or part at fault.
func Setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Handler, error) {
	c, err := ParseEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("orders-api configuration: %w", err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, SDKOptions)
	if err != nil {
		return nil, fmt.Errorf("orders-api configuration: %w", err)
	}
	return NewFromAWS(c, awscfg, log)
}
