package benchmoto

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordersapi"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/residency"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/triggers"
	"github.com/homeregion/homeregion/shared/zonepair"
)

func TestMain(m *testing.M) { mototest.Main(m) }

const region = "eu-west-1"

var seq atomic.Int64

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

func clients(b *testing.B) (aws.Config, *dynamodb.Client, *sqs.Client) {
	srv := mototest.Require(b)
	cfg := srv.Config(region)
	return cfg, dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
}

func registryTable(b *testing.B, db *dynamodb.Client) string {
	name := unique("registry")
	mototest.CreateTable(b, db, "RegistryTable", name)
	return name
}

func ordersTable(b *testing.B, db *dynamodb.Client) string {
	name := unique("orders")
	mototest.CreateTable(b, db, "OrdersTable", name)
	return name
}

// queue creates an orders queue as the template declares it (FIFO).
func queue(b *testing.B, q *sqs.Client) string {
	return mototest.CreateQueue(b, q, "OrdersQueue", unique("orders"), map[string]any{"ReceiveMessageWaitTimeSeconds": 0})
}

func deps(b *testing.B) (*residency.Policy, *identity.Keys) {
	p, err := residency.Default()
	if err != nil {
		b.Fatal(err)
	}
	k, err := identity.FromSecret([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	return p, k
}

func preSignUpEvent(email string) []byte {
	ev := events.CognitoEventUserPoolsPreSignup{
		CognitoEventUserPoolsHeader: events.CognitoEventUserPoolsHeader{Version: "1", TriggerSource: triggers.SourceSignUp, Region: region, UserPoolID: region + "_bench", UserName: "u"},
		Request: events.CognitoEventUserPoolsPreSignupRequest{UserAttributes: map[string]string{
			"email": email, "custom:region": region, "custom:country": "DE"}},
	}
	b, _ := json.Marshal(ev)
	return b
}

func postConfirmationEvent(email string) []byte {
	ev := events.CognitoEventUserPoolsPostConfirmation{
		CognitoEventUserPoolsHeader: events.CognitoEventUserPoolsHeader{Version: "1", TriggerSource: triggers.SourceConfirmSignUp, Region: region, UserPoolID: region + "_bench", UserName: "u"},
		Request: events.CognitoEventUserPoolsPostConfirmationRequest{UserAttributes: map[string]string{
			"email": email, "email_verified": "true", "custom:region": region, "custom:country": "DE", "cognito:user_status": "CONFIRMED"}},
	}
	b, _ := json.Marshal(ev)
	return b
}

func preAuthEvent(email string) []byte {
	ev := events.CognitoEventUserPoolsPreAuthentication{
		CognitoEventUserPoolsHeader: events.CognitoEventUserPoolsHeader{Version: "1", TriggerSource: triggers.SourceAuthentication, Region: region, UserPoolID: region + "_bench", UserName: "u"},
		Request: events.CognitoEventUserPoolsPreAuthenticationRequest{UserAttributes: map[string]string{
			"email": email, "custom:region": region, "custom:country": "DE"}},
	}
	b, _ := json.Marshal(ev)
	return b
}

// postOrder is a POST /orders event from user sub with idempotency key key.
func postOrder(sub, key string) []byte {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: ordersapi.RouteCreate, RawPath: "/orders",
		Headers: map[string]string{"content-type": "application/json", "idempotency-key": key},
		Body:    orderBody,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/orders"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": sub, "custom:region": region}}},
		},
	}
	b, _ := json.Marshal(req)
	return b
}

const orderBody = `{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"Ada Lovelace","line1":"1 Main St","city":"Berlin","postalCode":"10115","country":"DE"}}`

// pair times handler and raw alternately in one loop, so that load drifting
// on a shared machine (moto is one Python process) hits both alike, and
// reports each side's mean and their ratio (the limit is 1.0).
func pair(b *testing.B, handler, raw func(i int)) {
	b.Helper()
	var th, tr time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		t0 := time.Now()
		handler(i)
		t1 := time.Now()
		raw(i)
		th += t1.Sub(t0)
		tr += time.Since(t1)
	}
	b.ReportMetric(float64(th.Nanoseconds())/float64(i), "handler-ns/op")
	b.ReportMetric(float64(tr.Nanoseconds())/float64(i), "raw-ns/op")
	b.ReportMetric(float64(th)/float64(tr), "ratio")
}

// BenchmarkVsRaw compares each handler, invoked through aws-lambda-go's JSON
// path against moto, with the raw calls it must make (see pair).
func BenchmarkVsRaw(b *testing.B) {
	ctx := context.Background()
	b.Run("PreSignUp", func(b *testing.B) {
		_, db, _ := clients(b)
		p, keys := deps(b)
		table := registryTable(b, db)
		h := lambda.NewHandler(newTrigger(b, triggers.NewPreSignUp, region, p, keys, registry.New(table, region, region, db, db, p.Version())))
		run := unique("u")
		pair(b, func(i int) {
			if _, err := h.Invoke(ctx, preSignUpEvent(fmt.Sprintf("%s-%d@example.com", run, i))); err != nil {
				b.Fatal(err)
			}
		}, func(i int) {
			// What the handler must do: one strongly consistent read (this is
			// the registry region) of a key nobody holds.
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
				Key: map[string]ddbtypes.AttributeValue{registry.AttrKey: &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("%s-%d", run, i)}}})
			if err != nil || out.Item != nil {
				b.Fatal("get", err)
			}
		})
	})

	b.Run("PostConfirmation", func(b *testing.B) {
		_, db, _ := clients(b)
		p, keys := deps(b)
		table := registryTable(b, db)
		rawTable := registryTable(b, db)
		h := lambda.NewHandler(newTrigger(b, triggers.NewPostConfirmation, region, p, keys, registry.New(table, region, region, db, db, p.Version())))
		run := unique("u")
		pair(b, func(i int) {
			if _, err := h.Invoke(ctx, postConfirmationEvent(fmt.Sprintf("%s-%d@example.com", run, i))); err != nil {
				b.Fatal(err)
			}
		}, func(i int) {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(rawTable),
				Item: map[string]ddbtypes.AttributeValue{
					registry.AttrKey: &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("%s-%d", run, i)},
					"homeRegion":     &ddbtypes.AttributeValueMemberS{Value: region},
					"createdAt":      &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)},
				},
				ConditionExpression:      aws.String("attribute_not_exists(#k)"),
				ExpressionAttributeNames: map[string]string{"#k": registry.AttrKey},
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	})

	b.Run("PreAuth", func(b *testing.B) {
		const users = 32
		_, db, _ := clients(b)
		p, keys := deps(b)
		table := registryTable(b, db)
		reg := registry.New(table, region, region, db, db, p.Version())
		run := unique("u")
		evs := make([][]byte, users)
		ks := make([]string, users)
		for i := range evs {
			email := fmt.Sprintf("%s-%d@example.com", run, i)
			k, err := keys.Key(ctx, email)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := reg.Claim(ctx, k, region); err != nil {
				b.Fatal(err)
			}
			evs[i], ks[i] = preAuthEvent(email), k
		}
		h := lambda.NewHandler(newTrigger(b, triggers.NewPreAuth, region, p, keys, reg))
		pair(b, func(i int) {
			if _, err := h.Invoke(ctx, evs[i%users]); err != nil {
				b.Fatal(err)
			}
		}, func(i int) {
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
				Key: map[string]ddbtypes.AttributeValue{registry.AttrKey: &ddbtypes.AttributeValueMemberS{Value: ks[i%users]}}})
			if err != nil || out.Item == nil {
				b.Fatal("get", err)
			}
		})
	})

	// POST /orders unpaired (one transaction) and in a zone pair (the
	// pair table: the erasure read and one conditional write, no
	// transaction; moto's one table stands for the MRSC table, so the
	// cross-region wait of each write is not in the figure).
	for _, c := range []struct {
		name   string
		handle func(b *testing.B, db *dynamodb.Client, q *sqs.Client, key sealed.PublicKey) *ordersapi.Handler
	}{
		{"CreateOrder", func(b *testing.B, db *dynamodb.Client, q *sqs.Client, key sealed.PublicKey) *ordersapi.Handler {
			h, err := ordersapi.New(region, key, ordersapi.NewDynamoStore(db, ordersTable(b, db)), ordersapi.NewSQSQueue(q, queue(b, q)), logging.Discard())
			if err != nil {
				b.Fatal(err)
			}
			return h
		}},
		{"CreateOrderPair", func(b *testing.B, db *dynamodb.Client, q *sqs.Client, key sealed.PublicKey) *ordersapi.Handler {
			p := zonepair.Pair{Region: region, Partner: "eu-central-1", Witness: "eu-west-3"}
			h, err := ordersapi.NewForPair(p, key, ordersapi.NewPairStore(db, ordersTable(b, db)), ordersapi.NewSQSQueue(q, queue(b, q)), logging.Discard())
			if err != nil {
				b.Fatal(err)
			}
			return h
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			_, db, q := clients(b)
			// The handler seals every order (its cost is part of the handler's);
			// the raw loop sends a message of the same shape and size, sealed once.
			key, err := sealed.GenerateKeyFile(filepath.Join(b.TempDir(), "site.key"))
			if err != nil {
				b.Fatal(err)
			}
			lh := lambda.NewHandler(c.handle(b, db, q, key).Handle)
			rawTable, rawURL := ordersTable(b, db), queue(b, q)
			sm, err := sealed.SealEnvelope(key, orders.Envelope{Version: orders.SealedVersion, OrderID: "x", Region: region, Owner: "bench-user", CreatedAt: time.Now(),
				Order: orders.Order{Items: []orders.Item{{SKU: "AB-12", Quantity: 2}}, DeliveryAddress: orders.Address{Name: "Ada Lovelace", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE"}}})
			if err != nil {
				b.Fatal(err)
			}
			env, _ := json.Marshal(sm)
			run := unique("key")
			pair(b, func(i int) {
				out, err := lh.Invoke(ctx, postOrder("bench-user", fmt.Sprintf("%s-%d", run, i)))
				if err != nil || !strings.Contains(string(out), `"statusCode":202`) {
					b.Fatalf("%v %s", err, out)
				}
			}, func(i int) {
				id := fmt.Sprintf("%s-%d", run, i)
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(rawTable), Item: map[string]ddbtypes.AttributeValue{
					ordertable.AttrPK:     &ddbtypes.AttributeValueMemberS{Value: ordertable.OrderKey(id)},
					ordertable.AttrOwner:  &ddbtypes.AttributeValueMemberS{Value: "bench-user"},
					ordertable.AttrStatus: &ddbtypes.AttributeValueMemberS{Value: string(orders.StatusAccepted)},
				}, ConditionExpression: aws.String("attribute_not_exists(pk)")}); err != nil {
					b.Fatal(err)
				}
				if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(rawURL), MessageBody: aws.String(string(env)),
					MessageGroupId: aws.String(id), MessageDeduplicationId: aws.String(id),
					MessageAttributes: map[string]sqstypes.MessageAttributeValue{orders.MessageAttrOrderID: {DataType: aws.String("String"), StringValue: aws.String(id)}}}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}

	// The processor and two bare loops each drain a batch of queued
	// messages per iteration: one loop deletes message by message, the
	// other with one DeleteMessageBatch per receive. A fresh processor
	// starts once its batch is queued, so every side times only the
	// draining. The ratios are per message (handler ÷ raw: 1/ratio is the
	// processor's throughput relative to the loop's).
	b.Run("Processor", func(b *testing.B) {
		const batch = 50
		cfg, _, _ := clients(b)
		f := processortest.New(b, cfg, 5)
		rawF := processortest.New(b, cfg, 5)
		rawB := processortest.New(b, cfg, 5)
		db, err := orderstore.Open(ctx, filepath.Join(b.TempDir(), "site.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		var th, tr, tb time.Duration
		var total, redeliveries int64
		calls := &callCounter{sqs: f.SQS, ddb: f.DynamoDB}
		store := &txCounter{Store: db, calls: calls}
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			n++
			ids := processortest.IDs(fmt.Sprintf("b%d-%d", seq.Add(1), n), batch)
			rawIDs := processortest.IDs(fmt.Sprintf("r%d-%d", seq.Add(1), n), batch)
			batchIDs := processortest.IDs(fmt.Sprintf("q%d-%d", seq.Add(1), n), batch)
			f.Records(b, ids)
			if err := f.Send(ctx, ids); err != nil {
				b.Fatal(err)
			}
			if err := rawF.Send(ctx, rawIDs); err != nil {
				b.Fatal(err)
			}
			if err := rawB.Send(ctx, batchIDs); err != nil {
				b.Fatal(err)
			}
			total += batch
			p, err := processor.New(processor.Config{QueueURL: f.QueueURL, OrdersTable: f.Table, Site: "bench",
				Concurrency: 16, WaitTime: time.Second, VisibilityTimeout: 30 * time.Second, DrainTimeout: 5 * time.Second},
				processor.Deps{SQS: calls, DynamoDB: calls, Store: store, Keys: f.Keys})
			if err != nil {
				b.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			calls.start()
			t0 := time.Now()
			go func() { done <- p.Run(rctx) }()
			for p.Stats().Processed < batch { // settled and deleted: the whole pipeline
				time.Sleep(time.Millisecond)
			}
			t1 := time.Now()
			calls.stop()
			cancel()
			<-done
			redeliveries += p.Stats().Duplicates
			t2 := time.Now()
			drain(b, rawF.SQS, rawF.QueueURL, batch, 2, 16, false)
			t3 := time.Now()
			drain(b, rawB.SQS, rawB.QueueURL, batch, 2, 16, true)
			th += t1.Sub(t0)
			tr += t3.Sub(t2)
			tb += time.Since(t3)
		}
		b.ReportMetric(float64(th.Nanoseconds())/float64(total), "handler-ns/msg")
		b.ReportMetric(float64(tr.Nanoseconds())/float64(total), "raw-ns/msg")
		b.ReportMetric(float64(tb.Nanoseconds())/float64(total), "rawbatch-ns/msg")
		b.ReportMetric(float64(th)/float64(tr), "ratio")
		b.ReportMetric(float64(th)/float64(tb), "ratio-batch")
		b.ReportMetric(float64(redeliveries), "redeliveries")
		b.ReportMetric(float64(calls.n.Load())/float64(total), "aws-calls/msg")
		b.ReportMetric(float64(calls.tx.Load())/float64(total), "sql-tx/msg")
	})
}

// callCounter passes the processor's SQS and DynamoDB calls through,
// counting those made before stop: the AWS calls per message, receives
// included (an idle long poll after the batch is done is not counted).
type callCounter struct {
	sqs     *sqs.Client
	ddb     *dynamodb.Client
	n       atomic.Int64
	tx      atomic.Int64 // site database transactions (txCounter)
	stopped atomic.Bool
}

func (c *callCounter) count() {
	if !c.stopped.Load() {
		c.n.Add(1)
	}
}

func (c *callCounter) countTx() {
	if !c.stopped.Load() {
		c.tx.Add(1)
	}
}

// txCounter is the site database with its transactions counted (each
// method the processor calls is one transaction or one statement; ID is
// none), while calls counts.
type txCounter struct {
	orderstore.Store
	calls *callCounter
}

func (s *txCounter) Prepare(ctx context.Context, env orders.Envelope) (orderstore.Order, error) {
	s.calls.countTx()
	return s.Store.Prepare(ctx, env)
}

func (s *txCounter) PrepareBatch(ctx context.Context, envs []orders.Envelope) ([]orderstore.Prepared, error) {
	s.calls.countTx()
	return s.Store.PrepareBatch(ctx, envs)
}

func (s *txCounter) Handle(ctx context.Context, id string, fn func(*sql.Tx) error) (bool, error) {
	s.calls.countTx()
	return s.Store.Handle(ctx, id, fn)
}

func (s *txCounter) HandleBatch(ctx context.Context, ids []string, fn func(*sql.Tx, string) error) ([]orderstore.Handled, error) {
	s.calls.countTx()
	return s.Store.HandleBatch(ctx, ids, fn)
}

func (s *txCounter) Finish(ctx context.Context, id string) error {
	s.calls.countTx()
	return s.Store.Finish(ctx, id)
}

func (s *txCounter) FinishBatch(ctx context.Context, ids []string) error {
	s.calls.countTx()
	return s.Store.FinishBatch(ctx, ids)
}

func (s *txCounter) Fail(ctx context.Context, id string, from orderstore.State) error {
	s.calls.countTx()
	return s.Store.Fail(ctx, id, from)
}

func (s *txCounter) Discard(ctx context.Context, id, token string) error {
	s.calls.countTx()
	return s.Store.Discard(ctx, id, token)
}

func (s *txCounter) Pending(ctx context.Context, before time.Time, after orderstore.Order, limit int) ([]orderstore.Order, error) {
	s.calls.countTx()
	return s.Store.Pending(ctx, before, after, limit)
}

func (s *txCounter) PruneErased(ctx context.Context, before time.Time) (int, error) {
	s.calls.countTx()
	return s.Store.PruneErased(ctx, before)
}

// start and stop bound the counting of one batch.
func (c *callCounter) start() { c.stopped.Store(false) }
func (c *callCounter) stop()  { c.stopped.Store(true) }

func (c *callCounter) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	c.count()
	return c.sqs.ReceiveMessage(ctx, in, o...)
}

func (c *callCounter) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	c.count()
	return c.sqs.DeleteMessage(ctx, in, o...)
}

func (c *callCounter) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	c.count()
	return c.sqs.DeleteMessageBatch(ctx, in, o...)
}

func (c *callCounter) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, o ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	c.count()
	return c.sqs.ChangeMessageVisibility(ctx, in, o...)
}

func (c *callCounter) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, o ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	c.count()
	return c.sqs.ChangeMessageVisibilityBatch(ctx, in, o...)
}

func (c *callCounter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count()
	return c.ddb.UpdateItem(ctx, in, o...)
}

func (c *callCounter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count()
	return c.ddb.GetItem(ctx, in, o...)
}

// drain receives and deletes n messages with pollers concurrent long polls
// and up to workers concurrent DeleteMessage calls (the processor's defaults:
// 2 pollers, 16 workers), or with batch one DeleteMessageBatch per receive,
// not waiting for the deletes before the next receive: the least work a
// consumer can do, pipelined like the processor.
// It returns as soon as the n-th delete is done (like the processor side,
// which stops timing at its n-th stored order), abandoning idle long polls.
func drain(b *testing.B, q *sqs.Client, url string, n, pollers, workers int, batch bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sem := make(chan struct{}, workers)
	var deleted atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	for range pollers {
		go func() {
			for ctx.Err() == nil {
				out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 30})
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				if batch && len(out.Messages) > 0 {
					entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(out.Messages))
					for i, m := range out.Messages {
						entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
					}
					sem <- struct{}{}
					go func() {
						defer func() { <-sem }()
						res, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
						if err != nil || len(res.Failed) > 0 {
							if ctx.Err() == nil {
								b.Errorf("delete batch: %v (%d failed)", err, len(res.Failed))
							}
							return
						}
						if deleted.Add(int64(len(entries))) >= int64(n) {
							once.Do(func() { close(all) })
						}
					}()
					continue
				}
				for _, m := range out.Messages {
					sem <- struct{}{}
					go func() {
						defer func() { <-sem }()
						if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
							if ctx.Err() == nil {
								b.Error(err)
							}
							return
						}
						if deleted.Add(1) == int64(n) {
							once.Do(func() { close(all) })
						}
					}()
				}
			}
		}()
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		b.Fatalf("drained %d of %d messages in 2 minutes", deleted.Load(), n)
	}
}

// newTrigger builds a trigger handler through its constructor (logs discarded).
func newTrigger[T any](tb testing.TB, newHandler func(triggers.Config, triggers.Deps, *slog.Logger) (T, error), region string, p *residency.Policy, keys triggers.Keyer, reg triggers.Registry) T {
	tb.Helper()
	h, err := newHandler(triggers.Config{Region: region}, triggers.Deps{Policy: p, Keys: keys, Registry: reg}, logging.Discard())
	if err != nil {
		tb.Fatal(err)
	}
	return h
}
