package processor

import (
	"context"
	"database/sql"
	"errors"
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

// work is one order of a batch: the messages that carry it (two copies of
// one order in a batch are worked on once), its row and, once it is
// decided, its outcome.
type work struct {
	env  orders.Envelope
	msgs []*message
	log  *slog.Logger
	o    orderstore.Order
	out  outcome
	done bool // out is decided
}

// handleBatch processes the messages of one receive together, with the
// per-order steps of settle batched: the orders are prepared in one site
// database transaction (Store.PrepareBatch), claimed concurrently, handled
// in one transaction (Store.HandleBatch), delivered and settled
// concurrently, marked DONE in one statement (Store.FinishBatch), and their
// messages deleted with one DeleteMessageBatch. The batch's visibility is
// extended while any of it is worked on. Each order keeps its own outcome:
// a poison message, an order refused for good, or one whose claim is lost or
// fails, ends alone and never rolls back or holds up the others (savepoints
// in the batch transactions). Its order of steps is settle's: each
// order's claim, handling, delivery and status are committed before its
// message is deleted. Erasure messages (version 3) are carried out
// each on its own, alongside.
func (p *Processor) handleBatch(ctx context.Context, msgs []*message) {
	var erasures sync.WaitGroup
	var orderMsgs []*message
	for _, m := range msgs {
		if headVersion(m.body) == orders.ErasureVersion {
			erasures.Go(func() {
				stop := p.keepInvisible(ctx, []*message{m})
				defer stop()
				p.erase(ctx, m)
			})
			continue
		}
		orderMsgs = append(orderMsgs, m)
	}
	defer erasures.Wait()
	if len(orderMsgs) == 0 {
		return
	}
	stop := p.keepInvisible(ctx, orderMsgs)
	defer stop()

	var batch []*work
	byID := make(map[string]*work)
	for _, m := range orderMsgs {
		log := p.log.With("messageId", m.id, "orderId", m.orderAttr, "receiveCount", m.receiveCount)
		env, err := p.decode(m)
		if err != nil {
			p.poison.Add(1)
			log.Warn("poison message left for the dead-letter queue", "reason", err.Error())
			if id, ok := poisonOrderID(m, err); ok {
				p.fail(ctx, log, id, "")
			}
			continue
		}
		if w := byID[env.OrderID]; w != nil {
			// A second copy of an order in this batch: it shares the
			// first's work (and outcome).
			w.msgs = append(w.msgs, m)
			continue
		}
		w := &work{env: env, msgs: []*message{m}, log: log}
		byID[env.OrderID] = w
		batch = append(batch, w)
	}
	if len(batch) == 0 {
		return
	}
	p.prepareBatch(ctx, batch)
	done := p.settleBatch(ctx, batch)
	stop()
	// The rows of the completed orders are marked DONE while their
	// messages are deleted: their status COMPLETED is recorded already, so
	// a row left HANDLED (a crash, a failed write) is finished by the
	// recovery pass or a redelivery without running anything again.
	var finishing sync.WaitGroup
	finishing.Go(func() { p.finishRows(ctx, done) })
	p.finishMessages(ctx, batch)
	finishing.Wait()
}

// prepareBatch stores the batch's orders PREPARED (Store.PrepareBatch),
// deciding the outcome of those that cannot be: an erased owner's order, an
// order the database refuses for good (FAILED, left for the dead-letter
// queue), a transient failure (retried). When the batch transaction itself
// fails, the orders are prepared one by one, so that no order can hold up
// the others.
func (p *Processor) prepareBatch(ctx context.Context, batch []*work) {
	envs := make([]orders.Envelope, len(batch))
	for i, w := range batch {
		envs[i] = w.env
	}
	res, err := p.deps.Store.PrepareBatch(ctx, envs)
	if err != nil {
		p.log.Warn("store a batch of orders failed; storing them one by one", "orders", len(batch), "err", err)
		res = make([]orderstore.Prepared, len(batch))
		for i, w := range batch {
			res[i].Order, res[i].Err = p.deps.Store.Prepare(ctx, w.env)
		}
	}
	for i, w := range batch {
		w.o, err = res[i].Order, res[i].Err
		switch {
		case err == nil:
			continue
		case errors.Is(err, orderstore.ErrErased):
			// Its owner was erased here (a tombstone): never stored, never
			// claimed; the erasure tombstoned its status record too.
			w.log.Info("order of an erased owner: not stored, message deleted")
			w.out = outcomeErased
		case errors.Is(err, orderstore.ErrPermanent):
			// The site database refuses this order's data: every
			// redelivery would fail the same way. The order ends FAILED
			// now (it was never claimed); the message is left (not
			// deleted) for the dead-letter queue, which keeps it for an
			// operator and raises OrdersDeadLetterAlarm.
			w.log.Error("order cannot be stored (permanent error); status FAILED, message left for the dead-letter queue", "err", err)
			p.fail(ctx, w.log, w.env.OrderID, "")
			w.out = outcomeFailed
		default:
			w.log.Error("store order failed; left for redelivery", "err", err)
			w.out = outcomeRetry
		}
		w.done = true
	}
}

// settleBatch takes the batch's prepared orders through settle's steps:
// the claims concurrently (claimBatch); the Handler of every order claimed
// here in one site database transaction (Store.HandleBatch; one by one when
// that transaction fails); the deliveries and the COMPLETED statuses
// concurrently (completeBatch). It returns the orders completed here, whose rows are to be
// marked DONE (finishRows).
func (p *Processor) settleBatch(ctx context.Context, batch []*work) (completed []string) {
	prepared := undecided(batch)
	each(prepared, func(w *work) { w.out, w.done = p.settledHere(ctx, w.log, w.o) })
	p.claimBatch(ctx, undecided(prepared))
	claimed := undecided(prepared)
	if len(claimed) == 0 {
		return nil
	}
	ids := make([]string, len(claimed))
	envs := make(map[string]orders.Envelope, len(claimed))
	for i, w := range claimed {
		ids[i] = w.env.OrderID
		envs[w.env.OrderID] = w.o.Envelope
	}
	var fn func(tx *sql.Tx, id string) error
	if p.deps.Handler != nil {
		fn = func(tx *sql.Tx, id string) error { return p.deps.Handler.HandleOrder(ctx, tx, envs[id]) }
	}
	res, err := p.deps.Store.HandleBatch(ctx, ids, fn)
	if err != nil {
		p.log.Warn("handle a batch of orders failed; handling them one by one", "orders", len(claimed), "err", err)
		res = make([]orderstore.Handled, len(claimed))
		for i, w := range claimed {
			res[i].Ran, res[i].Err = p.deps.Store.Handle(ctx, ids[i], p.handlerTx(ctx, w.o.Envelope))
		}
	}
	for i, w := range claimed {
		w.out, w.done = p.handled(ctx, w.log, w.o, res[i].Ran, res[i].Err)
	}
	handled := undecided(claimed)
	each(handled, func(w *work) { w.out, w.done = p.deliver(ctx, w.log, w.o) })
	p.completeBatch(ctx, undecided(handled))
	for _, w := range handled {
		if w.out == outcomeCompleted {
			completed = append(completed, w.env.OrderID)
		}
	}
	return completed
}

// finishRows marks the rows of orders ids, completed here, DONE in one
// statement (Store.FinishBatch).
func (p *Processor) finishRows(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := p.deps.Store.FinishBatch(ctx, ids); err != nil {
		// COMPLETED is recorded; the rows stay HANDLED and the recovery
		// pass (or a redelivery) finishes them without running anything
		// again.
		p.log.Warn("mark order rows done failed", "orders", len(ids), "err", err)
	}
}

// claimBatch claims batch's orders concurrently, one conditional
// UpdateItem each (claim), so that each order gets its own answer (a claim
// another database holds, a settled order, a repeated claim) and none waits
// for another's.
func (p *Processor) claimBatch(ctx context.Context, batch []*work) {
	each(batch, func(w *work) {
		c, err := ordertable.Claim(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, w.env.OrderID, w.o.Token, p.deps.Store.ID(), p.deps.Now())
		w.out, w.done = p.claimed(ctx, w.log, w.o, c, err)
	})
}

// completeBatch settles batch's orders COMPLETED with their claims,
// concurrently, one conditional UpdateItem each.
func (p *Processor) completeBatch(ctx context.Context, batch []*work) {
	each(batch, func(w *work) {
		w.out, w.done = p.completed(w.log, p.settleStatus(ctx, w.env.OrderID, orders.StatusCompleted, w.o.Token)), true
	})
}

// undecided returns the works of batch whose outcome is not decided yet.
func undecided(batch []*work) []*work {
	var out []*work
	for _, w := range batch {
		if !w.done {
			out = append(out, w)
		}
	}
	return out
}

// each runs f for every work of batch concurrently and waits for them.
func each(batch []*work, f func(*work)) {
	if len(batch) <= 1 {
		for _, w := range batch {
			f(w)
		}
		return
	}
	var wg sync.WaitGroup
	for _, w := range batch {
		wg.Go(func() { f(w) })
	}
	wg.Wait()
}

// finishMessages acts on the messages of the batch's orders by outcome: the
// settled ones are deleted (one DeleteMessageBatch), those of orders
// another database holds come back after a visibility timeout, the others
// are left for redelivery or the dead-letter queue.
func (p *Processor) finishMessages(ctx context.Context, batch []*work) {
	var del, later []*message
	var delOut []outcome
	for _, w := range batch {
		for i, m := range w.msgs {
			if i > 0 {
				w.log.Info("second copy of an order in one batch", "copyMessageId", m.id)
			}
			switch w.out {
			case outcomeCompleted, outcomeElsewhere, outcomeErased:
				if i > 0 && w.out != outcomeErased {
					p.duplicates.Add(1)
				}
				del = append(del, m)
				delOut = append(delOut, w.out)
			case outcomeClaimedElsewhere:
				// Another database holds the claim and has not settled it:
				// its processor is working on it, or crashed and finishes
				// it from its own rows (the recovery pass). Come back
				// later; by then the order is settled and the message is
				// deleted.
				p.deferred.Add(1)
				later = append(later, m)
			case outcomeFailed:
				p.poison.Add(1)
			case outcomeRetry:
				p.failed.Add(1)
			}
		}
	}
	for i, ok := range p.deleteBatch(ctx, del) {
		switch {
		case !ok:
		case delOut[i] == outcomeErased:
			p.erased.Add(1)
		default:
			p.processed.Add(1)
			p.unreported.Add(1)
		}
	}
	if len(later) > 0 {
		if failed := p.changeVisibility(ctx, later, p.cfg.VisibilityTimeout); failed > 0 {
			p.log.Warn("defer messages failed; they return after their visibility timeout", "messages", failed)
		}
	}
}

// deleteBatch deletes msgs (at most a batch) with one DeleteMessageBatch
// and reports which were deleted. A message not deleted (the call or its
// entry failed) is done all the same: its redelivery finds the order
// settled and only deletes it.
func (p *Processor) deleteBatch(ctx context.Context, msgs []*message) []bool {
	ok := make([]bool, len(msgs))
	if len(msgs) == 0 {
		return ok
	}
	entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.receipt)}
	}
	out, err := p.deps.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.cfg.QueueURL), Entries: entries})
	if err != nil {
		p.failed.Add(int64(len(msgs)))
		p.log.Error("delete messages failed; their redelivery will be a no-op", "messages", len(msgs), "err", err)
		return ok
	}
	for _, s := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i >= 0 && i < len(ok) {
			ok[i] = true
		}
	}
	for _, f := range out.Failed {
		p.failed.Add(1)
		attrs := []any{"code", aws.ToString(f.Code)}
		if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(msgs) {
			attrs = append(attrs, "messageId", msgs[i].id, "orderId", msgs[i].orderAttr)
		}
		p.log.Error("delete message failed; the redelivery will be a no-op", attrs...)
	}
	return ok
}

// remove deletes one message whose work is done and reports whether it did.
func (p *Processor) remove(ctx context.Context, log *slog.Logger, m *message) bool {
	if _, err := p.deps.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl:      aws.String(p.cfg.QueueURL),
		ReceiptHandle: aws.String(m.receipt),
	}); err != nil {
		// Done; the redelivery will find it so.
		p.failed.Add(1)
		log.Error("delete message failed; the redelivery will be a no-op", "err", err)
		return false
	}
	return true
}

// changeVisibility makes msgs (at most a batch) visible again after d with
// one ChangeMessageVisibilityBatch and returns how many it could not change.
func (p *Processor) changeVisibility(ctx context.Context, msgs []*message, d time.Duration) (failed int) {
	entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			ReceiptHandle:     aws.String(m.receipt),
			VisibilityTimeout: int32(d / time.Second),
		}
	}
	out, err := p.deps.SQS.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(p.cfg.QueueURL),
		Entries:  entries,
	})
	if err != nil {
		return len(msgs)
	}
	return len(out.Failed)
}

// keepInvisible extends the visibility timeout of msgs (received together)
// while they are worked on, with one ChangeMessageVisibilityBatch: at half
// the timeout after they were received, and again every half timeout after
// that. The returned func stops it (once or more).
func (p *Processor) keepInvisible(ctx context.Context, msgs []*message) (stop func()) {
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
		if failed := p.changeVisibility(ctx, msgs, vt); failed > 0 && ctx.Err() == nil {
			p.log.Warn("extend visibility failed", "messages", failed, "messageId", msgs[0].id)
		}
		mu.Lock()
		if !stopped {
			timer.Reset(vt / 2)
		}
		mu.Unlock()
	}
	mu.Lock()
	timer = time.AfterFunc(max(time.Until(msgs[0].receivedAt.Add(vt/2)), 0), extend)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
	}
}
