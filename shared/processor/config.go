package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/awsconfig/cwquery"
	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/envvar"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// The bounds of Config's tunables: the one home of the processor's limits,
// applied by ParseEnv and by New.
const (
	MaxConcurrency          = 1000
	MinWaitTime             = time.Second
	MaxWaitTime             = 20 * time.Second // SQS's long-poll limit
	MinVisibilityTimeout    = time.Second
	MaxVisibilityTimeout    = 12 * time.Hour  // SQS's limit
	MinDrainTimeout         = time.Nanosecond // any positive duration: a short drain hands work back, it loses nothing
	MaxDrainTimeout         = time.Hour
	MinHeartbeatInterval    = time.Second
	MaxHeartbeatInterval    = time.Hour
	MaxErasureTombstoneDays = 3650
)

// The rules of the tunables.
var (
	concurrencyRule = envvar.Int{Env: "PROCESSOR_CONCURRENCY", What: "concurrency", Min: 1, Max: MaxConcurrency}
	waitBound       = envvar.Duration{Env: "WAIT_TIME", What: "wait time", Min: MinWaitTime, Max: MaxWaitTime, Whole: true}
	visibilityBound = envvar.Duration{Env: "VISIBILITY_TIMEOUT", What: "visibility timeout", Min: MinVisibilityTimeout, Max: MaxVisibilityTimeout, Whole: true}
	drainBound      = envvar.Duration{Env: "DRAIN_TIMEOUT", What: "drain timeout", Min: MinDrainTimeout, Max: MaxDrainTimeout}
	// ACCEPT_PLAINTEXT_ORDERS: version 1 (plaintext) messages are still read.
	acceptPlaintextRule = envvar.Bool{Env: "ACCEPT_PLAINTEXT_ORDERS", Default: true}
	heartbeatBound      = envvar.Duration{Env: "HEARTBEAT_INTERVAL", What: "heartbeat interval", Min: MinHeartbeatInterval, Max: MaxHeartbeatInterval}
	tombstoneDaysRule   = envvar.Int{Env: "ERASURE_TOMBSTONE_DAYS", What: "erasure tombstone days", Min: 1, Max: MaxErasureTombstoneDays}
)

// durations pairs each duration field of c with its bound.
func (c *Config) durations() []envvar.DurationField {
	return []envvar.DurationField{
		{Rule: visibilityBound, Dst: &c.VisibilityTimeout},
		{Rule: waitBound, Dst: &c.WaitTime},
		{Rule: drainBound, Dst: &c.DrainTimeout},
		{Rule: heartbeatBound, Dst: &c.HeartbeatInterval},
	}
}

// validate checks c's presence rules and bounds; a zero tunable takes its
// default (New).
func (c Config) validate() error {
	switch {
	case c.QueueURL == "":
		return errors.New("no queue URL")
	case c.OrdersTable == "":
		return errors.New("no orders table")
	case c.Site == "":
		return errors.New("no site name")
	case c.Concurrency != 0 && concurrencyRule.Check(c.Concurrency) != nil:
		return fmt.Errorf("concurrency %d: %w", c.Concurrency, concurrencyRule.Check(c.Concurrency))
	case c.Pollers < 0:
		return errors.New("negative pollers")
	case c.Pair.Paired() && c.PairQueueURL == "":
		return errors.New("a partner region but no partner queue URL")
	case !c.Pair.Paired() && c.PairQueueURL != "":
		return errors.New("a partner queue URL but no partner region")
	case c.ErasureTombstoneDays != 0 && tombstoneDaysRule.Check(c.ErasureTombstoneDays) != nil:
		return fmt.Errorf("erasure tombstone days %d: %w", c.ErasureTombstoneDays, tombstoneDaysRule.Check(c.ErasureTombstoneDays))
	}
	return envvar.CheckDurations(c.durations())
}

// ParseEnv reads the processor's Config through getenv: ORDERS_QUEUE_URL,
// ORDERS_TABLE and SITE_NAME (required), PROCESSOR_CONCURRENCY,
// VISIBILITY_TIMEOUT, WAIT_TIME, DRAIN_TIMEOUT and HEARTBEAT_INTERVAL
// (optional: unset takes the default, filled in; a set value must be in
// bounds), ACCEPT_PLAINTEXT_ORDERS ("true", the default, or "false":
// version 1 messages become poison), ERASURE_TOMBSTONE_DAYS (optional,
// 1 to 3650, default 15: how long an erased owner's tombstone is kept),
// PAIR_REGION and PAIR_QUEUE_URL (both or neither: the zone pair's partner
// region, checked by zonepair.FromEnv against AWS_REGION, and its orders
// queue, which the site drains too: see Loops). The error names the first
// missing or malformed variable.
// cmd/processor lets a flag stand in for each variable by composing getenv.
func ParseEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{QueueURL: get("ORDERS_QUEUE_URL"), OrdersTable: get("ORDERS_TABLE"), Site: get("SITE_NAME")}
	switch {
	case c.QueueURL == "":
		return Config{}, errors.New("ORDERS_QUEUE_URL is not set")
	case !awsname.QueueURL(c.QueueURL):
		return Config{}, fmt.Errorf("ORDERS_QUEUE_URL %q is not an SQS queue URL", c.QueueURL)
	case c.OrdersTable == "":
		return Config{}, errors.New("ORDERS_TABLE is not set")
	case !awsname.Table(c.OrdersTable):
		return Config{}, fmt.Errorf("ORDERS_TABLE %q is not a DynamoDB table name", c.OrdersTable)
	case c.Site == "":
		return Config{}, errors.New("SITE_NAME is not set")
	}
	if err := concurrencyRule.Read(getenv, &c.Concurrency); err != nil {
		return Config{}, err
	}
	if err := envvar.ReadDurations(getenv, c.durations()); err != nil {
		return Config{}, err
	}
	if err := tombstoneDaysRule.Read(getenv, &c.ErasureTombstoneDays); err != nil {
		return Config{}, err
	}
	accept, err := acceptPlaintextRule.Read(getenv)
	if err != nil {
		return Config{}, err
	}
	c.RefusePlaintext = !accept
	if c.Pair, c.PairQueueURL, err = parsePair(getenv); err != nil {
		return Config{}, err
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c.withDefaults(), nil
}

// parsePair reads PAIR_REGION and PAIR_QUEUE_URL: both or neither.
func parsePair(getenv func(string) string) (zonepair.Pair, string, error) {
	queue := strings.TrimSpace(getenv("PAIR_QUEUE_URL"))
	pair, err := zonepair.FromEnv(getenv, strings.TrimSpace(getenv("AWS_REGION")))
	switch {
	case err != nil:
		return zonepair.Pair{}, "", err
	case pair.Paired() && queue == "":
		return zonepair.Pair{}, "", errors.New("PAIR_QUEUE_URL is not set: PAIR_REGION needs the partner's orders queue")
	case !pair.Paired() && queue != "":
		return zonepair.Pair{}, "", errors.New("PAIR_QUEUE_URL is set without PAIR_REGION: set both or neither")
	case queue != "" && !awsname.QueueURL(queue):
		return zonepair.Pair{}, "", fmt.Errorf("PAIR_QUEUE_URL %q is not an SQS queue URL", queue)
	case queue != "" && awsname.QueueRegion(queue) != "" && awsname.QueueRegion(queue) != pair.Partner:
		return zonepair.Pair{}, "", fmt.Errorf("PAIR_QUEUE_URL %q is a queue of %s, not of PAIR_REGION %s", queue, awsname.QueueRegion(queue), pair.Partner)
	}
	return pair, queue, nil
}

// Loops returns the configuration of each receive loop a site runs, one per
// queue it drains, all into the one site database. Without a partner: c
// itself. In a zone pair: a loop on QueueURL in Pair.Region and a loop on
// PairQueueURL in Pair.Partner (Region set), each with its own SQS and
// orders-table clients in its region (NewFromAWS), so an impaired region
// stops only its own loop; both claim on ORDER#<id> in the one pair table
// (OrdersTable, the same name in both regions), so a duplicate of an order
// in both queues runs once. Each loop also runs the site's recovery pass
// and tombstone pruning over the one database: twice the reads, but a row
// a crash left unsettled is settled through whichever region is up, which
// matters most while the other is impaired (the pass is idempotent).
func (c Config) Loops() []Config {
	if !c.Pair.Paired() {
		return []Config{c}
	}
	home, partner := c, c
	home.Region = c.Pair.Region
	partner.QueueURL, partner.Region = c.PairQueueURL, c.Pair.Partner
	return []Config{home, partner}
}

// SDKOptions bound the processor's SDK calls: a long poll holds its response
// for WaitTime, so the response-header timeout must exceed it.
func (c Config) SDKOptions() awsconfig.Options {
	return awsconfig.Options{ResponseHeaderTimeout: c.withDefaults().WaitTime + 10*time.Second}
}

// NewFromAWS builds the Processor for c over store with its SQS, DynamoDB
// and CloudWatch clients made from awscfg (awsconfig.Load with
// c.SDKOptions()), in c.Region when set (a loop of Loops), the site's keys and ext's Handler, Deliverer and Eraser. getenv is the
// environment awscfg was loaded from: when it points CloudWatch at a
// stand-in endpoint (moto), the client speaks the query protocol
// (cwquery.ForEndpoint).
func NewFromAWS(c Config, awscfg aws.Config, getenv func(string) string, store Store, keys Opener, ext Extensions, log *slog.Logger) (*Processor, error) {
	if c.Region != "" {
		awscfg = awsconfig.ForRegion(awscfg, c.Region)
	}
	return New(c, Deps{
		Keys:       keys,
		SQS:        sqs.NewFromConfig(awscfg),
		DynamoDB:   dynamodb.NewFromConfig(awscfg),
		CloudWatch: cloudwatch.NewFromConfig(awscfg, cwquery.ForEndpoint(getenv)...),
		Store:      store,
		Handler:    ext.Handler,
		Deliverer:  ext.Deliverer,
		Eraser:     ext.Eraser,
		Log:        log,
	})
}
