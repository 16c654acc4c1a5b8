// Package erasure is the regional erasure worker: it drives every erasure
// record of the orders table (package ordertable: ERASURE#…) from ACCEPTED
// to COMPLETED, cleaning each place a user's data lives, in this order:
//
//  1. disable: the user is found in the home pool by sub (ListUsers), its
//     registry identity key is computed from its e-mail (package identity)
//     and kept in the record, and the user is disabled (AdminDisableUser),
//     so it cannot sign in, and PreAuth cannot re-adopt the claim;
//  2. registry: the claim is read in the registry region (consistent), its
//     createdAt recorded, and released with a condition on it
//     (registry.Release), so a new sign-up of the address is never undone;
//  3. user: the user is deleted from the pool (AdminDeleteUser);
//  4. orders: every item of the owner in the orders table (owner index):
//     status records become tombstones (ordertable.EraseOrder), idempotency
//     records are deleted; done when the index returns nothing and the
//     record is SettleAge old (index propagation);
//  5. sites: a sealed erasure message (version 3) goes through the orders
//     queue, re-sent (ResendInterval, doubling to MaxResendInterval) until
//     every site database listed in the SITES item has confirmed;
//  6. dlq: the dead-letter queue, and in a zone pair the partner's too, is
//     swept: messages of the owner (versions 1 and 2) or of this erasure
//     (version 3) are deleted, others made visible again;
//  7. completion: status COMPLETED, counts per kind, and every temporary
//     attribute removed (ordertable.CompleteErasure).
//
// Zone pairs: both regions' erasure records are in the one pair table, so
// each region's worker sees both; it carries out only those whose home
// region (ordertable.Erasure.IsHome) is its own and leaves the partner's to
// the partner's worker. Every step above then runs in the home region, with
// the pair's SITES and both regions' dead-letter queues. The orders step
// waits longer in a pair (PairSettleAge).
//
// Every step is idempotent and marked done in the record when it finishes,
// so a crash, a throttled call or a failed step resumes at that step on the
// next scheduled run; one erasure's failure never stops the others. Logs
// name erasures by their id only: never an e-mail, a sub or a username.
package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/sealed"
)

// UserPool is the part of the Cognito client the worker uses, on the one
// home pool.
type UserPool interface {
	ListUsers(ctx context.Context, in *cip.ListUsersInput, optFns ...func(*cip.Options)) (*cip.ListUsersOutput, error)
	AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, optFns ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error)
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, optFns ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
}

// Keyer computes registry identity keys (*identity.Keys).
type Keyer interface {
	Key(ctx context.Context, email string) (string, error)
}

// Registry reads and releases claims in the registry region
// (*registry.Registry).
type Registry interface {
	LookupRegistry(ctx context.Context, key string) (registry.Record, bool, error)
	Release(ctx context.Context, key, region string, createdAt time.Time) (bool, error)
}

// Table is the part of the DynamoDB client the worker uses on the orders
// table.
type Table interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Queue sends to the orders queue.
type Queue interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// DeadLetters is the part of the SQS client the worker uses on the
// dead-letter queue.
type DeadLetters interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// The steps, in order, as AttrDone records them.
const (
	StepDisable  = "disable"
	StepRegistry = "registry"
	StepUser     = "user"
	StepOrders   = "orders"
	StepSites    = "sites"
	StepDLQ      = "dlq"
)

// Steps are the steps in the order the worker runs them.
var Steps = []string{StepDisable, StepRegistry, StepUser, StepOrders, StepSites, StepDLQ}

// The kinds of data an erasure counts (the completed record's counts).
const (
	KindPoolUser      = "poolUser"
	KindRegistryClaim = "registryClaim"
	KindOrders        = "orderRecords"
	KindIdempotency   = "idempotencyRecords"
	KindSites         = "siteDatabases"
	KindDLQ           = "dlqMessages"
)

var kinds = []string{KindPoolUser, KindRegistryClaim, KindOrders, KindIdempotency, KindSites, KindDLQ}

// Defaults of the Worker's timing fields.
const (
	DefaultResendInterval    = time.Minute
	DefaultMaxResendInterval = 15 * time.Minute
	DefaultSettleAge         = 5 * time.Second
	// PairSettleAge is SettleAge in a zone pair. There, POST /orders checks
	// for an erasure record with a read and then writes the order (an MRSC
	// table has no transactions to bind the two), so an order can be
	// written after the record, as long as the orders function's invocation
	// that read "no erasure" still runs: up to its timeout (template.yaml's
	// OrdersApiFunction, Timeout 10 s). The orders step may end only once
	// the record is older than that, so it must exceed the timeout.
	PairSettleAge  = 15 * time.Second
	DefaultReserve = 10 * time.Second
	// DefaultTombstoneTTL outlives any message of an erased order: 14 days
	// in the dead-letter queue, plus a day.
	DefaultTombstoneTTL = 15 * 24 * time.Hour
)

// ErrNoUser reports that the operator's address names no user of the pool.
var ErrNoUser = errors.New("erasure: no user with that address in this pool")

// ErrOtherHome reports (Advance) an erasure whose user's home region is
// not this worker's: in a zone pair, the partner's worker carries it out.
var ErrOtherHome = errors.New("erasure: the user's home region is another region; its worker carries the erasure out")

// ErrBadEmail reports an operator's address that cannot be looked up.
var ErrBadEmail = errors.New("erasure: the address is empty or contains a quote or backslash")

// Worker advances erasures. Set every dependency; New fills the timing
// defaults.
type Worker struct {
	Region   string // this region (AWS_REGION)
	Table    string // ORDERS_TABLE
	QueueURL string // ORDERS_QUEUE_URL
	DLQURL   string // ORDERS_DLQ_URL
	PoolID   string // USER_POOL_ID
	// Partner is the zone pair's partner region (PAIR_REGION), "" without
	// a pair; PairDLQURL its dead-letter queue (PAIR_DLQ_URL), swept with
	// PairDLQ (a client in Partner) as well as DLQURL.
	Partner    string
	PairDLQURL string
	SiteKey    sealed.PublicKey // SITE_PUBLIC_KEY

	Pool     UserPool
	Keys     Keyer
	Registry Registry
	DB       Table
	Queue    Queue
	DLQ      DeadLetters
	PairDLQ  DeadLetters // with PairDLQURL

	Log     *slog.Logger
	Metrics io.Writer        // EMF lines (os.Stdout when nil)
	Now     func() time.Time // time.Now when nil

	// ResendInterval is the wait before the first re-send of a site
	// message; each re-send doubles it, up to MaxResendInterval.
	ResendInterval, MaxResendInterval time.Duration
	// SettleAge is how old an erasure record must be before an empty owner
	// index query finishes the orders step (index propagation; in a pair,
	// an order written after the record: PairSettleAge). Default:
	// DefaultSettleAge, PairSettleAge with a Partner.
	SettleAge time.Duration
	// Reserve is the time left before the invocation's deadline under which
	// a run starts no more work.
	Reserve time.Duration
	// TombstoneTTL is how long an erased order's tombstone lives.
	TombstoneTTL time.Duration
	// DLQWait is ReceiveMessage's wait on the dead-letter queue (1 s).
	DLQWait int32
}

// New returns a Worker with the default timings.
func New(w Worker) *Worker {
	if w.ResendInterval == 0 {
		w.ResendInterval = DefaultResendInterval
	}
	if w.MaxResendInterval == 0 {
		w.MaxResendInterval = DefaultMaxResendInterval
	}
	if w.SettleAge == 0 {
		w.SettleAge = DefaultSettleAge
		if w.Partner != "" {
			w.SettleAge = PairSettleAge
		}
	}
	if w.Reserve == 0 {
		w.Reserve = DefaultReserve
	}
	if w.TombstoneTTL == 0 {
		w.TombstoneTTL = DefaultTombstoneTTL
	}
	if w.DLQWait == 0 {
		w.DLQWait = 1
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	return &w
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

// Response answers an operator's request.
type Response struct {
	ErasureID string `json:"erasureId"`
	Status    string `json:"status"`
}

// Request starts the erasure of the pool's user with e-mail address email
// (the operator's command), or returns the one that exists: ListUsers, then
// ordertable.RequestErasure via ViaOperator. Errors never contain the
// address: ErrNoUser, ErrBadEmail, or a wrapped SDK error.
func (w *Worker) Request(ctx context.Context, email string) (Response, error) {
	email = strings.TrimSpace(email)
	if email == "" || strings.ContainsAny(email, "\"\\") {
		return Response{}, ErrBadEmail
	}
	out, err := w.Pool.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(w.PoolID), Filter: aws.String(`email = "` + email + `"`), Limit: aws.Int32(2)})
	if err != nil {
		return Response{}, logging.Redact(fmt.Errorf("erasure request: list users: %w", err), email)
	}
	switch len(out.Users) {
	case 0:
		return Response{}, ErrNoUser
	case 1:
	default:
		return Response{}, errors.New("erasure: several users have that address in this pool")
	}
	sub := attr(out.Users[0].Attributes, "sub")
	if sub == "" {
		return Response{}, errors.New("erasure: the user with that address has no sub")
	}
	// The pool is this region's: its users' home region is this one.
	e, created, err := ordertable.RequestErasure(ctx, w.DB, w.Table, sub, uuid.NewString(), ordertable.ViaOperator, w.Region, w.now())
	if err != nil {
		return Response{}, fmt.Errorf("erasure request: %w", err)
	}
	w.Log.Info("erasure requested", slog.String("erasureId", e.ID), slog.String("via", ordertable.ViaOperator), slog.Bool("created", created))
	return Response{ErasureID: e.ID, Status: string(e.Status)}, nil
}

// Result sums up a scheduled run.
type Result struct {
	Pending   int `json:"pending"`   // erasures pending at the start
	Completed int `json:"completed"` // completed by this run
	Failed    int `json:"failed"`    // stopped by an error (retried next run)
	Skipped   int `json:"skipped"`   // not reached before the deadline
	Partner   int `json:"partner"`   // of the zone pair partner's users: left to its worker
}

// Run advances every pending erasure of this region's users as far as it
// can, oldest first, and writes the OldestPendingErasureAgeSeconds metric.
// In a zone pair the metric covers the partner's pending erasures too (the
// index lists them; their home is known only once read), so an erasure
// held up by its home region's outage still raises the partner's alarm. It stops starting work
// when less than Reserve is left before ctx's deadline. An erasure's error
// is logged and leaves it for the next run; only failing to list the
// pending erasures is Run's error.
func (w *Worker) Run(ctx context.Context) (Result, error) {
	start := w.now()
	pending, err := ordertable.PendingErasures(ctx, w.DB, w.Table)
	if err != nil {
		return Result{}, fmt.Errorf("erasure run: %w", err)
	}
	var oldest time.Duration
	if len(pending) > 0 {
		oldest = max(start.Sub(pending[0].RequestedAt), 0)
	}
	w.metric(oldest, start)
	res := Result{Pending: len(pending)}
	for i, p := range pending {
		if w.late(ctx) {
			res.Skipped = len(pending) - i
			w.Log.Warn("erasure run stopped before the deadline", slog.Int("skipped", res.Skipped))
			break
		}
		completed, err := w.Advance(ctx, p.Key)
		switch {
		case errors.Is(err, ErrOtherHome):
			res.Partner++
		case err != nil:
			res.Failed++
			w.Log.Error("erasure step failed; retried next run", slog.String("error", err.Error()))
		case completed:
			res.Completed++
		}
	}
	w.Log.Info("erasure run", slog.Int("pending", res.Pending), slog.Int("completed", res.Completed),
		slog.Int("failed", res.Failed), slog.Int("skipped", res.Skipped), slog.Int("partner", res.Partner), slog.Duration("took", w.now().Sub(start)))
	return res, nil
}

// late reports whether less than Reserve is left before ctx's deadline.
func (w *Worker) late(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < w.Reserve
}

// metric writes the run's Embedded Metric Format line.
func (w *Worker) metric(oldest time.Duration, at time.Time) {
	line, _ := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "homeregion",
				"Dimensions": [][]string{{}},
				"Metrics":    []any{map[string]string{"Name": "OldestPendingErasureAgeSeconds", "Unit": "Seconds"}},
			}},
		},
		"OldestPendingErasureAgeSeconds": int64(oldest / time.Second),
	})
	out := w.Metrics
	if out == nil {
		out = os.Stdout
	}
	fmt.Fprintf(out, "%s\n", line)
}

// Advance runs the erasure record key's steps that are not done, in order,
// until one cannot finish yet (waiting for the index or the sites), fails,
// or the deadline nears; then completes it once every step is done. It
// reports whether the erasure is COMPLETED now. An erasure of another home
// region's user (a zone pair partner's) is left untouched: ErrOtherHome.
// Errors name the erasure id, never the owner.
func (w *Worker) Advance(ctx context.Context, key string) (completed bool, err error) {
	rec, err := ordertable.GetErasureWork(ctx, w.DB, w.Table, key)
	if errors.Is(err, ordertable.ErrNoErasure) {
		return false, nil // gone since the index was read
	}
	if err != nil {
		return false, fmt.Errorf("erasure: %w", err)
	}
	if !rec.IsHome(w.Region) {
		return false, fmt.Errorf("erasure %s: home %s: %w", rec.ID, rec.Home, ErrOtherHome)
	}
	if rec.Status == ordertable.ErasureCompleted {
		return true, nil
	}
	log := w.Log.With(slog.String("erasureId", rec.ID))
	if rec.Status == ordertable.ErasureAccepted {
		if err := w.record(ctx, &rec, ordertable.ErasureStep{Start: true}); err != nil {
			return false, err
		}
		log.Info("erasure started")
	}
	for _, step := range Steps {
		if rec.Done[step] {
			continue
		}
		if w.late(ctx) {
			return false, nil
		}
		done, err := w.step(ctx, step, &rec, log)
		if err != nil {
			// An SDK error may echo a request (a ListUsers filter): the
			// error is logged, so it never carries the sub.
			return false, logging.Redact(fmt.Errorf("erasure %s: step %s: %w", rec.ID, step, err), rec.Subject)
		}
		if !done {
			return false, nil
		}
		log.Info("erasure step done", slog.String("step", step))
	}
	counts := make(map[string]int64, len(kinds))
	for _, k := range kinds {
		counts[k] = rec.Counts[k]
	}
	if err := ordertable.CompleteErasure(ctx, w.DB, w.Table, rec.Key, rec.ID, counts, w.now()); err != nil {
		return false, fmt.Errorf("erasure %s: complete: %w", rec.ID, err)
	}
	log.Info("erasure completed", slog.Any("counts", counts), slog.Duration("took", w.now().Sub(rec.RequestedAt)))
	return true, nil
}

func (w *Worker) step(ctx context.Context, step string, rec *ordertable.ErasureWork, log *slog.Logger) (bool, error) {
	switch step {
	case StepDisable:
		return w.disable(ctx, rec, log)
	case StepRegistry:
		return w.release(ctx, rec, log)
	case StepUser:
		return w.deleteUser(ctx, rec)
	case StepOrders:
		return w.eraseOrders(ctx, rec)
	case StepSites:
		return w.sites(ctx, rec, log)
	case StepDLQ:
		return w.sweep(ctx, rec)
	}
	return false, fmt.Errorf("unknown step %q", step)
}

// record applies s to rec's record and to rec.
func (w *Worker) record(ctx context.Context, rec *ordertable.ErasureWork, s ordertable.ErasureStep) error {
	add := make(map[string]int64, len(s.Add))
	for k, n := range s.Add {
		if k != ordertable.AttrSends {
			k = ordertable.AttrCountPrefix + k
		}
		add[k] = n
	}
	s.Add = add
	if err := ordertable.RecordErasureStep(ctx, w.DB, w.Table, rec.Key, rec.ID, s, w.now()); err != nil {
		return fmt.Errorf("erasure %s: %w", rec.ID, err)
	}
	if s.Start {
		rec.Status = ordertable.ErasureInProgress
	}
	if s.Done != "" {
		rec.Done[s.Done] = true
	}
	for k, n := range add {
		if k == ordertable.AttrSends {
			rec.Sends += int(n)
		} else {
			rec.Counts[strings.TrimPrefix(k, ordertable.AttrCountPrefix)] += n
		}
	}
	if v, ok := s.SetS[ordertable.AttrIDKey]; ok {
		rec.IDKey = v
	}
	if v, ok := s.Set[ordertable.AttrClaimCreatedAt]; ok {
		rec.ClaimCreatedAt = v
	}
	if v, ok := s.Set[ordertable.AttrSentAt]; ok {
		rec.SentAt = v
	}
	return nil
}

// findUser returns the pool's user with sub, if any.
func (w *Worker) findUser(ctx context.Context, sub string) (*ciptypes.UserType, error) {
	out, err := w.Pool.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(w.PoolID), Filter: aws.String(`sub = "` + sub + `"`), Limit: aws.Int32(1)})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	if len(out.Users) == 0 {
		return nil, nil
	}
	return &out.Users[0], nil
}

func attr(attrs []ciptypes.AttributeType, name string) string {
	for _, a := range attrs {
		if aws.ToString(a.Name) == name {
			return aws.ToString(a.Value)
		}
	}
	return ""
}

// disable: identity key from the e-mail, then AdminDisableUser.
func (w *Worker) disable(ctx context.Context, rec *ordertable.ErasureWork, log *slog.Logger) (bool, error) {
	u, err := w.findUser(ctx, rec.Subject)
	if err != nil {
		return false, err
	}
	if u == nil {
		log.Warn("erasure: the user is not in the pool (deleted before the erasure?); no registry claim can be found")
		return true, w.record(ctx, rec, ordertable.ErasureStep{Done: StepDisable})
	}
	s := ordertable.ErasureStep{Done: StepDisable, Add: map[string]int64{KindPoolUser: 1}}
	if rec.IDKey == "" {
		if email := attr(u.Attributes, "email"); email != "" {
			k, err := w.Keys.Key(ctx, email)
			switch {
			case errors.Is(err, identity.ErrNoEmail) || errors.Is(err, identity.ErrMalformedEmail) || errors.Is(err, identity.ErrUnsupportedEmail):
				// PreSignUp refuses such an address: it has no claim. Retrying
				// would never succeed.
				log.Warn("erasure: the user's address has no identity key; no registry claim to release")
			case err != nil:
				return false, fmt.Errorf("identity key: %w", err)
			default:
				s.SetS = map[string]string{ordertable.AttrIDKey: k}
			}
		}
	}
	_, err = w.Pool.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: aws.String(w.PoolID), Username: u.Username})
	var nf *ciptypes.UserNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return false, fmt.Errorf("disable user: %w", err)
	}
	return true, w.record(ctx, rec, s)
}

// release: observe the claim once (consistent read, createdAt recorded),
// then release exactly that claim.
func (w *Worker) release(ctx context.Context, rec *ordertable.ErasureWork, log *slog.Logger) (bool, error) {
	if rec.IDKey == "" {
		return true, w.record(ctx, rec, ordertable.ErasureStep{Done: StepRegistry})
	}
	if rec.ClaimCreatedAt.IsZero() {
		c, ok, err := w.Registry.LookupRegistry(ctx, rec.IDKey)
		if err != nil {
			return false, err
		}
		if !ok || c.HomeRegion != w.Region {
			log.Info("erasure: no registry claim of this region to release")
			return true, w.record(ctx, rec, ordertable.ErasureStep{Done: StepRegistry})
		}
		if err := w.record(ctx, rec, ordertable.ErasureStep{Set: map[string]time.Time{ordertable.AttrClaimCreatedAt: c.CreatedAt}}); err != nil {
			return false, err
		}
	}
	released, err := w.Registry.Release(ctx, rec.IDKey, w.Region, rec.ClaimCreatedAt)
	if err != nil {
		return false, err
	}
	s := ordertable.ErasureStep{Done: StepRegistry}
	if released {
		s.Add = map[string]int64{KindRegistryClaim: 1}
	} else {
		log.Info("erasure: the observed registry claim is gone or replaced; kept")
	}
	return true, w.record(ctx, rec, s)
}

// deleteUser: AdminDeleteUser (a user already gone is done).
func (w *Worker) deleteUser(ctx context.Context, rec *ordertable.ErasureWork) (bool, error) {
	u, err := w.findUser(ctx, rec.Subject)
	if err != nil {
		return false, err
	}
	if u != nil {
		_, err := w.Pool.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(w.PoolID), Username: u.Username})
		var nf *ciptypes.UserNotFoundException
		if err != nil && !errors.As(err, &nf) {
			return false, fmt.Errorf("delete user: %w", err)
		}
	}
	return true, w.record(ctx, rec, ordertable.ErasureStep{Done: StepUser})
}

// ownerBatch bounds one owner index query of the orders step.
const ownerBatch = 100

// eraseOrders: tombstones and idempotency deletes until the owner index
// is empty and the record has settled. The index lags its table: an item
// this call already erased may be listed again for a moment. It is neither
// erased nor counted twice; a query that lists only such items ends the
// step for this run (the next run finds the index caught up), rather than
// querying again and again until the deadline.
func (w *Worker) eraseOrders(ctx context.Context, rec *ordertable.ErasureWork) (bool, error) {
	handled := map[string]bool{}
	for {
		listed, err := ordertable.OwnerItems(ctx, w.DB, w.Table, rec.Subject, ownerBatch)
		if err != nil {
			return false, err
		}
		if len(listed) == 0 {
			break
		}
		var keys []string
		for _, k := range listed {
			if !handled[k] {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return false, nil // only items erased by this call: the index lags
		}
		var nOrders, nIdem int64
		var stepErr error
		for _, k := range keys {
			if w.late(ctx) {
				break
			}
			switch {
			case strings.HasPrefix(k, "ORDER#"):
				now := w.now()
				if stepErr = ordertable.EraseOrder(ctx, w.DB, w.Table, strings.TrimPrefix(k, "ORDER#"), rec.Subject, rec.ID, now, now.Add(w.TombstoneTTL)); stepErr == nil {
					nOrders++
				}
			case strings.HasPrefix(k, "IDEM#"):
				var deleted bool
				if deleted, stepErr = ordertable.DeleteIdem(ctx, w.DB, w.Table, k, rec.Subject); deleted {
					nIdem++
				}
			default:
				stepErr = fmt.Errorf("%w: an item of the owner that is neither an order nor an idempotency record", ordertable.ErrCorrupt)
			}
			if stepErr != nil {
				break
			}
			handled[k] = true
		}
		if nOrders+nIdem > 0 {
			if err := w.record(ctx, rec, ordertable.ErasureStep{Add: map[string]int64{KindOrders: nOrders, KindIdempotency: nIdem}}); err != nil {
				return false, err
			}
		}
		if stepErr != nil {
			return false, stepErr
		}
		if w.late(ctx) {
			return false, nil
		}
	}
	if w.now().Sub(rec.RequestedAt) < w.SettleAge {
		return false, nil // a POST /orders just before the record may not be indexed yet
	}
	return true, w.record(ctx, rec, ordertable.ErasureStep{Done: StepOrders})
}

// resendAfter is the wait after the sends-th site message.
func (w *Worker) resendAfter(sends int) time.Duration {
	d := w.ResendInterval
	for i := 1; i < sends && d < w.MaxResendInterval; i++ {
		d *= 2
	}
	return min(d, w.MaxResendInterval)
}

// sites: done when every listed site database confirmed; until then the
// sealed message is (re-)sent at most once per interval.
func (w *Worker) sites(ctx context.Context, rec *ordertable.ErasureWork, log *slog.Logger) (bool, error) {
	dbs, err := ordertable.SiteDatabases(ctx, w.DB, w.Table)
	if err != nil {
		return false, err
	}
	if len(dbs) == 0 {
		log.Warn("erasure: no site database is listed in this region; the site step is done")
		return true, w.record(ctx, rec, ordertable.ErasureStep{Done: StepSites})
	}
	got, err := ordertable.Confirmations(ctx, w.DB, w.Table, rec.ID)
	if err != nil {
		return false, err
	}
	confirmed := make(map[string]bool, len(got))
	for _, c := range got {
		confirmed[c] = true
	}
	missing := 0
	for _, d := range dbs {
		if !confirmed[d] {
			missing++
		}
	}
	if missing == 0 {
		return true, w.record(ctx, rec, ordertable.ErasureStep{Done: StepSites, Add: map[string]int64{KindSites: int64(len(dbs))}, Confirmed: dbs})
	}
	now := w.now()
	if !rec.SentAt.IsZero() && now.Sub(rec.SentAt) < w.resendAfter(rec.Sends) {
		return false, nil
	}
	m, err := sealed.SealErasure(w.SiteKey, orders.Erasure{Version: orders.ErasureVersion, ErasureID: rec.ID, Region: w.Region, Owner: rec.Subject, CreatedAt: now})
	if err != nil {
		return false, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("encode site message: %w", err)
	}
	_, err = w.Queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(w.QueueURL),
		MessageBody: aws.String(string(body)),
		// The orders queue is FIFO: the erasure is its own message group
		// (it waits behind no order), and each numbered send its own
		// deduplication id, so a re-send is delivered while a retry of
		// the same send (its record write failed) is dropped.
		MessageGroupId:         aws.String(rec.ID),
		MessageDeduplicationId: aws.String(fmt.Sprintf("%s-%d", rec.ID, rec.Sends+1)),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			orders.MessageAttrErasureID: {DataType: aws.String("String"), StringValue: aws.String(rec.ID)},
		},
	})
	if err != nil {
		return false, fmt.Errorf("send site message: %w", err)
	}
	log.Info("erasure: site message sent", slog.Int("waitingFor", missing), slog.Int("sends", rec.Sends+1))
	return false, w.record(ctx, rec, ordertable.ErasureStep{Set: map[string]time.Time{ordertable.AttrSentAt: now}, Add: map[string]int64{ordertable.AttrSends: 1}})
}

// dlqMessage is what the sweep reads of a dead-letter message body.
type dlqMessage struct {
	Version   int    `json:"version"`
	Owner     string `json:"owner"`
	ErasureID string `json:"erasureId"`
}

// deadLetterQueue is one dead-letter queue the sweep covers.
type deadLetterQueue struct {
	url    string
	client DeadLetters
}

// deadLetterQueues are the queues the sweep covers: this region's DLQ and,
// in a zone pair, the partner's (orders the partner served for this
// region's users went through the partner's queue).
func (w *Worker) deadLetterQueues() []deadLetterQueue {
	qs := []deadLetterQueue{{url: w.DLQURL, client: w.DLQ}}
	if w.PairDLQURL != "" {
		qs = append(qs, deadLetterQueue{url: w.PairDLQURL, client: w.PairDLQ})
	}
	return qs
}

// sweep: delete the dead-letter messages of the owner or of this erasure
// from every dead-letter queue (deadLetterQueues), in turn; the step is done
// once each was swept to its end in one run.
func (w *Worker) sweep(ctx context.Context, rec *ordertable.ErasureWork) (bool, error) {
	var deleted int64
	done := true
	var err error
	for _, q := range w.deadLetterQueues() {
		n, qdone, qerr := w.sweepQueue(ctx, rec, q)
		deleted += n
		if qerr != nil || !qdone {
			done, err = false, qerr
			break
		}
	}
	s := ordertable.ErasureStep{Add: map[string]int64{KindDLQ: deleted}}
	if done {
		s.Done = StepDLQ
	}
	if deleted > 0 || done {
		if rerr := w.record(ctx, rec, s); rerr != nil && err == nil {
			return false, rerr
		}
	}
	return done, err
}

// sweepQueue sweeps dead-letter queue q: it deletes the messages of the
// owner or of this erasure (counted in deleted) and makes the others
// visible again at the end; done when a receive found the queue empty.
func (w *Worker) sweepQueue(ctx context.Context, rec *ordertable.ErasureWork, q deadLetterQueue) (deleted int64, done bool, err error) {
	var others []sqstypes.ChangeMessageVisibilityBatchRequestEntry
	defer func() {
		if verr := w.unhide(ctx, q, others); verr != nil && err == nil {
			done, err = false, verr
		}
	}()
	for !w.late(ctx) {
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              aws.String(q.url),
			MaxNumberOfMessages:   10,
			WaitTimeSeconds:       w.DLQWait,
			VisibilityTimeout:     30,
			MessageAttributeNames: []string{orders.MessageAttrErasureID},
		})
		if err != nil {
			return deleted, false, fmt.Errorf("receive dead letters: %w", err)
		}
		if len(out.Messages) == 0 {
			return deleted, true, nil
		}
		for _, m := range out.Messages {
			if w.ours(m, rec) {
				if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
					return deleted, false, fmt.Errorf("delete dead letter: %w", err)
				}
				deleted++
				continue
			}
			others = append(others, sqstypes.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(fmt.Sprintf("m%d", len(others))), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			})
		}
	}
	return deleted, false, nil
}

// ours reports whether dead-letter message m is of rec's owner or erasure.
func (w *Worker) ours(m sqstypes.Message, rec *ordertable.ErasureWork) bool {
	if a, ok := m.MessageAttributes[orders.MessageAttrErasureID]; ok && aws.ToString(a.StringValue) == rec.ID {
		return true
	}
	var b dlqMessage
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
		return false
	}
	return (b.Owner != "" && b.Owner == rec.Subject) || (b.Version == orders.ErasureVersion && b.ErasureID == rec.ID)
}

// unhide makes the dead-letter messages of entries visible again in q, in
// batches of 10.
func (w *Worker) unhide(ctx context.Context, q deadLetterQueue, entries []sqstypes.ChangeMessageVisibilityBatchRequestEntry) error {
	// The messages are hidden for 30 s anyway: a context already done must
	// not keep them hidden longer than needed, so this gets its own bound.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for len(entries) > 0 {
		n := min(len(entries), 10)
		out, err := q.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.url), Entries: entries[:n]})
		if err != nil {
			return fmt.Errorf("make dead letters visible: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("make dead letters visible: %d failed", len(out.Failed))
		}
		entries = entries[n:]
	}
	return nil
}
