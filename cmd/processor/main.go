// Command processor is the on-prem order processor that ECS Anywhere runs on
// each site: it drains the regional orders queue into the site's own
// database (see package processor) until SIGTERM or SIGINT, then drains
// gracefully and exits 0.
//
// Configuration: environment variables, each overridable by a flag.
//
//	ORDERS_QUEUE_URL      -queue-url           the regional orders queue (required)
//	ORDERS_TABLE          -orders-table        the regional orders table (required)
//	SITE_NAME             -site                this site's name, the metrics' Site dimension (required)
//	SITE_DB_DSN           -db                  SQLite file path (default /data/orders.db) or postgres:// URL
//	PROCESSOR_CONCURRENCY -concurrency         worker pool size (default 16)
//	VISIBILITY_TIMEOUT    -visibility-timeout  per receive, extended while working (default 60s)
//	WAIT_TIME             -wait-time           long poll (default 20s, max 20s)
//	DRAIN_TIMEOUT         -drain-timeout       in-flight work after SIGTERM (default 25s; keep below the ECS stop timeout)
//	HEARTBEAT_INTERVAL    -heartbeat-interval  Heartbeat metric period (default 1m)
//	LOG_LEVEL             -log-level           DEBUG, INFO, WARN, ERROR (default INFO)
//
// AWS_REGION and the SDK's standard credential and endpoint variables
// (AWS_ENDPOINT_URL ...) apply as usual. A missing or malformed setting is
// one log line naming it and exit status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	awsdefaults "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/awsconfig/cwquery"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/processor"
)

// DefaultDSN is the SQLite file used when SITE_DB_DSN is not set (the
// container's /data volume).
const DefaultDSN = "/data/orders.db"

// config is the processor's configuration.
type config struct {
	proc     processor.Config
	dsn      string
	logLevel string
}

// loadConfig reads the environment through getenv, then the flags in args
// (a flag overrides its variable).
func loadConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	queueURL := fs.String("queue-url", env("ORDERS_QUEUE_URL", ""), "orders queue URL (ORDERS_QUEUE_URL)")
	table := fs.String("orders-table", env("ORDERS_TABLE", ""), "orders table name (ORDERS_TABLE)")
	site := fs.String("site", env("SITE_NAME", ""), "site name (SITE_NAME)")
	dsn := fs.String("db", env("SITE_DB_DSN", DefaultDSN), "SQLite path or postgres:// URL (SITE_DB_DSN)")
	conc := fs.String("concurrency", env("PROCESSOR_CONCURRENCY", strconv.Itoa(processor.DefaultConcurrency)), "worker pool size (PROCESSOR_CONCURRENCY)")
	vt := fs.String("visibility-timeout", env("VISIBILITY_TIMEOUT", processor.DefaultVisibilityTimeout.String()), "visibility timeout (VISIBILITY_TIMEOUT)")
	wait := fs.String("wait-time", env("WAIT_TIME", processor.DefaultWaitTime.String()), "long poll wait (WAIT_TIME)")
	drain := fs.String("drain-timeout", env("DRAIN_TIMEOUT", processor.DefaultDrainTimeout.String()), "drain timeout (DRAIN_TIMEOUT)")
	beat := fs.String("heartbeat-interval", env("HEARTBEAT_INTERVAL", processor.DefaultHeartbeatInterval.String()), "heartbeat period (HEARTBEAT_INTERVAL)")
	level := fs.String("log-level", env("LOG_LEVEL", "INFO"), "log level (LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return config{}, fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("flags: unexpected argument %q", fs.Arg(0))
	}
	c := config{dsn: *dsn, logLevel: *level}
	c.proc.QueueURL, c.proc.OrdersTable, c.proc.Site = *queueURL, *table, *site
	for _, req := range []struct{ v, name string }{
		{*queueURL, "ORDERS_QUEUE_URL (-queue-url)"},
		{*table, "ORDERS_TABLE (-orders-table)"},
		{*site, "SITE_NAME (-site)"},
		{*dsn, "SITE_DB_DSN (-db)"},
	} {
		if req.v == "" {
			return config{}, fmt.Errorf("%s is required", req.name)
		}
	}
	n, err := strconv.Atoi(*conc)
	if err != nil || n < 1 || n > 1000 {
		return config{}, fmt.Errorf("PROCESSOR_CONCURRENCY (-concurrency) %q: want an integer 1..1000", *conc)
	}
	c.proc.Concurrency = n
	for _, d := range []struct {
		s        string
		name     string
		min, max time.Duration
		whole    bool
		dst      *time.Duration
	}{
		{*vt, "VISIBILITY_TIMEOUT (-visibility-timeout)", time.Second, 12 * time.Hour, true, &c.proc.VisibilityTimeout},
		{*wait, "WAIT_TIME (-wait-time)", time.Second, 20 * time.Second, true, &c.proc.WaitTime},
		{*drain, "DRAIN_TIMEOUT (-drain-timeout)", time.Second, time.Hour, false, &c.proc.DrainTimeout},
		{*beat, "HEARTBEAT_INTERVAL (-heartbeat-interval)", time.Second, time.Hour, false, &c.proc.HeartbeatInterval},
	} {
		v, err := time.ParseDuration(d.s)
		if err != nil || v < d.min || v > d.max || (d.whole && v%time.Second != 0) {
			what := "a duration"
			if d.whole {
				what = "whole seconds"
			}
			return config{}, fmt.Errorf("%s %q: want %s between %s and %s (e.g. 30s)", d.name, d.s, what, d.min, d.max)
		}
		*d.dst = v
	}
	return c, nil
}

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stdout)) }

// run is main with its inputs injected; it returns the exit status.
func run(args []string, getenv func(string) string, stdout io.Writer) int {
	cfg, err := loadConfig(args, getenv)
	log := logging.New(stdout, getenv("LOG_LEVEL"))
	if err != nil {
		log.Error("processor: invalid configuration", "err", err.Error())
		return 1
	}
	log = logging.New(stdout, cfg.logLevel)
	slog.SetDefault(log)

	// First SIGTERM/SIGINT: drain. A second one: the default action (exit now).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	// Long polls hold the response for WaitTime: the header timeout must exceed it.
	opts := awsconfig.Options{ResponseHeaderTimeout: cfg.proc.WaitTime + 10*time.Second}
	if getenv("AWS_ACCESS_KEY_ID") == "" {
		// ECS Anywhere hands a task its role's credentials through the
		// container credentials endpoint, which only the SDK's default chain
		// reads (unlike Lambda, nothing puts keys in the environment). That
		// chain reads the process environment itself (the endpoint's
		// AWS_CONTAINER_* variables): run's getenv is os.Getenv in production.
		dc, err := awsdefaults.LoadDefaultConfig(ctx)
		if err != nil {
			log.Error("processor: AWS credentials", "err", err.Error())
			return 1
		}
		opts.Credentials = dc.Credentials
	}
	awsCfg, err := awsconfig.Load(ctx, "", getenv, opts)
	if err != nil {
		log.Error("processor: AWS configuration", "err", err.Error())
		return 1
	}
	openCtx, cancelOpen := context.WithTimeout(ctx, 60*time.Second)
	store, err := orderstore.Open(openCtx, cfg.dsn)
	cancelOpen()
	if err != nil {
		log.Error("processor: open site database", "err", err.Error())
		return 1
	}
	defer store.Close()

	p, err := processor.New(cfg.proc, processor.Deps{
		SQS:      sqs.NewFromConfig(awsCfg),
		DynamoDB: dynamodb.NewFromConfig(awsCfg),
		// moto (AWS_ENDPOINT_URL) serves CloudWatch's query protocol only.
		CloudWatch: cloudwatch.NewFromConfig(awsCfg, cwquery.ForEndpoint(getenv)...),
		Store:      store,
		Log:        log,
	})
	if err != nil {
		log.Error("processor: invalid configuration", "err", err.Error())
		return 1
	}
	log.Info("site database open", "kind", store.Kind())
	if err := p.Run(ctx); err != nil {
		if errors.Is(err, processor.ErrDrainTimeout) {
			log.Error("processor: stopped without a complete drain", "err", err.Error())
		} else {
			log.Error("processor: run", "err", err.Error())
		}
		return 1
	}
	return 0
}
