package processor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// The site's half of an erasure (see package ordertable's erasure records
// and orderstore.Store.Erase):
//
//   - at start, before anything is received, the site database is listed in
//     the region's SITES item (register), so that the erasure worker waits
//     for its confirmation: a database that is not listed could hold rows
//     that an erasure would never reach;
//   - a version 3 message (orders.SealedErasure) is opened with the site's
//     keys and checked against the region's erasure record (a message of
//     no recorded erasure, stale or forged, is deleted and nothing is
//     erased); the owner's rows, the adopter's data (Eraser) and a tombstone
//     are written in one transaction (Store.Erase); the erasure is
//     confirmed in its confirmations item (ordertable.ConfirmErasure: the
//     only erasure item a site writes); then the
//     message is deleted. A crash anywhere before the delete redelivers the
//     message, and every step is idempotent;
//   - an order of an erased owner is never stored: Prepare refuses it
//     (orderstore.ErrErased) and a claim that finds the order's tombstone
//     (status ERASED) forgets the row (settle); either way the message is
//     deleted;
//   - tombstones older than Config.ErasureTombstoneDays are pruned by the
//     recovery loop.
//
// Logs name the erasure id and counts, never the owner.

// DynamoDBAPI is the part of the DynamoDB client the processor uses on the
// orders table: claims, settles, registration and confirmations
// (UpdateItem), and the erasure record an erasure message must match
// (GetItem).
type DynamoDBAPI interface {
	ordertable.UpdateItemAPI
	ordertable.GetItemAPI
}

// registerBackoff bounds the wait between two attempts to register.
const registerBackoff = 30 * time.Second

// register lists the site database in the region's SITES item, retrying
// with backoff until it succeeds or ctx ends (then it returns ctx's error).
func (p *Processor) register(ctx context.Context) error {
	for wait := time.Duration(0); ; {
		err := ordertable.RegisterSite(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, p.deps.Store.ID())
		if err == nil {
			p.log.Info("site database registered for erasures", "databaseId", p.deps.Store.ID())
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait = min(max(2*wait, 100*time.Millisecond), registerBackoff)
		p.log.Error("register the site database failed; nothing is received until it succeeds",
			"err", err, "retryIn", wait.String())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// erase handles a version 3 message: check that the region recorded the
// erasure, erase the owner here, confirm, delete. A malformed message, or
// one that does not open, is poison (left for the dead-letter queue); a
// message of no recorded erasure (stale or forged) is deleted with nothing
// erased; a failure of the read, the erasure or the confirmation leaves it
// for redelivery.
func (p *Processor) erase(ctx context.Context, m *message) {
	log := p.log.With("messageId", m.id, "erasureId", m.erasureAttr, "receiveCount", m.receiveCount)
	e, err := p.decodeErasure(m)
	if err != nil {
		p.poison.Add(1)
		log.Warn("poison erasure message left for the dead-letter queue", "reason", err.Error())
		return
	}
	log = p.log.With("messageId", m.id, "erasureId", e.ErasureID, "receiveCount", m.receiveCount)
	// Only an erasure the region recorded is carried out: the public key is
	// no secret, so anyone allowed to send to the queue could seal an
	// erasure message, and a site must not delete a user's rows for it.
	rec, err := ordertable.GetErasure(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, e.Owner)
	switch {
	case errors.Is(err, ordertable.ErrNoErasure) || (err == nil && rec.ID != e.ErasureID):
		log.Warn("erasure message of no recorded erasure (stale or forged): nothing erased, message deleted")
		p.remove(ctx, log, m)
		return
	case err != nil:
		p.failed.Add(1)
		log.Error("read the erasure record failed; left for redelivery", "err", logging.Redact(err, e.Owner))
		return
	}
	rows, err := p.deps.Store.Erase(ctx, e.Owner, e.ErasureID, p.eraserTx(ctx, e.Owner))
	if err != nil {
		p.failed.Add(1)
		log.Error("erasure at the site database failed; left for redelivery", "err", logging.Redact(err, e.Owner))
		return
	}
	err = ordertable.ConfirmErasure(ctx, p.deps.DynamoDB, p.cfg.OrdersTable, e.ErasureID, p.deps.Store.ID(), p.deps.Now())
	if err != nil {
		p.failed.Add(1)
		log.Error("confirm erasure failed; left for redelivery", "rows", rows, "err", logging.Redact(err, e.Owner))
		return
	}
	log.Info("owner erased at this site database and confirmed", "rows", rows, "databaseId", p.deps.Store.ID())
	if p.remove(ctx, log, m) {
		p.erasures.Add(1)
	}
}

// eraserTx is the Store.Erase callback that runs the Eraser, if any.
func (p *Processor) eraserTx(ctx context.Context, owner string) func(*sql.Tx) error {
	return eraserFunc(ctx, p.deps.Eraser, owner)
}

// decodeErasure parses and checks a version 3 message and opens it with
// the site's keys. Its reasons name the problem (and a key id), never the
// owner.
func (p *Processor) decodeErasure(m *message) (orders.Erasure, error) {
	var s orders.SealedErasure
	if err := json.Unmarshal([]byte(m.body), &s); err != nil {
		return orders.Erasure{}, errPoison("malformed version 3 erasure message")
	}
	switch {
	case s.ErasureID == "":
		return orders.Erasure{}, errPoison("erasure message has no erasureId")
	case len(s.ErasureID) > 128:
		return orders.Erasure{}, errPoison("erasure message erasureId longer than 128")
	case m.erasureAttr != "" && m.erasureAttr != s.ErasureID:
		return orders.Erasure{}, errPoison("erasureId attribute differs from the message's")
	case s.Region == "":
		return orders.Erasure{}, errPoison("erasure message has no region")
	case s.CreatedAt.IsZero():
		return orders.Erasure{}, errPoison("erasure message has no createdAt")
	case s.Sealed.KeyID == "" || s.Sealed.Ciphertext == "":
		return orders.Erasure{}, errPoison("erasure message has no sealed.kid or sealed.ct")
	}
	if err := p.checkRegion(s.Region); err != nil {
		return orders.Erasure{}, err
	}
	e, err := p.deps.Keys.OpenErasure(s)
	if err != nil {
		// sealed's errors name the key id, never the ciphertext.
		return orders.Erasure{}, errPoison(err.Error())
	}
	if e.Owner == "" {
		return orders.Erasure{}, errPoison("erasure message has no owner")
	}
	return e, nil
}

// forget deletes the row of an order whose status record is an erasure
// tombstone (ERASED): its owner was erased, maybe before this database got
// the erasure message.
func (p *Processor) forget(ctx context.Context, log *slog.Logger, id string) outcome {
	if err := p.deps.Store.Forget(ctx, id); err != nil {
		log.Error("forget the row of an erased order failed; left for redelivery", "err", err)
		return outcomeRetry
	}
	log.Info("order erased (status ERASED): its row here is deleted")
	return outcomeErased
}

// prune deletes the tombstones older than Config.ErasureTombstoneDays.
func (p *Processor) prune(ctx context.Context) {
	before := p.deps.Now().Add(-time.Duration(p.cfg.ErasureTombstoneDays) * 24 * time.Hour)
	n, err := p.deps.Store.PruneErased(ctx, before)
	switch {
	case err != nil:
		p.log.Warn("prune erasure tombstones failed; tried again next pass", "err", err)
	case n > 0:
		p.log.Info("erasure tombstones pruned", "tombstones", n, "olderThanDays", p.cfg.ErasureTombstoneDays)
	}
}
