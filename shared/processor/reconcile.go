package processor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// reconcilePage is how many owners ReconcileErasures lists at a time.
const reconcilePage = 100

// ReconcileErasures brings a site database restored from a backup back in
// line with the erasures recorded since the backup was taken: the restore
// brings back the rows (and the Eraser-covered data) of users erased
// after it, and no erasure message will come for them again (their
// erasures are confirmed, and the copy has no tombstone for them).
//
// It pages through the owners the database holds rows of (Store.Owners)
// and reads each owner's erasure record in table (ordertable.GetErasure:
// one GetItem of ERASURE#<pseudonym>, which the completed record keeps).
// An owner with a record, whatever its status, is erased here as an
// erasure message would erase it (Store.Erase with eraser in the same
// transaction: rows deleted, adopter's data deleted, tombstone kept),
// under the record's erasure id; nothing is confirmed (the erasure's
// confirmation stands, or a pending erasure's message still comes and
// confirms). It returns how many owners it checked and erased.
//
// The first error (a read, or an erasure) stops it and is returned with
// the counts so far: every step is idempotent, so the caller runs it again.
// Logs and errors name erasure ids and counts, never an owner.
func ReconcileErasures(ctx context.Context, store Store, db ordertable.GetItemAPI, table string, eraser Eraser, log *slog.Logger) (owners, erased int, err error) {
	for after := ""; ; {
		page, err := store.Owners(ctx, after, reconcilePage)
		if err != nil {
			return owners, erased, fmt.Errorf("reconcile erasures: %w", err)
		}
		if len(page) == 0 {
			return owners, erased, nil
		}
		for _, owner := range page {
			rec, err := ordertable.GetErasure(ctx, db, table, owner)
			switch {
			case errors.Is(err, ordertable.ErrNoErasure):
				owners++
				continue
			case err != nil:
				return owners, erased, fmt.Errorf("reconcile erasures: read an erasure record: %w", logging.Redact(err, owner))
			}
			rows, err := store.Erase(ctx, owner, rec.ID, eraserFunc(ctx, eraser, owner))
			if err != nil {
				return owners, erased, fmt.Errorf("reconcile erasures: erasure %s: %w", rec.ID, logging.Redact(err, owner))
			}
			owners++
			erased++
			log.Info("restored rows of an erased owner erased (not confirmed: the erasure's confirmation stands)",
				"erasureId", rec.ID, "status", string(rec.Status), "rows", rows)
		}
		after = page[len(page)-1]
	}
}

// eraserFunc is the Store.Erase callback that runs eraser for owner, nil
// when there is no eraser.
func eraserFunc(ctx context.Context, eraser Eraser, owner string) func(*sql.Tx) error {
	if eraser == nil {
		return nil
	}
	return func(tx *sql.Tx) error { return eraser.EraseOwner(ctx, tx, owner) }
}
