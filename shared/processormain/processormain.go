// Package processormain is the main of the on-prem order processor, shared
// by cmd/processor and by adopters' own processors built from the library
// (Run with an Extension: a processor.Handler, set-up of its tables). It
// drains the regional orders queue into the site's own
// database (see package processor) until SIGTERM or SIGINT, then drains
// gracefully and exits 0.
//
// Configuration: environment variables, each overridable by a flag.
//
//	ORDERS_QUEUE_URL      -queue-url           the regional orders queue (required)
//	ORDERS_TABLE          -orders-table        the regional orders table (required)
//	SITE_NAME             -site                this site's name, the metrics' Site dimension (required)
//	SITE_KEY_FILE         -key-file            the site's private keys (required; mode 0600: see below)
//	SITE_DB_DSN           -db                  SQLite file path (default /data/orders.db) or postgres:// URL
//	ACCEPT_PLAINTEXT_ORDERS -accept-plaintext  read version 1 (plaintext) messages: true (default) or false
//	PROCESSOR_CONCURRENCY -concurrency         worker pool size (default 16)
//	VISIBILITY_TIMEOUT    -visibility-timeout  per receive, extended while working (default 60s)
//	WAIT_TIME             -wait-time           long poll (default 20s, max 20s)
//	DRAIN_TIMEOUT         -drain-timeout       in-flight work after SIGTERM (default 25s; keep below the ECS stop timeout)
//	HEARTBEAT_INTERVAL    -heartbeat-interval  Heartbeat metric period (default 1m)
//	PAIR_REGION           -pair-region         the zone pair's partner region (default none: no pair)
//	PAIR_QUEUE_URL        -pair-queue-url      the partner's orders queue (required with PAIR_REGION, else unset)
//	ERASURE_TOMBSTONE_DAYS -erasure-tombstone-days  days an erased user's tombstone is kept (default 15)
//	LOG_LEVEL             -log-level           DEBUG, INFO, WARN, ERROR (default INFO)
//
// HTTP delivery of each order to a local endpoint of the site (package
// httpdelivery) is configured by DELIVERY_URL, DELIVERY_TIMEOUT,
// DELIVERY_ATTEMPTS and DELIVERY_BACKOFF.
//
// Orders arrive sealed to the site's public key (package sealed); the
// processor opens them with the private keys of SITE_KEY_FILE, read once at
// start (a file others than its owner may read or write is refused). The
// subcommand
//
//	processor keygen FILE
//
// writes a new key file (mode 0600; it refuses to overwrite) and prints its
// public key, the orders API's SITE_PUBLIC_KEY, as its only line on standard
// output. Rotation: generate a key, append its line to every site's key
// file (a key file holds several keys) and restart the sites, then publish
// the new public key to the orders API; remove the old line only once no
// message sealed to it can remain (the queue's retention period after the
// API switched, plus the dead-letter queue's if its messages are to be
// redriven).
//
// Erasure: at start the processor lists its site database in the orders
// table (SITES), so that every erasure of a user waits for this database's
// confirmation; it retries until that succeeds and receives nothing before.
// An erasure message deletes the user's rows (and, through the Extension's
// Eraser, the adopter's own data of the user) and keeps a pseudonymous
// tombstone for ERASURE_TOMBSTONE_DAYS, so that no later order of the user
// is stored.
//
// After the site database is restored from a backup, and before the
// processor starts on it again, run
//
//	processor reconcile-erasures [flags]
//
// with the processor's configuration (the same flags and variables) and
// the same Extension: the restore brings back the rows, and the adopter's
// data, of users erased since the backup, and no erasure message will come
// for them again. It reads, for every owner the database holds rows of,
// that owner's erasure record in the orders table (one GetItem each), and
// erases at the database every owner that has one, as an erasure message
// would (rows, Eraser, tombstone); it confirms nothing. It logs one summary
// line (ownersChecked, ownersErased) and exits 0, or 1 on error; it may be
// run again at any time (every step is idempotent).
//
// Zone pairs: with PAIR_REGION (checked by package zonepair against
// AWS_REGION) and PAIR_QUEUE_URL, the processor runs a second receive loop
// on the partner's queue, with its SQS, orders-table and CloudWatch clients
// in PAIR_REGION, into the same site database and claiming in the same
// ORDERS_TABLE (the pair's table, one name in both regions); SITE_KEY_FILE
// holds both regions' private keys. Each loop registers the database,
// retries and backs off on its own, so an impaired region stops only its
// own loop; each puts its Heartbeat and OrdersProcessed metrics in its own
// region, and logs with queueRegion. PROCESSOR_CONCURRENCY is per loop. A message whose region is not one of the pair's is left for the
// dead-letter queue of the queue it came from, with a logged reason.
//
// AWS_REGION and the SDK's standard credential and endpoint variables
// (AWS_ENDPOINT_URL ...) apply as usual. A missing or malformed setting is
// one log line naming it and exit status 1.
package processormain

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdefaults "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/httpdelivery"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/sealed"
)

// DefaultDSN is the SQLite file used when SITE_DB_DSN is not set (the
// container's /data volume).
const DefaultDSN = "/data/orders.db"

// config is the processor's configuration.
type config struct {
	proc     processor.Config
	dsn      string
	logLevel string
	delivery *httpdelivery.Config // nil: no HTTP delivery
	keys     *sealed.Keyring      // SITE_KEY_FILE
}

// flagVars maps each flag to the variable it stands in for.
var flagVars = []struct{ flag, env, usage string }{
	{"queue-url", "ORDERS_QUEUE_URL", "orders queue URL"},
	{"orders-table", "ORDERS_TABLE", "orders table name"},
	{"site", "SITE_NAME", "site name"},
	{"key-file", "SITE_KEY_FILE", "site private key file (required)"},
	{"accept-plaintext", "ACCEPT_PLAINTEXT_ORDERS", "read version 1 (plaintext) orders: true or false (default true)"},
	{"db", "SITE_DB_DSN", "SQLite path or postgres:// URL (default " + DefaultDSN + ")"},
	{"concurrency", "PROCESSOR_CONCURRENCY", "worker pool size (default " + strconv.Itoa(processor.DefaultConcurrency) + ")"},
	{"visibility-timeout", "VISIBILITY_TIMEOUT", "visibility timeout (default " + processor.DefaultVisibilityTimeout.String() + ")"},
	{"wait-time", "WAIT_TIME", "long poll wait (default " + processor.DefaultWaitTime.String() + ")"},
	{"drain-timeout", "DRAIN_TIMEOUT", "drain timeout (default " + processor.DefaultDrainTimeout.String() + ")"},
	{"heartbeat-interval", "HEARTBEAT_INTERVAL", "heartbeat period (default " + processor.DefaultHeartbeatInterval.String() + ")"},
	{"pair-region", "PAIR_REGION", "the zone pair's partner region (default none)"},
	{"pair-queue-url", "PAIR_QUEUE_URL", "the partner region's orders queue URL (with -pair-region)"},
	{"erasure-tombstone-days", "ERASURE_TOMBSTONE_DAYS", "days an erased user's tombstone is kept (default " + strconv.Itoa(processor.DefaultErasureTombstoneDays) + ")"},
	{"log-level", "LOG_LEVEL", "log level (default INFO)"},
}

// loadConfig reads the flags in args over the environment getenv reads (a
// flag given overrides its variable), then hands the result to
// processor.ParseEnv, the one home of the processor's rules and bounds.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	given := map[string]*string{}
	for _, f := range flagVars {
		given[f.env] = fs.String(f.flag, "", f.usage+" ("+f.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return config{}, fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("flags: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	var empty []string
	fs.Visit(func(f *flag.Flag) {
		set[f.Name] = true
		if f.Value.String() == "" {
			empty = append(empty, "-"+f.Name)
		}
	})
	if len(empty) > 0 {
		// An empty flag would silently fall back to the variable's default.
		return config{}, fmt.Errorf("flags: %s given an empty value", strings.Join(empty, ", "))
	}
	env := func(name string) string {
		for _, f := range flagVars {
			if f.env == name && set[f.flag] {
				return *given[name]
			}
		}
		return getenv(name)
	}
	proc, err := processor.ParseEnv(env)
	if err != nil {
		// Name the flag when a flag, not the variable, gave the bad value.
		for _, f := range flagVars {
			if set[f.flag] && strings.HasPrefix(err.Error(), f.env) {
				return config{}, fmt.Errorf("%w (from -%s)", err, f.flag)
			}
		}
		return config{}, err
	}
	c := config{proc: proc, dsn: env("SITE_DB_DSN"), logLevel: env("LOG_LEVEL")}
	if c.keys, err = readKeys(env("SITE_KEY_FILE")); err != nil {
		if set["key-file"] {
			return config{}, fmt.Errorf("%w (from -key-file)", err)
		}
		return config{}, err
	}
	dc, on, err := httpdelivery.ParseEnv(env)
	if err != nil {
		return config{}, err
	}
	if on {
		c.delivery = &dc
	}
	if c.dsn == "" {
		c.dsn = DefaultDSN
	}
	if c.logLevel == "" {
		c.logLevel = "INFO"
	}
	return c, nil
}

// readKeys reads the site's key file. Its errors name SITE_KEY_FILE and
// never quote a key.
func readKeys(path string) (*sealed.Keyring, error) {
	path = strings.TrimSpace(path)
	if path == "" {
		return nil, errors.New("SITE_KEY_FILE is not set")
	}
	keys, err := sealed.ReadKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("SITE_KEY_FILE: %w", err)
	}
	return keys, nil
}

// Keygen is `processor keygen FILE`: it writes a new key file at FILE (mode
// 0600; it refuses to overwrite one) and prints its public key, the value of
// the orders API's SITE_PUBLIC_KEY, as its only line on stdout. Errors go to
// stderr. It returns the exit status.
func Keygen(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: processor keygen FILE")
		return 1
	}
	pub, err := sealed.GenerateKeyFile(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "processor keygen: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, pub.String())
	return 0
}

// Extension is what an adopter's processor adds to the built-in one.
type Extension struct {
	// Handler runs for each order inside the transaction that marks it
	// handled (see processor.Handler); nil stores only.
	Handler processor.Handler
	// Eraser runs inside the transaction that erases a user at the site
	// database (see processor.Eraser): it deletes what the Handler wrote
	// for the user. A Handler without an Eraser is warned about at start.
	Eraser processor.Eraser
	// Setup, when set, runs once at start, after the site database is
	// migrated, inside one write transaction: create or migrate the
	// Handler's own tables there (kind is "sqlite" or "postgres"). An error
	// stops the processor (exit status 1).
	Setup func(ctx context.Context, tx *sql.Tx, kind string) error
}

// reconcileCommand is the subcommand that brings a site database restored
// from a backup back in line with the erasures recorded since.
const reconcileCommand = "reconcile-erasures"

// Run is the processor's main with its inputs injected: args are the
// command-line arguments (without the program name), getenv reads the
// environment, logs go to stdout. It returns the exit status. With first
// argument "keygen" it is Keygen (errors on os.Stderr); with first argument
// "reconcile-erasures" it is ReconcileErasures.
func Run(args []string, getenv func(string) string, stdout io.Writer, ext Extension) int {
	if len(args) > 0 && args[0] == "keygen" {
		return Keygen(args[1:], stdout, os.Stderr)
	}
	if len(args) > 0 && args[0] == reconcileCommand {
		return ReconcileErasures(args[1:], getenv, stdout, ext)
	}
	// First SIGTERM/SIGINT: drain. A second one: the default action (exit now).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	s, code := start(ctx, "processor", args, getenv, stdout, ext)
	if s == nil {
		return code
	}
	defer s.store.Close()
	cfg, log, store := s.cfg, s.log, s.store

	extensions := processor.Extensions{Handler: ext.Handler, Eraser: ext.Eraser}
	if cfg.delivery != nil {
		d, err := httpdelivery.New(*cfg.delivery, nil, log)
		if err != nil {
			log.Error("processor: invalid configuration", "err", err.Error())
			return 1
		}
		extensions.Deliverer = d
		log.Info("HTTP delivery on", "delivery", *cfg.delivery)
	}
	// One receive loop per queue (processor.Config.Loops): the region's, and
	// in a zone pair the partner's, each with its own clients in its region,
	// all into the one site database.
	var loops []*processor.Processor
	for _, lc := range cfg.proc.Loops() {
		p, err := processor.NewFromAWS(lc, s.aws, getenv, store, cfg.keys, extensions, log)
		if err != nil {
			log.Error("processor: invalid configuration", "err", err.Error())
			return 1
		}
		loops = append(loops, p)
	}
	log.Info("site keys loaded", "keyIds", cfg.keys.KeyIDs(), "acceptPlaintext", !cfg.proc.RefusePlaintext,
		"queues", len(loops), "pairRegion", cfg.proc.Pair.Partner)
	return runLoops(ctx, loops, log)
}

// runLoops runs every loop until ctx ends and each has drained; a loop's
// trouble (an impaired region) stays its own. It returns 1 when any loop
// stopped without a complete drain or failed, else 0.
func runLoops(ctx context.Context, loops []*processor.Processor, log *slog.Logger) int {
	errs := make(chan error, len(loops))
	for _, p := range loops {
		go func() { errs <- p.Run(ctx) }()
	}
	code := 0
	for range loops {
		err := <-errs
		switch {
		case err == nil:
		case errors.Is(err, processor.ErrDrainTimeout):
			log.Error("processor: stopped without a complete drain", "err", err.Error())
			code = 1
		default:
			log.Error("processor: run", "err", err.Error())
			code = 1
		}
	}
	return code
}

// ReconcileErasures is `processor reconcile-erasures [flags]`, to run once
// after the site database was restored from a backup, before the processor
// starts again: with the processor's configuration (the same flags and
// variables) and ext's Eraser, it erases at the site database every owner
// that has an erasure record in the orders table (processor.ReconcileErasures),
// logs one summary line and returns 0, or 1 on error (it can be run again:
// every step is idempotent).
func ReconcileErasures(args []string, getenv func(string) string, stdout io.Writer, ext Extension) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	name := "processor " + reconcileCommand
	s, code := start(ctx, name, args, getenv, stdout, ext)
	if s == nil {
		return code
	}
	defer s.store.Close()
	if ext.Handler != nil && ext.Eraser == nil {
		s.log.Warn("adopter data of erased users is not erased: the Handler has no Eraser (processor.Eraser)")
	}
	began := time.Now()
	owners, erased, err := processor.ReconcileErasures(ctx, s.store, dynamodb.NewFromConfig(s.aws), s.cfg.proc.OrdersTable, ext.Eraser, s.log)
	if err != nil {
		s.log.Error(name+": stopped; run it again", "err", err.Error(),
			"ownersChecked", owners, "ownersErased", erased, "databaseId", s.store.ID())
		return 1
	}
	s.log.Info("erasures reconciled", "ownersChecked", owners, "ownersErased", erased,
		"databaseId", s.store.ID(), "took", time.Since(began).Round(time.Millisecond).String())
	return 0
}

// site is what the processor and its subcommand reconcile-erasures share:
// the configuration, the logger, the AWS configuration and the open site
// database (migrated, the Extension's Setup run).
type site struct {
	cfg   config
	log   *slog.Logger
	aws   aws.Config
	store orderstore.Store
}

// start reads the configuration of command name (args over getenv), loads
// the AWS configuration, opens the site database and runs ext's Setup. A
// nil site means the command ends with the exit status returned: 0 after
// -h printed the usage, 1 after one log line naming what failed. The
// caller closes the store.
func start(ctx context.Context, name string, args []string, getenv func(string) string, stdout io.Writer, ext Extension) (*site, int) {
	cfg, err := loadConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: %s [flags]; each flag stands in for its environment variable:\n", name)
		for _, f := range flagVars {
			fmt.Fprintf(stdout, "  -%-20s %-22s %s\n", f.flag, f.env, f.usage)
		}
		fmt.Fprintln(stdout, "subcommands:")
		fmt.Fprintln(stdout, "  processor keygen FILE                 write a new site key file, print its public key")
		fmt.Fprintln(stdout, "  processor "+reconcileCommand+" [flags]  after restoring the site database from a backup, before starting")
		fmt.Fprintln(stdout, "                                        the processor: erase there the users erased since the backup")
		return nil, 0
	}
	log := logging.New(stdout, getenv("LOG_LEVEL"))
	if err != nil {
		log.Error(name+": invalid configuration", "err", err.Error())
		return nil, 1
	}
	log = logging.New(stdout, cfg.logLevel)
	slog.SetDefault(log)

	opts := cfg.proc.SDKOptions()
	if getenv("AWS_ACCESS_KEY_ID") == "" {
		// ECS Anywhere hands a task its role's credentials through the
		// container credentials endpoint, which only the SDK's default chain
		// reads (unlike Lambda, nothing puts keys in the environment). That
		// chain reads the process environment itself (the endpoint's
		// AWS_CONTAINER_* variables): run's getenv is os.Getenv in production.
		dc, err := awsdefaults.LoadDefaultConfig(ctx)
		if err != nil {
			log.Error(name+": AWS credentials", "err", err.Error())
			return nil, 1
		}
		opts.Credentials = dc.Credentials
	}
	awsCfg, err := awsconfig.Load(ctx, "", getenv, opts)
	if err != nil {
		log.Error(name+": AWS configuration", "err", err.Error())
		return nil, 1
	}
	openCtx, cancelOpen := context.WithTimeout(ctx, 60*time.Second)
	store, err := orderstore.Open(openCtx, cfg.dsn)
	cancelOpen()
	if err != nil {
		log.Error(name+": open site database", "err", err.Error())
		return nil, 1
	}
	if ext.Setup != nil {
		setupCtx, cancelSetup := context.WithTimeout(ctx, 60*time.Second)
		err := store.Update(setupCtx, func(tx *sql.Tx) error { return ext.Setup(setupCtx, tx, store.Kind()) })
		cancelSetup()
		if err != nil {
			store.Close()
			log.Error(name+": extension set-up", "err", err.Error())
			return nil, 1
		}
	}
	log.Info("site database open", "kind", store.Kind(), "databaseId", store.ID())
	return &site{cfg: cfg, log: log, aws: awsCfg, store: store}, 0
}
