// Package processortest builds the moto fixtures of the processor's
// integration tests: an orders queue with its dead-letter queue (RedrivePolicy
// maxReceiveCount), an orders table, and orders enqueued the way the orders
// API enqueues them (a status record ACCEPTED, then the envelope).
package processortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/sealed"
)

// Fixture is one test's queue, dead-letter queue, orders table and site key.
type Fixture struct {
	SQS      *sqs.Client
	DynamoDB *dynamodb.Client
	QueueURL string
	DLQURL   string
	Table    string

	// KeyFile is the site's key file (SITE_KEY_FILE, mode 0600), Keys its
	// contents and PublicKey what the orders API seals to.
	KeyFile   string
	Keys      *sealed.Keyring
	PublicKey sealed.PublicKey
	// Plaintext makes Send, Seed and Feed enqueue version 1 (plaintext)
	// messages instead of sealed ones.
	Plaintext bool
	// OwnerOf, when set, names the owner of order id (Body, Records);
	// otherwise every order is Owner's.
	OwnerOf func(id string) string
}

// Owner is the owner of every order of Envelope, and of a Fixture's orders
// unless its OwnerOf says otherwise.
const Owner = "owner-sub"

// owner returns order id's owner.
func (f *Fixture) owner(id string) string {
	if f.OwnerOf != nil {
		return f.OwnerOf(id)
	}
	return Owner
}

// New creates a uniquely named orders queue as template.yaml declares it
// (FIFO), whose RedrivePolicy sends a message to a new dead-letter queue
// (FIFO too) after maxReceiveCount receives, and an orders table with
// template.yaml's OrdersTable layout. Messages are sent as the orders API
// sends them (message group = order id), but each with a deduplication id
// of its own: a second copy of one order is what the site meets when a
// replay comes after the queue's deduplication interval, and what these
// tests send on purpose.
func New(t testing.TB, cfg aws.Config, maxReceiveCount int) *Fixture {
	t.Helper()
	ctx := context.Background()
	suffix := randHex(5)
	f := &Fixture{SQS: sqs.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg), Table: "orders-" + suffix}
	f.DLQURL = mototest.CreateQueue(t, f.SQS, "OrdersDeadLetterQueue", "orders-dlq-"+suffix, nil)
	attrs, err := f.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(f.DLQURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("DLQ arn: %v", err)
	}
	f.QueueURL = mototest.CreateQueue(t, f.SQS, "OrdersQueue", "orders-"+suffix, map[string]any{
		"RedrivePolicy": map[string]any{
			"deadLetterTargetArn": attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
			"maxReceiveCount":     maxReceiveCount,
		},
		"VisibilityTimeout": 30,
	})
	mototest.CreateTable(t, f.DynamoDB, "OrdersTable", f.Table)
	f.KeyFile, f.PublicKey, f.Keys = NewKey(t)
	return f
}

// NewKey writes a new site key file in t's temporary directory and returns
// its path, public key and keyring.
func NewKey(t testing.TB) (file string, pub sealed.PublicKey, keys *sealed.Keyring) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "site.key")
	pub, err := sealed.GenerateKeyFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err = sealed.ReadKeyFile(file); err != nil {
		t.Fatal(err)
	}
	return file, pub, keys
}

// LeakChecks are values of Envelope's order and owner that no log line may
// carry: CheckNoPII reports the first it finds in logs.
var LeakChecks = []string{"AB-12", "Erika", "Mustermann", "Hauptstr", "Berlin", "owner-sub"}

// CheckNoPII fails t when logs carry any of LeakChecks.
func CheckNoPII(t testing.TB, logs string) {
	t.Helper()
	for _, v := range LeakChecks {
		if strings.Contains(logs, v) {
			t.Errorf("a log line carries the order field %q:\n%s", v, logs)
		}
	}
}

// Body returns the message body the orders API would send for order id:
// EnvelopeOf(id, its owner) sealed to f.PublicKey (version 2), or the
// envelope itself when f.Plaintext.
func (f *Fixture) Body(id string) (string, error) {
	env := EnvelopeOf(id, f.owner(id))
	var v any = env
	if !f.Plaintext {
		m, err := sealed.SealEnvelope(f.PublicKey, env)
		if err != nil {
			return "", err
		}
		v = m
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// IDs returns n order ids with prefix.
func IDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return ids
}

// Envelope returns a valid version 1 (plaintext) envelope for order id of
// Owner: the order a sealed message of Body opens to (with Version 2).
func Envelope(id string) orders.Envelope { return EnvelopeOf(id, Owner) }

// EnvelopeOf is Envelope(id) of owner.
func EnvelopeOf(id, owner string) orders.Envelope {
	return orders.Envelope{
		Version:   orders.EnvelopeVersion,
		OrderID:   id,
		Region:    "eu-west-1",
		Owner:     owner,
		CreatedAt: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC),
		Order: orders.Order{
			Items:           []orders.Item{{SKU: "AB-12", Quantity: 2}},
			DeliveryAddress: orders.Address{Name: "Erika Mustermann", Line1: "Hauptstr. 1", City: "Berlin", PostalCode: "10115", Country: "DE"},
		},
	}
}

// Seed writes an ACCEPTED status record for every id and enqueues its
// envelope, in parallel batches.
//
// moto's ReceiveMessage costs time proportional to the queue's length (about
// 4 ms per queued message on a loaded 2-core machine), so tests of many
// orders should Feed them instead: a real queue does not care.
func (f *Fixture) Seed(t testing.TB, ids []string) {
	t.Helper()
	f.Records(t, ids)
	if err := f.Send(context.Background(), ids); err != nil {
		t.Fatal(err)
	}
}

// Feed writes every id's status record, then enqueues the envelopes in the
// background, as the orders API would while the site drains the queue: it
// keeps at most backlog messages not yet done (done reports how many are).
// The returned wait blocks until everything is sent; it fails the test when
// nothing was done for feedStall (the consumers stopped making progress).
func (f *Fixture) Feed(t testing.TB, ids []string, backlog int, done func() int64) (wait func()) {
	t.Helper()
	f.Records(t, ids)
	finished := make(chan error, 1)
	go func() {
		const chunk = 20
		last, lastAt := done(), time.Now()
		for start := 0; start < len(ids); {
			if int64(start)-done() >= int64(backlog) {
				if n := done(); n != last {
					last, lastAt = n, time.Now()
				} else if time.Since(lastAt) > feedStall {
					finished <- fmt.Errorf("processortest: feed stalled: %d of %d sent, %d done, no progress for %s", start, len(ids), n, feedStall)
					return
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			end := min(start+chunk, len(ids))
			var err error
			for try := 0; try < 5; try++ { // moto on a loaded machine drops a request now and then
				if err = f.Send(context.Background(), ids[start:end]); err == nil {
					break
				}
				time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
			}
			if err != nil {
				finished <- err
				return
			}
			start = end
		}
		finished <- nil
	}()
	var once sync.Once
	return func() {
		t.Helper()
		once.Do(func() {
			if err := <-finished; err != nil {
				t.Error(err)
			}
		})
	}
}

// feedStall is how long Feed waits for progress before it gives up.
const feedStall = 3 * time.Minute

// Records writes an ACCEPTED status record for every id.
func (f *Fixture) Records(t testing.TB, ids []string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Format(orders.TimeFormat)
	var wg sync.WaitGroup
	errs := make(chan error, len(ids)/25+1)
	sem := make(chan struct{}, 4)
	for start := 0; start < len(ids); start += 25 {
		batch := ids[start:min(start+25, len(ids))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			reqs := make([]ddbtypes.WriteRequest, len(batch))
			for i, id := range batch {
				reqs[i] = ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: map[string]ddbtypes.AttributeValue{
					ordertable.AttrPK:        &ddbtypes.AttributeValueMemberS{Value: ordertable.OrderKey(id)},
					ordertable.AttrOwner:     &ddbtypes.AttributeValueMemberS{Value: f.owner(id)},
					ordertable.AttrStatus:    &ddbtypes.AttributeValueMemberS{Value: string(orders.StatusAccepted)},
					ordertable.AttrCreatedAt: &ddbtypes.AttributeValueMemberS{Value: now},
					ordertable.AttrUpdatedAt: &ddbtypes.AttributeValueMemberS{Value: now},
				}}}
			}
			for len(reqs) > 0 {
				out, err := f.DynamoDB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
					RequestItems: map[string][]ddbtypes.WriteRequest{f.Table: reqs},
				})
				if err != nil {
					errs <- fmt.Errorf("seed status records: %w", err)
					return
				}
				reqs = out.UnprocessedItems[f.Table]
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Send enqueues the messages of ids (Body: sealed unless f.Plaintext;
// batches of 10, two at a time).
func (f *Fixture) Send(ctx context.Context, ids []string) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(ids)/10+1)
	sem := make(chan struct{}, 2)
	for start := 0; start < len(ids); start += 10 {
		batch := ids[start:min(start+10, len(ids))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
			for i, id := range batch {
				body, err := f.Body(id)
				if err != nil {
					errs <- err
					return
				}
				entries[i] = sqstypes.SendMessageBatchRequestEntry{
					Id:                     aws.String(strconv.Itoa(i)),
					MessageBody:            aws.String(body),
					MessageGroupId:         aws.String(id),
					MessageDeduplicationId: aws.String(randHex(16)),
					MessageAttributes:      map[string]sqstypes.MessageAttributeValue{orders.MessageAttrOrderID: {DataType: aws.String("String"), StringValue: aws.String(id)}},
				}
			}
			out, err := f.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(f.QueueURL), Entries: entries})
			if err == nil && len(out.Failed) > 0 {
				err = fmt.Errorf("%d entries failed", len(out.Failed))
			}
			if err != nil {
				errs <- fmt.Errorf("send envelopes: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when closed empty
}

// SendRaw enqueues body as is, with the orderId attribute when orderID is set.
func (f *Fixture) SendRaw(t testing.TB, body, orderID string) {
	t.Helper()
	group := orderID
	if group == "" {
		group = randHex(8) // a group of its own, as every order has
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(f.QueueURL), MessageBody: aws.String(body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(randHex(16))}
	if orderID != "" {
		in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{orders.MessageAttrOrderID: {DataType: aws.String("String"), StringValue: aws.String(orderID)}}
	}
	if _, err := f.SQS.SendMessage(context.Background(), in); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// SendErasure enqueues the erasure worker's version 3 message of erasure
// id for owner, sealed to f.PublicKey, with the erasureId attribute.
func (f *Fixture) SendErasure(ctx context.Context, id, owner string) error {
	m, err := sealed.SealErasure(f.PublicKey, orders.Erasure{ErasureID: id, Region: "eu-west-1", Owner: owner, CreatedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = f.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               aws.String(f.QueueURL),
		MessageBody:            aws.String(string(b)),
		MessageGroupId:         aws.String(id),
		MessageDeduplicationId: aws.String(randHex(16)),
		MessageAttributes:      map[string]sqstypes.MessageAttributeValue{orders.MessageAttrErasureID: {DataType: aws.String("String"), StringValue: aws.String(id)}},
	})
	if err != nil {
		return fmt.Errorf("send erasure %s: %w", id, err)
	}
	return nil
}

// RequestErasure writes owner's erasure record with id (as DELETE /me
// would) and tombstones owner's orders among ids (as the erasure worker
// would before it sends the sites its message).
func (f *Fixture) RequestErasure(t testing.TB, id, owner string, ids []string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if _, _, err := ordertable.RequestErasure(ctx, f.DynamoDB, f.Table, owner, id, ordertable.ViaUser, "", now); err != nil {
		t.Fatal(err)
	}
	for _, o := range ids {
		if f.owner(o) != owner {
			continue
		}
		if err := ordertable.EraseOrder(ctx, f.DynamoDB, f.Table, o, owner, id, now, now.Add(15*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

// Confirmed returns the site databases that confirmed owner's erasure.
func (f *Fixture) Confirmed(t testing.TB, owner string) []string {
	t.Helper()
	e, err := ordertable.GetErasure(context.Background(), f.DynamoDB, f.Table, owner)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ordertable.Confirmations(context.Background(), f.DynamoDB, f.Table, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Sites returns the site databases listed in the orders table (SITES).
func (f *Fixture) Sites(t testing.TB) []string {
	t.Helper()
	out, err := f.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(f.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{ordertable.AttrPK: &ddbtypes.AttributeValueMemberS{Value: ordertable.SitesKey}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ss, _ := out.Item[ordertable.AttrDatabases].(*ddbtypes.AttributeValueMemberSS)
	if ss == nil {
		return nil
	}
	return ss.Value
}

// Counts returns the queue's visible and in-flight message counts.
func (f *Fixture) Counts(t testing.TB, queueURL string) (visible, inFlight int) {
	t.Helper()
	out, err := f.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight
}

// Statuses returns the status of every id's record ("" when missing).
func (f *Fixture) Statuses(t testing.TB, ids []string) map[string]orders.Status {
	t.Helper()
	got := make(map[string]orders.Status, len(ids))
	for start := 0; start < len(ids); start += 100 {
		keys := make([]map[string]ddbtypes.AttributeValue, 0, 100)
		for _, id := range ids[start:min(start+100, len(ids))] {
			keys = append(keys, map[string]ddbtypes.AttributeValue{ordertable.AttrPK: &ddbtypes.AttributeValueMemberS{Value: ordertable.OrderKey(id)}})
		}
		req := map[string]ddbtypes.KeysAndAttributes{f.Table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for len(req) > 0 {
			out, err := f.DynamoDB.BatchGetItem(context.Background(), &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				t.Fatalf("read statuses: %v", err)
			}
			for _, item := range out.Responses[f.Table] {
				pk, _ := item[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS)
				st, _ := item[ordertable.AttrStatus].(*ddbtypes.AttributeValueMemberS)
				if pk != nil && st != nil {
					got[strings.TrimPrefix(pk.Value, ordertable.OrderKey(""))] = orders.Status(st.Value)
				}
			}
			req = out.UnprocessedKeys
		}
	}
	return got
}

// WaitFor polls cond every 100 ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
