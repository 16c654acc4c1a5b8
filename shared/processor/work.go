package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// handBackTimeout bounds the calls that return unstarted messages at shutdown.
const handBackTimeout = 5 * time.Second

// poll receives messages while ctx lives, one slot per message, and hands
// them to the workers.
func (p *Processor) poll(ctx context.Context, slots chan struct{}, jobs chan<- *message) {
	backoff := time.Duration(0)
	for {
		// Hold a slot for every message asked for: at least one (wait for it),
		// at most a batch (take what is free now).
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	fill:
		for n < maxBatch {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		msgs, err := p.receive(ctx, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 20*time.Second)
			p.log.Error("receive failed", "err", err, "retryIn", backoff.String())
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		for i, m := range msgs {
			if ctx.Err() == nil {
				select {
				case jobs <- m:
					continue
				case <-ctx.Done():
				}
			}
			p.handBack(msgs[i:])
			for range len(msgs) - i {
				<-slots
			}
			return
		}
	}
}

// receive long-polls for up to n messages.
func (p *Processor) receive(ctx context.Context, n int) ([]*message, error) {
	out, err := p.deps.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.cfg.QueueURL),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(p.cfg.WaitTime / time.Second),
		VisibilityTimeout:           int32(p.cfg.VisibilityTimeout / time.Second),
		MessageAttributeNames:       []string{orders.MessageAttrOrderID},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from orders queue: %w", err)
	}
	now := p.deps.Now()
	msgs := make([]*message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := &message{
			id:           aws.ToString(m.MessageId),
			receipt:      aws.ToString(m.ReceiptHandle),
			body:         aws.ToString(m.Body),
			receiveCount: m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)],
			receivedAt:   now,
		}
		if a, ok := m.MessageAttributes[orders.MessageAttrOrderID]; ok {
			msg.orderAttr = aws.ToString(a.StringValue)
		}
		msgs = append(msgs, msg)
	}
	p.received.Add(int64(len(msgs)))
	return msgs, nil
}

// handBack makes received but unstarted messages visible again at once, so
// another consumer (or this site after a restart) can take them.
func (p *Processor) handBack(msgs []*message) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), handBackTimeout)
	defer cancel()
	entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			ReceiptHandle:     aws.String(m.receipt),
			VisibilityTimeout: 0,
		}
	}
	out, err := p.deps.SQS.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(p.cfg.QueueURL),
		Entries:  entries,
	})
	if err != nil {
		// Not lost: they come back when their visibility timeout ends.
		p.log.Warn("hand back unstarted messages failed; they return after the visibility timeout",
			"messages", len(msgs), "err", err)
		return
	}
	p.handedBack.Add(int64(len(out.Successful)))
	for _, f := range out.Failed {
		p.log.Warn("hand back failed for one message; it returns after the visibility timeout",
			"code", aws.ToString(f.Code))
	}
}

// handle processes one message: decode, store, advance the status, delete.
// Any failure leaves the message in the queue for redelivery.
func (p *Processor) handle(ctx context.Context, m *message) {
	stop := p.keepInvisible(ctx, m)
	defer stop()

	log := p.log.With("messageId", m.id, "orderId", m.orderAttr, "receiveCount", m.receiveCount)
	env, err := decode(m)
	if err != nil {
		p.poison.Add(1)
		log.Warn("poison message left for the dead-letter queue", "reason", err.Error())
		if id, ok := poisonOrderID(m, err); ok {
			p.fail(ctx, log, id)
		}
		return
	}
	inserted, err := p.deps.Store.Save(ctx, env)
	if errors.Is(err, orderstore.ErrPermanent) {
		// The site database refuses this order's data: every redelivery
		// would fail the same way. The order ends FAILED now; the message is
		// left (not deleted) for the dead-letter queue, which keeps it for an
		// operator and raises OrdersDeadLetterAlarm.
		p.poison.Add(1)
		log.Error("order cannot be stored (permanent error); status FAILED, message left for the dead-letter queue", "err", err)
		p.fail(ctx, log, env.OrderID)
		return
	}
	if err != nil {
		p.failed.Add(1)
		log.Error("store order failed; left for redelivery", "err", err)
		return
	}
	err = ordertable.Advance(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, env.OrderID, orders.StatusCompleted, p.deps.Now())
	if errors.Is(err, orders.ErrUnknownOrder) {
		// Stored on site; the cloud status record is gone (TTL) or was never
		// written. Retrying cannot create it: complete the message.
		log.Warn("order has no status record in the orders table; stored, status not updated")
	} else if err != nil {
		p.failed.Add(1)
		log.Error("advance order status failed; left for redelivery", "err", err)
		return
	}
	if _, err := p.deps.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl:      aws.String(p.cfg.QueueURL),
		ReceiptHandle: aws.String(m.receipt),
	}); err != nil {
		// Stored and completed; the redelivery will find both done.
		p.failed.Add(1)
		log.Error("delete message failed; the redelivery will be a no-op", "err", err)
		return
	}
	p.processed.Add(1)
	p.unreported.Add(1)
	if inserted {
		p.inserted.Add(1)
	} else {
		p.duplicates.Add(1)
		log.Info("redelivered order was already stored")
	}
	log.Debug("order processed")
}

// keepInvisible extends m's visibility timeout while it is worked on: at half
// the timeout after it was received, and again every half timeout after
// that. The returned func stops it.
func (p *Processor) keepInvisible(ctx context.Context, m *message) (stop func()) {
	vt := p.cfg.VisibilityTimeout
	var mu sync.Mutex
	stopped := false
	var timer *time.Timer
	extend := func() {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		mu.Unlock()
		_, err := p.deps.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl:          aws.String(p.cfg.QueueURL),
			ReceiptHandle:     aws.String(m.receipt),
			VisibilityTimeout: int32(vt / time.Second),
		})
		if err != nil && ctx.Err() == nil {
			p.log.Warn("extend visibility failed", "messageId", m.id, "err", err)
		}
		mu.Lock()
		if !stopped {
			timer.Reset(vt / 2)
		}
		mu.Unlock()
	}
	mu.Lock()
	timer = time.AfterFunc(max(time.Until(m.receivedAt.Add(vt/2)), 0), extend)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
	}
}

// fail moves order id to the terminal status FAILED. A failure to do so is
// logged: the message stays in the queue, so its redelivery tries again.
func (p *Processor) fail(ctx context.Context, log *slog.Logger, id string) {
	err := ordertable.Advance(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, id, orders.StatusFailed, p.deps.Now())
	switch {
	case errors.Is(err, orders.ErrUnknownOrder):
		log.Warn("failed order has no status record in the orders table")
	case err != nil:
		log.Error("mark order FAILED failed; tried again on redelivery", "err", err)
	default:
		p.failedOrders.Add(1)
	}
}

// poisonOrderID returns the order a poison message belongs to, when that is
// certain: the orderId attribute or the envelope's orderId (agreeing when
// both are present). An unknown envelope version is not this site's to
// fail: a newer processor may read it (the DLQ alarm reports it meanwhile).
func poisonOrderID(m *message, err error) (string, bool) {
	if errors.As(err, new(errUnknownVersion)) {
		return "", false
	}
	var head struct {
		OrderID string `json:"orderId"`
	}
	_ = json.Unmarshal([]byte(m.body), &head) // best effort: a field of the wrong type leaves it empty
	id := m.orderAttr
	switch {
	case id == "":
		id = head.OrderID
	case head.OrderID != "" && head.OrderID != id:
		return "", false
	}
	if id == "" || len(id) > 128 {
		return "", false
	}
	return id, true
}

// errPoison marks bodies that no retry can fix. Its messages name the
// problem, never the body.
type errPoison string

func (e errPoison) Error() string { return string(e) }

// errUnknownVersion is the poison of an envelope version this code does not
// read (a newer API's): another processor may.
type errUnknownVersion int

func (e errUnknownVersion) Error() string { return fmt.Sprintf("unknown envelope version %d", int(e)) }

// decode parses and checks m's envelope.
func decode(m *message) (orders.Envelope, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal([]byte(m.body), &head); err != nil {
		return orders.Envelope{}, errPoison("malformed JSON body")
	}
	if head.Version == nil {
		return orders.Envelope{}, errPoison("envelope has no version")
	}
	if *head.Version != orders.EnvelopeVersion {
		return orders.Envelope{}, errUnknownVersion(*head.Version)
	}
	var env orders.Envelope
	dec := json.NewDecoder(bytes.NewReader([]byte(m.body)))
	if err := dec.Decode(&env); err != nil {
		return orders.Envelope{}, errPoison("malformed version 1 envelope")
	}
	switch {
	case env.OrderID == "":
		return orders.Envelope{}, errPoison("envelope has no orderId")
	case len(env.OrderID) > 128:
		return orders.Envelope{}, errPoison("envelope orderId longer than 128")
	case m.orderAttr != "" && m.orderAttr != env.OrderID:
		return orders.Envelope{}, errPoison("orderId attribute differs from the envelope's")
	case env.Owner == "":
		return orders.Envelope{}, errPoison("envelope has no owner")
	case env.Region == "":
		return orders.Envelope{}, errPoison("envelope has no region")
	case env.CreatedAt.IsZero():
		return orders.Envelope{}, errPoison("envelope has no createdAt")
	case len(env.Order.Items) == 0:
		return orders.Envelope{}, errPoison("order has no items")
	}
	return env, nil
}
