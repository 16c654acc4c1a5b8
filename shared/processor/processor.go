// Package processor is the on-prem order processor: it drains the regional
// orders queue, stores every order in the site's own database, runs the
// adopter's Handler and Deliverer for it (extension.go) and moves the
// order's status in the regional orders table forward, so GET /orders/{id}
// shows progress while the order itself (PII) never leaves the site.
//
// Delivery is at-least-once (SQS); the effect is exactly once across every
// consumer of the queue, whatever database each uses (docs/site.md): each
// order is prepared in the site database, claimed in its status record in
// the orders table with one conditional write that exactly one consumer
// wins (ordertable.Claim), handled by the winner in the transaction that
// marks its row handled, settled COMPLETED with the claim
// (ordertable.Settle), and only then is its message deleted. A consumer
// that loses the claim discards its row and deletes the message (settled
// elsewhere) or hides it for a visibility timeout (not yet settled). Claims
// are never taken over; a recovery pass over the site database (at start,
// then every visibility timeout) finishes what a crash left prepared or
// handled, without waiting for the message.
//
// Run long-polls (20 s) for batches of up to 10 messages with a bounded
// pool of workers, each taking one receive's batch: a batch is received only
// when a worker is free for it, so nothing waits unstarted behind a busy
// worker while its visibility timeout runs out. A batch's orders go through
// the claim protocol together (batch.go), each order still decided on its
// own: one site database transaction stores them all, one handles them all
// (each order in a savepoint, so one that fails rolls back alone), their
// claims and then their COMPLETED statuses are written concurrently (one
// conditional UpdateItem each, so each order gets its own answer), and their
// messages are deleted with one DeleteMessageBatch. A batch still being worked on
// has its visibility extended (ChangeMessageVisibilityBatch). Poison
// messages (malformed body, unknown envelope version, a sealed order that
// does not open with the site's keys, a plaintext one once those are
// refused) and orders the site
// database refuses for good (orderstore.ErrPermanent, e.g. PostgreSQL
// SQLSTATE 22P05) are never deleted: they reach the queue's dead-letter queue
// after maxReceiveCount receives (OrdersDeadLetterAlarm), and their order,
// when known, moves at once to the terminal status FAILED, so GET
// /orders/{id} never shows ACCEPTED for ever (an unknown envelope version is
// left ACCEPTED: a newer processor may read it). Transient errors
// (connection, timeout) are retried by redelivery and never fail an order.
// Only the message id, the order id attribute, the receive count and, for a
// sealed order that does not open, its key id are logged, never the body.
//
// Messages: version 2 carries the order sealed to the site's public key
// (package sealed); the processor opens it with Deps.Keys (SITE_KEY_FILE)
// and hands the opened orders.Envelope (Version 2) to the store, the Handler
// and the Deliverer. Version 1 (plaintext) is read too unless
// Config.RefusePlaintext. Version 3 is an erasure of a user (erasure.go):
// the owner's rows and the adopter's data (Eraser) are deleted, a tombstone
// keeps every later order of that owner out, and the erasure is confirmed
// in the orders table. When Run's context is cancelled (SIGTERM) it stops receiving,
// finishes what is in flight, hands received-but-unstarted messages back with
// visibility 0 and returns nil.
//
// Zone pairs: a site of a pair drains both regions' queues into its one
// database, with one Processor per queue (Config.Loops), each with its SQS,
// orders-table and CloudWatch clients in its queue's region, so an impaired
// region stops only its own loop. The claim is unchanged (one conditional
// write on ORDER#<id> in the pair's one table), so a message of one order in
// both queues still runs the Handler once; the recovery pass and the
// registration run in every loop (both idempotent). A message whose region
// is not one of the pair's is poison, its order untouched (Config.Pair).
//
// Metrics (CloudWatch PutMetricData, namespace Homeregion/Processor,
// dimension Site=<Config.Site>): Heartbeat (1 per HeartbeatInterval, 1 minute
// by default, while the processor runs) and OrdersProcessed (messages
// completed and deleted since the previous put). The site's alarms read them.
package processor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// Metric names; the alarm actions depend on them.
const (
	MetricNamespace       = "Homeregion/Processor"
	MetricHeartbeat       = "Heartbeat"
	MetricOrdersProcessed = "OrdersProcessed"
	MetricDimensionSite   = "Site"
)

// Defaults for the zero values of Config.
const (
	DefaultConcurrency       = 16
	DefaultWaitTime          = 20 * time.Second
	DefaultVisibilityTimeout = 60 * time.Second
	DefaultDrainTimeout      = 25 * time.Second
	DefaultHeartbeatInterval = time.Minute
	// DefaultErasureTombstoneDays is how long a site keeps an erased
	// owner's tombstone: longer than any message of the owner can live
	// (the queue's retention, then the dead-letter queue's 14 days).
	DefaultErasureTombstoneDays = 15
)

// maxBatch is SQS's limit of messages per ReceiveMessage.
const maxBatch = 10

// SQSAPI is the part of the SQS client the processor uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// MetricsAPI is the part of the CloudWatch client the processor uses.
type MetricsAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// Store is the site database (orderstore.Store satisfies it; see there for
// the states of an order row).
type Store interface {
	ID() string
	Prepare(ctx context.Context, env orders.Envelope) (orderstore.Order, error)
	Handle(ctx context.Context, id string, fn func(tx *sql.Tx) error) (ran bool, err error)
	Finish(ctx context.Context, id string) error
	PrepareBatch(ctx context.Context, envs []orders.Envelope) ([]orderstore.Prepared, error)
	HandleBatch(ctx context.Context, ids []string, fn func(tx *sql.Tx, id string) error) ([]orderstore.Handled, error)
	FinishBatch(ctx context.Context, ids []string) error
	Fail(ctx context.Context, id string, from orderstore.State) error
	Discard(ctx context.Context, id, token string) error
	Pending(ctx context.Context, before time.Time, after orderstore.Order, limit int) ([]orderstore.Order, error)
	Erase(ctx context.Context, owner, erasureID string, fn func(tx *sql.Tx) error) (rows int, err error)
	Forget(ctx context.Context, id string) error
	PruneErased(ctx context.Context, before time.Time) (int, error)
	Owners(ctx context.Context, after string, limit int) ([]string, error)
}

// Config configures a Processor. Zero durations and counts take the defaults.
type Config struct {
	QueueURL    string // the regional orders queue
	OrdersTable string // the regional orders table (status records)
	Site        string // this site's name: the metrics' Site dimension

	Concurrency       int           // worker pool size: batches (of up to 10 messages) worked on at once (default 16)
	Pollers           int           // concurrent long polls (default max(2, Concurrency/10))
	WaitTime          time.Duration // long poll wait, whole seconds, ≤ 20 s (default 20 s)
	VisibilityTimeout time.Duration // asked for on every receive and extended while working (default 60 s)
	DrainTimeout      time.Duration // how long in-flight work may take after cancellation (default 25 s)
	HeartbeatInterval time.Duration // metrics period (default 1 minute)

	// RefusePlaintext makes a version 1 (plaintext) message poison: its
	// order ends FAILED (ACCEPT_PLAINTEXT_ORDERS=false). By default a site
	// still reads them, while version 1 messages may remain in the queue.
	RefusePlaintext bool

	// ErasureTombstoneDays is how long, in days, the tombstone of an
	// erased owner is kept (ERASURE_TOMBSTONE_DAYS, default 15): while it
	// exists, no order of that owner is stored here.
	ErasureTombstoneDays int

	// Pair is the site's zone pair (PAIR_REGION). With a partner, a message
	// whose region the pair does not serve (zonepair.Pair.Serves) is poison:
	// it stays for the dead-letter queue of the queue it came from, with a
	// logged reason, and its order is not touched (it is no order of this
	// pair). Without one, a message's region is only required to be present.
	Pair zonepair.Pair
	// PairQueueURL is the partner's orders queue (PAIR_QUEUE_URL), set
	// with Pair's partner: Loops gives it a loop of its own.
	PairQueueURL string
	// Region is the region of this loop's queue and of the orders-table
	// replica it calls ("": the AWS configuration's own). Loops sets it.
	Region string
}

// Opener opens version 2 (sealed orders) and version 3 (erasures)
// messages with the site's private keys (sealed.Keyring satisfies it). Its
// errors wrap sealed.ErrUnknownKey or sealed.ErrCannotOpen.
type Opener interface {
	OpenEnvelope(m orders.SealedEnvelope) (orders.Envelope, error)
	OpenErasure(m orders.SealedErasure) (orders.Erasure, error)
}

// Deps are the processor's collaborators. CloudWatch may be nil (no metrics);
// Handler and Deliverer may be nil (the order is only stored); Eraser may be
// nil (an erasure deletes only the order rows); Log may be nil (no logs);
// Now may be nil (time.Now).
type Deps struct {
	SQS        SQSAPI
	DynamoDB   DynamoDBAPI
	CloudWatch MetricsAPI
	Store      Store
	Keys       Opener // the site's private keys (SITE_KEY_FILE); required
	Handler    Handler
	Deliverer  Deliverer
	Eraser     Eraser
	Log        *slog.Logger
	Now        func() time.Time
}

// Stats counts what a Processor did since it was created.
type Stats struct {
	Received     int64 // messages received
	Processed    int64 // settled and deleted (OrdersProcessed)
	Inserted     int64 // orders handled here for the first time (the Handler ran), by a message or the recovery pass
	Duplicates   int64 // processed messages whose order was already handled here or settled by another database
	Poison       int64 // malformed, unknown-version or refused (permanent error) receives, left for the DLQ
	Failed       int64 // transient failures, left for redelivery
	FailedOrders int64 // receives that set (or found) an order's terminal status FAILED
	HandedBack   int64 // received but unstarted at shutdown, made visible again
	Deferred     int64 // receives of orders another database has claimed and not yet settled, made visible later
	Recovered    int64 // orders a crash had left unsettled in this database that the recovery pass settled
	Erased       int64 // orders of erased owners not stored (tombstone) or forgotten (status ERASED), message deleted
	Erasures     int64 // erasure messages carried out, confirmed and deleted
}

// Processor drains the orders queue into the site database.
type Processor struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	received, processed, inserted, duplicates, poison, failed, handedBack atomic.Int64
	failedOrders, deferred, recovered, erased, erasures                   atomic.Int64
	unreported                                                            atomic.Int64 // OrdersProcessed not yet put
}

// ErrDrainTimeout is returned by Run when in-flight work did not finish
// within Config.DrainTimeout after cancellation; the unfinished messages are
// redelivered later (nothing is lost).
var ErrDrainTimeout = errors.New("processor: drain timeout: in-flight work abandoned (it will be redelivered)")

// New checks cfg (cfg.validate: the bounds ParseEnv also applies) and deps
// and returns a Processor.
func New(cfg Config, deps Deps) (*Processor, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	if deps.SQS == nil || deps.DynamoDB == nil || deps.Store == nil || deps.Keys == nil {
		return nil, errors.New("processor: SQS, DynamoDB, Store and Keys are required")
	}
	cfg = cfg.withDefaults()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("site", cfg.Site)
	if cfg.Region != "" {
		log = log.With("queueRegion", cfg.Region)
	}
	return &Processor{cfg: cfg, deps: deps, log: log}, nil
}

// withDefaults returns c with every zero tunable set to its default.
func (c Config) withDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Pollers == 0 {
		c.Pollers = max(2, (c.Concurrency+maxBatch-1)/maxBatch)
	}
	if c.WaitTime == 0 {
		c.WaitTime = DefaultWaitTime
	}
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ErasureTombstoneDays == 0 {
		c.ErasureTombstoneDays = DefaultErasureTombstoneDays
	}
	return c
}

// Config returns the effective configuration (defaults applied).
func (p *Processor) Config() Config { return p.cfg }

// Stats returns the counters so far.
func (p *Processor) Stats() Stats {
	return Stats{
		Received:     p.received.Load(),
		Processed:    p.processed.Load(),
		Inserted:     p.inserted.Load(),
		Duplicates:   p.duplicates.Load(),
		Poison:       p.poison.Load(),
		Failed:       p.failed.Load(),
		HandedBack:   p.handedBack.Load(),
		FailedOrders: p.failedOrders.Load(),
		Deferred:     p.deferred.Load(),
		Recovered:    p.recovered.Load(),
		Erased:       p.erased.Load(),
		Erasures:     p.erasures.Load(),
	}
}

// Run processes messages, and runs the recovery pass, until ctx is
// cancelled, then drains: it stops receiving, finishes in-flight messages
// and the recovery pass's current order (for at most DrainTimeout), hands
// unstarted messages back and puts the last metrics. It returns nil after a
// complete drain and ErrDrainTimeout otherwise.
//
// Before anything else it registers the site database for erasures
// (ordertable.RegisterSite), retrying until it succeeds: nothing is
// received before. Cancelled meanwhile, it returns nil.
func (p *Processor) Run(ctx context.Context) error {
	if p.deps.Handler != nil && p.deps.Eraser == nil {
		p.log.Warn("adopter data of erased users is not erased: the Handler has no Eraser (processor.Eraser)")
	}
	if err := p.register(ctx); err != nil {
		p.log.Warn("processor stopped before the site database was registered; nothing was received")
		return nil
	}
	// In-flight work outlives ctx (it must finish during the drain) but not
	// the drain timeout.
	workCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()

	slots := make(chan struct{}, p.cfg.Concurrency) // one token per batch held
	jobs := make(chan []*message)                   // the messages of one receive

	var workers sync.WaitGroup
	for range p.cfg.Concurrency {
		workers.Go(func() {
			for batch := range jobs {
				p.handleBatch(workCtx, batch)
				<-slots
			}
		})
	}

	metricsDone := make(chan struct{})
	stopMetrics := make(chan struct{})
	go func() {
		defer close(metricsDone)
		p.metricsLoop(workCtx, stopMetrics)
	}()

	p.log.Info("processor started", "concurrency", p.cfg.Concurrency, "pollers", p.cfg.Pollers,
		"visibilityTimeout", p.cfg.VisibilityTimeout.String())

	var pollers sync.WaitGroup
	for range p.cfg.Pollers {
		pollers.Go(func() { p.poll(ctx, slots, jobs) })
	}
	recoveryDone := make(chan struct{})
	go func() {
		defer close(recoveryDone)
		p.recoveryLoop(ctx, workCtx)
	}()
	pollers.Wait()
	close(jobs)
	p.log.Info("processor draining: receiving stopped, finishing in-flight messages")

	var err error
	drained := make(chan struct{})
	go func() { workers.Wait(); <-recoveryDone; close(drained) }()
	timer := time.NewTimer(p.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		err = ErrDrainTimeout
		abandon()
		<-drained
	}
	close(stopMetrics)
	<-metricsDone
	p.reportUnsettled()
	s := p.Stats()
	p.log.Info("processor stopped", "received", s.Received, "processed", s.Processed, "inserted", s.Inserted,
		"duplicates", s.Duplicates, "poison", s.Poison, "failed", s.Failed, "failedOrders", s.FailedOrders, "handedBack", s.HandedBack,
		"deferred", s.Deferred, "recovered", s.Recovered, "erased", s.Erased, "erasures", s.Erasures, "drained", err == nil)
	return err
}

// message is one received SQS message.
type message struct {
	id, receipt, body string
	orderAttr         string // the orderId message attribute, "" when absent
	erasureAttr       string // the erasureId message attribute, "" when absent
	receiveCount      string // ApproximateReceiveCount
	receivedAt        time.Time
}

// reportUnsettled logs, at shutdown, how many orders this database still
// holds unsettled (PREPARED or HANDLED): their claims keep other consumers
// away until a processor runs on this database again, so a site must not be
// left without one (or its database removed) while any remain.
func (p *Processor) reportUnsettled() {
	ctx, cancel := context.WithTimeout(context.Background(), handBackTimeout)
	defer cancel()
	rows, err := p.deps.Store.Pending(ctx, p.deps.Now().Add(time.Hour), orderstore.Order{}, recoveryBatch)
	switch {
	case err != nil:
		p.log.Warn("count unsettled orders at shutdown failed", "err", err)
	case len(rows) > 0:
		n := fmt.Sprint(len(rows))
		if len(rows) == recoveryBatch {
			n += " or more"
		}
		p.log.Warn("orders claimed by this database are not settled; they complete when a processor runs on this database again",
			"unsettled", n)
	}
}
