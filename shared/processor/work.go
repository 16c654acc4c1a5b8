package processor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// handBackTimeout bounds the calls that return unstarted messages at shutdown.
const handBackTimeout = 5 * time.Second

// poll receives messages while ctx lives and hands each receive's messages
// to a worker as one batch (handleBatch). It receives only while a worker is
// free (a slot), so no message waits unstarted behind a busy worker while
// its visibility timeout runs out.
func (p *Processor) poll(ctx context.Context, slots chan struct{}, jobs chan<- []*message) {
	backoff := time.Duration(0)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		msgs, err := p.receive(ctx, maxBatch)
		if len(msgs) == 0 {
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
		if len(msgs) == 0 {
			continue
		}
		if ctx.Err() == nil {
			select {
			case jobs <- msgs:
				continue
			case <-ctx.Done():
			}
		}
		p.handBack(msgs)
		<-slots
		return
	}
}

// receive long-polls for up to n messages.
func (p *Processor) receive(ctx context.Context, n int) ([]*message, error) {
	out, err := p.deps.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.cfg.QueueURL),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(p.cfg.WaitTime / time.Second),
		VisibilityTimeout:           int32(p.cfg.VisibilityTimeout / time.Second),
		MessageAttributeNames:       []string{orders.MessageAttrOrderID, orders.MessageAttrErasureID},
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
		if a, ok := m.MessageAttributes[orders.MessageAttrErasureID]; ok {
			msg.erasureAttr = aws.ToString(a.StringValue)
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

// outcome is what settle made of an order.
type outcome int

const (
	outcomeCompleted        outcome = iota // COMPLETED by this database
	outcomeElsewhere                       // settled by another database, or a poison record: nothing left to do here
	outcomeClaimedElsewhere                // another database holds the claim and has not settled it yet
	outcomeFailed                          // FAILED: refused for good; the message stays for the dead-letter queue
	outcomeRetry                           // a transient failure: try again later
	outcomeErased                          // ERASED: its owner was erased; the row is deleted here, the message goes
)

// settle takes order row o through the rest of the claim protocol, from
// whatever state a message or a crash left it in:
//
//  1. claim it in the orders table with the row's token (Claim);
//  2. lost: discard the prepared row; won: run the Handler in the
//     transaction that marks the row HANDLED (Store.Handle);
//  3. run the Deliverer, if any;
//  4. settle the status COMPLETED with the claim (Settle), then mark the row
//     DONE.
//
// A claim that finds the order ERASED (its owner's erasure tombstoned the
// status record, maybe before this database got the erasure message) ends
// it here whatever the row's state: the row is deleted (Store.Forget).
//
// Every step is idempotent, so a message's worker and the recovery pass may
// both run it for one order: the Handler still runs once.
func (p *Processor) settle(ctx context.Context, log *slog.Logger, o orderstore.Order) outcome {
	if out, done := p.claim(ctx, log, o); done {
		return out
	}
	ran, err := p.deps.Store.Handle(ctx, o.Envelope.OrderID, p.handlerTx(ctx, o.Envelope))
	if out, done := p.handled(ctx, log, o, ran, err); done {
		return out
	}
	out := p.complete(ctx, log, o)
	if out == outcomeCompleted {
		if err := p.deps.Store.Finish(ctx, o.Envelope.OrderID); err != nil {
			// COMPLETED is recorded; the row stays HANDLED and the recovery
			// pass (or a redelivery) finishes it without running anything again.
			log.Warn("mark order row done failed", "err", err)
		}
	}
	return out
}

// claim is settle's first step: from the row's state and the order's claim
// (made here, with the row's token) it returns the outcome when the order
// ends there (done), or done=false when this database holds the claim of
// an ACCEPTED order: it is to be handled (Store.Handle, then handled).
func (p *Processor) claim(ctx context.Context, log *slog.Logger, o orderstore.Order) (out outcome, done bool) {
	if out, done := p.settledHere(ctx, log, o); done {
		return out, true
	}
	id := o.Envelope.OrderID
	c, err := ordertable.Claim(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, id, o.Token, p.deps.Store.ID(), p.deps.Now())
	return p.claimed(ctx, log, o, c, err)
}

// settledHere is claim's check of the row alone: a row DONE or FAILED here
// needs no claim (done), any other does.
func (p *Processor) settledHere(ctx context.Context, log *slog.Logger, o orderstore.Order) (out outcome, done bool) {
	id := o.Envelope.OrderID
	switch o.State {
	case orderstore.StateDone:
		if o.Token == "" {
			// Stored before claims existed: its status may still be
			// ACCEPTED (a crash before the old status write).
			err := p.settleStatus(ctx, id, orders.StatusCompleted, "")
			if err != nil && !errors.Is(err, ordertable.ErrClaimLost) && !errors.Is(err, orders.ErrUnknownOrder) {
				log.Error("complete order status failed; left for redelivery", "err", err)
				return outcomeRetry, true
			}
		}
		p.duplicates.Add(1)
		return outcomeCompleted, true
	case orderstore.StateFailed:
		p.fail(ctx, log, id, o.Token)
		return outcomeFailed, true
	}
	return 0, false
}

// claimed is claim's answer to the claim's result c, err: done with the
// outcome when the order ends there, or done=false when the claim is this
// database's and the order ACCEPTED.
func (p *Processor) claimed(ctx context.Context, log *slog.Logger, o orderstore.Order, c ordertable.ClaimResult, err error) (out outcome, done bool) {
	id := o.Envelope.OrderID
	switch {
	case errors.Is(err, orders.ErrUnknownOrder), errors.Is(err, ordertable.ErrCorrupt):
		// No status record to arbitrate between the consumers: nothing
		// may run for it. The row goes; the message goes to the DLQ.
		log.Error("order has no valid status record in the orders table; not processed, message left for the dead-letter queue", "err", err)
		if err := p.deps.Store.Discard(ctx, id, o.Token); err != nil {
			log.Warn("discard the unclaimable row failed", "err", err)
		}
		return outcomeFailed, true
	case err != nil:
		log.Error("claim order failed; left for redelivery", "err", err)
		return outcomeRetry, true
	case c.Status == orders.StatusErased:
		return p.forget(ctx, log, id), true
	case !c.Won:
		if o.State == orderstore.StateHandled {
			// Never happens: a row is HANDLED only after its claim was won,
			// and claims are never taken over.
			log.Error("order handled here but claimed by another database", "claimStore", c.Store)
			return outcomeRetry, true
		}
		if err := p.deps.Store.Discard(ctx, id, o.Token); err != nil {
			log.Error("discard the row of an order another database claimed failed; left for redelivery", "err", err)
			return outcomeRetry, true
		}
		switch c.Status {
		case orders.StatusAccepted:
			if c.Store == p.deps.Store.ID() {
				// This database's identity with another token: the file
				// or database was restored from a copy older than the
				// claim. The claim's own row is gone with the newer copy.
				log.Warn("order claimed by this database under another token (restored from an older copy?); deferred: release the claim if its row is lost", "claimStore", c.Store)
			} else {
				log.Info("order claimed by another database; deferred", "claimStore", c.Store)
			}
			return outcomeClaimedElsewhere, true
		case orders.StatusFailed:
			// Failed by the consumer that could not take it: its message
			// stays for the dead-letter queue, where an operator finds it.
			log.Warn("order already FAILED; message left for the dead-letter queue", "claimStore", c.Store)
			return outcomeFailed, true
		}
		p.duplicates.Add(1)
		log.Info("order already settled elsewhere", "status", string(c.Status), "claimStore", c.Store)
		return outcomeElsewhere, true
	case c.Status == orders.StatusFailed:
		p.fail(ctx, log, id, o.Token)
		return outcomeFailed, true
	case c.Status == orders.StatusCompleted:
		// This database settled it already (a crash or a lost write after
		// the status write): nothing runs again, not even the Deliverer.
		if o.State == orderstore.StatePrepared {
			// Settled by a newer copy of this database: this copy (a
			// restored backup) lacks the Handler's writes for it.
			log.Warn("order completed by a newer copy of this database; this copy lacks its Handler's writes")
		}
		if err := p.deps.Store.Finish(ctx, id); err != nil {
			log.Warn("mark order row done failed", "err", err)
		}
		p.duplicates.Add(1)
		return outcomeCompleted, true
	}

	return 0, false
}

// handled continues settle after Store.Handle (or HandleBatch) answered
// ran, err for o: done with the outcome when the order ends there, or
// done=false when it is to be delivered and completed (complete).
func (p *Processor) handled(ctx context.Context, log *slog.Logger, o orderstore.Order, ran bool, err error) (out outcome, done bool) {
	if err != nil {
		return p.refused(ctx, log, o, orderstore.StatePrepared, "handler", err), true
	}
	if ran {
		p.inserted.Add(1)
		return 0, false
	}
	// Handled already (a redelivery, or another worker of this database
	// got there first), or failed meanwhile: read it again.
	cur, err := p.deps.Store.Prepare(ctx, o.Envelope)
	if err != nil {
		log.Error("read order row failed; left for redelivery", "err", err)
		return outcomeRetry, true
	}
	switch cur.State {
	case orderstore.StateFailed:
		return outcomeFailed, true
	case orderstore.StateDone:
		// Another worker of this database finished it meanwhile (two
		// copies of one message): delivered and settled already.
		p.duplicates.Add(1)
		return outcomeCompleted, true
	}
	p.duplicates.Add(1)
	return 0, false
}

// complete is settle's last step for an order handled here: run the
// Deliverer, if any, and settle the status COMPLETED with the claim. The
// caller then marks the row DONE (Finish) when it returns outcomeCompleted.
func (p *Processor) complete(ctx context.Context, log *slog.Logger, o orderstore.Order) outcome {
	if out, done := p.deliver(ctx, log, o); done {
		return out
	}
	return p.completed(log, p.settleStatus(ctx, o.Envelope.OrderID, orders.StatusCompleted, o.Token))
}

// deliver runs the Deliverer, if any: done with the outcome when it
// refuses the order.
func (p *Processor) deliver(ctx context.Context, log *slog.Logger, o orderstore.Order) (out outcome, done bool) {
	if p.deps.Deliverer == nil {
		return 0, false
	}
	if err := p.deps.Deliverer.Deliver(ctx, o.Envelope); err != nil {
		return p.refused(ctx, log, o, orderstore.StateHandled, "delivery", err), true
	}
	return 0, false
}

// completed is the outcome of the COMPLETED status write's err.
func (p *Processor) completed(log *slog.Logger, err error) outcome {
	if err != nil {
		log.Error("complete order status failed; left for redelivery", "err", err)
		return outcomeRetry
	}
	return outcomeCompleted
}

// handlerTx is the Store.Handle callback that runs the Handler, if any.
func (p *Processor) handlerTx(ctx context.Context, env orders.Envelope) func(*sql.Tx) error {
	if p.deps.Handler == nil {
		return nil
	}
	return func(tx *sql.Tx) error { return p.deps.Handler.HandleOrder(ctx, tx, env) }
}

// refused maps an error of the Handler (the row was PREPARED: from), the
// Deliverer (HANDLED: the Handler's writes stay) or the site database after
// the claim was won: permanent ends the order FAILED, anything else is
// retried.
func (p *Processor) refused(ctx context.Context, log *slog.Logger, o orderstore.Order, from orderstore.State, step string, err error) outcome {
	if IsPermanent(err) || errors.Is(err, orderstore.ErrPermanent) {
		log.Error("order refused for good by the site's "+step+"; status FAILED, message left for the dead-letter queue", "err", err)
		if ferr := p.deps.Store.Fail(ctx, o.Envelope.OrderID, from); ferr != nil {
			log.Error("mark order row failed failed; tried again on redelivery", "err", ferr)
			return outcomeRetry
		}
		p.fail(ctx, log, o.Envelope.OrderID, o.Token)
		return outcomeFailed
	}
	log.Error("site "+step+" failed; left for redelivery", "err", err)
	return outcomeRetry
}

// settleStatus is ordertable.Settle on this processor's table.
func (p *Processor) settleStatus(ctx context.Context, id string, to orders.Status, token string) error {
	return ordertable.Settle(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, id, to, token, p.deps.Now())
}

// recoveryLoop settles the orders a crash left PREPARED or HANDLED in this
// database, without waiting for their messages (which may have gone to
// another consumer, who defers them until this database settles them): once
// at start, every row; then every VisibilityTimeout, the rows unchanged for
// longer than that. Each pass also prunes the erasure tombstones older than
// ErasureTombstoneDays. It stops when ctx ends; a pass under way finishes
// its current order with workCtx.
func (p *Processor) recoveryLoop(ctx, workCtx context.Context) {
	p.recoverPass(ctx, workCtx, p.deps.Now())
	p.prune(workCtx)
	t := time.NewTicker(p.cfg.VisibilityTimeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.recoverPass(ctx, workCtx, p.deps.Now().Add(-p.cfg.VisibilityTimeout))
			p.prune(workCtx)
		}
	}
}

// recoveryBatch bounds the rows one recovery pass reads at a time.
const recoveryBatch = 100

// recoverPass settles the unsettled rows last changed before `before`,
// paging past the rows that stay unsettled (a failing Handler, a database
// that holds the claim) so they never hide the ones behind them.
func (p *Processor) recoverPass(ctx, workCtx context.Context, before time.Time) {
	var after orderstore.Order
	for ctx.Err() == nil {
		rows, err := p.deps.Store.Pending(workCtx, before, after, recoveryBatch)
		if err != nil {
			p.log.Error("recovery: list unsettled orders failed; tried again next pass", "err", err)
			return
		}
		for _, o := range rows {
			if ctx.Err() != nil {
				return
			}
			log := p.log.With("orderId", o.Envelope.OrderID, "recovery", true)
			switch p.settle(workCtx, log, o) {
			case outcomeCompleted, outcomeElsewhere:
				p.recovered.Add(1)
			case outcomeErased:
				p.erased.Add(1)
			}
		}
		if len(rows) < recoveryBatch {
			return
		}
		after = rows[len(rows)-1]
	}
}

// fail settles order id FAILED: with its claim token, or with "" only while
// no consumer has claimed it (poison). A failure to do so is logged: the
// message stays in the queue, so its redelivery tries again.
func (p *Processor) fail(ctx context.Context, log *slog.Logger, id, token string) {
	err := p.settleStatus(ctx, id, orders.StatusFailed, token)
	switch {
	case errors.Is(err, orders.ErrUnknownOrder):
		log.Warn("failed order has no status record in the orders table")
	case errors.Is(err, ordertable.ErrClaimLost):
		log.Warn("failed message's order is claimed or settled by a consumer that could read it; status left as it is")
	case err != nil:
		log.Error("mark order FAILED failed; tried again on redelivery", "err", err)
	default:
		p.failedOrders.Add(1)
	}
}

// poisonOrderID returns the order a poison message belongs to, when that is
// certain: the orderId attribute or the envelope's orderId (agreeing when
// both are present). An unknown envelope version is not this site's to
// fail: a newer processor may read it (the DLQ alarm reports it meanwhile);
// nor is a message of a region outside the site's pair.
func poisonOrderID(m *message, err error) (string, bool) {
	if errors.As(err, new(errUnknownVersion)) || errors.As(err, new(errRegionNotServed)) {
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

// errPlaintextRefused is the reason of a version 1 message once plaintext
// orders are refused (Config.RefusePlaintext).
const errPlaintextRefused = errPoison("plaintext (version 1) orders are no longer accepted")

// headVersion returns the version of message body, -1 when it has none
// (decode says why).
func headVersion(body string) int {
	var head struct {
		Version *int `json:"version"`
	}
	if json.Unmarshal([]byte(body), &head) != nil || head.Version == nil {
		return -1
	}
	return *head.Version
}

// decode parses and checks m's envelope and opens it when it is sealed
// (version 2) with the site's keys. A version 1 (plaintext) message is read
// unless c.RefusePlaintext.
func (p *Processor) decode(m *message) (orders.Envelope, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal([]byte(m.body), &head); err != nil {
		return orders.Envelope{}, errPoison("malformed JSON body")
	}
	if head.Version == nil {
		return orders.Envelope{}, errPoison("envelope has no version")
	}
	var env orders.Envelope
	switch *head.Version {
	case orders.EnvelopeVersion:
		if p.cfg.RefusePlaintext {
			return orders.Envelope{}, errPlaintextRefused
		}
		if err := json.Unmarshal([]byte(m.body), &env); err != nil {
			return orders.Envelope{}, errPoison("malformed version 1 envelope")
		}
		if err := p.checkHeader(m, env.OrderID, env.Owner, env.Region, env.CreatedAt); err != nil {
			return orders.Envelope{}, err
		}
	case orders.SealedVersion:
		var s orders.SealedEnvelope
		if err := json.Unmarshal([]byte(m.body), &s); err != nil {
			return orders.Envelope{}, errPoison("malformed version 2 envelope")
		}
		if err := p.checkHeader(m, s.OrderID, s.Owner, s.Region, s.CreatedAt); err != nil {
			return orders.Envelope{}, err
		}
		var err error
		if env, err = p.open(s); err != nil {
			return orders.Envelope{}, err
		}
	default:
		return orders.Envelope{}, errUnknownVersion(*head.Version)
	}
	if len(env.Order.Items) == 0 {
		return orders.Envelope{}, errPoison("order has no items")
	}
	return env, nil
}

// checkHeader checks the identity of a message of any version: the order
// id (which must match m's orderId attribute), owner, region (one the
// site's pair serves: checkRegion) and createdAt.
func (p *Processor) checkHeader(m *message, orderID, owner, region string, createdAt time.Time) error {
	switch {
	case orderID == "":
		return errPoison("envelope has no orderId")
	case len(orderID) > 128:
		return errPoison("envelope orderId longer than 128")
	case m.orderAttr != "" && m.orderAttr != orderID:
		return errPoison("orderId attribute differs from the envelope's")
	case owner == "":
		return errPoison("envelope has no owner")
	case region == "":
		return errPoison("envelope has no region")
	case createdAt.IsZero():
		return errPoison("envelope has no createdAt")
	}
	return p.checkRegion(region)
}

// checkRegion refuses, in a zone pair, a message whose region is not one of
// the pair's (Config.Pair); outside a pair any region is read, as before
// pairs existed.
func (p *Processor) checkRegion(region string) error {
	if p.cfg.Pair.Paired() && !p.cfg.Pair.Serves(region) {
		return errRegionNotServed(region)
	}
	return nil
}

// errRegionNotServed is the poison of a message from a region this site's
// zone pair does not serve: its order (if any) is another region's, so it is
// not this site's to fail; the message goes to the dead-letter queue of the
// queue it came from.
type errRegionNotServed string

func (e errRegionNotServed) Error() string {
	// The field is the message's, unchecked: named only when it is a region
	// name, so no other text of a message reaches a log line.
	if r := string(e); awsname.Region(r) {
		return fmt.Sprintf("message region %q is not a region of this site's zone pair", r)
	}
	return "message region is not a region name"
}

// open opens sealed message s with the site's keys. Its reasons name the
// key id, never the ciphertext or the order.
func (p *Processor) open(s orders.SealedEnvelope) (orders.Envelope, error) {
	if s.Sealed.KeyID == "" || s.Sealed.Ciphertext == "" {
		return orders.Envelope{}, errPoison("sealed envelope has no sealed.kid or sealed.ct")
	}
	env, err := p.deps.Keys.OpenEnvelope(s)
	if err != nil {
		// sealed's errors name the key id, never the ciphertext.
		return orders.Envelope{}, errPoison(err.Error())
	}
	return env, nil
}
