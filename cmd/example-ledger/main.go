// Command example-ledger is an example of an adopter's own site processor,
// built from the library: the homeregion processor with a Go Handler that
// books every order into a ledger table of the site database.
//
// It is the built-in processor (same configuration, see `example-ledger
// -h` and package processormain) plus three things an adopter writes:
//
//   - Setup creates the ledger table, once at start, in the site database;
//   - the Handler inserts one ledger entry per order, inside the transaction
//     that marks the order handled, so the entry commits with that mark or
//     not at all. Across every consumer of the queue (servers, the primary
//     and the standby site) the Handler's effect happens once per order id;
//   - the Eraser deletes a user's ledger entries when the user's erasure
//     reaches the site, inside the transaction that deletes the user's
//     orders: the ledger keeps the owner of each entry for that.
//
// The ledger deliberately has no unique constraint on order_id: a second
// entry for one order would show a second run, which is what the
// processor's tests look for.
//
// Build and run it like cmd/processor:
//
//	go build -o example-ledger ./cmd/example-ledger
//	ORDERS_QUEUE_URL=... ORDERS_TABLE=... SITE_NAME=... SITE_DB_DSN=/data/orders.db ./example-ledger
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/processormain"
)

func main() {
	l := &ledger{}
	os.Exit(processormain.Run(os.Args[1:], os.Getenv, os.Stdout, processormain.Extension{
		Handler: l,
		Eraser:  l,
		Setup:   l.setup,
	}))
}

// ledger books orders into the site database's ledger table.
type ledger struct {
	insert string // the INSERT in the database's placeholder style
	erase  string // the DELETE of an owner's entries, likewise
}

// setup creates the ledger table for the database kind ("sqlite" or
// "postgres"), or adds the owner column to a ledger created before it (its
// entries take their owner from the site's orders table).
func (l *ledger) setup(ctx context.Context, tx *sql.Tx, kind string) error {
	create := `CREATE TABLE IF NOT EXISTS ledger (
		entry_id   INTEGER PRIMARY KEY AUTOINCREMENT,
		order_id   TEXT NOT NULL,
		region     TEXT NOT NULL,
		lines      INTEGER NOT NULL,
		units      INTEGER NOT NULL,
		booked_at  TEXT NOT NULL
	)`
	hasOwner := `SELECT COUNT(*) FROM pragma_table_info('ledger') WHERE name = 'owner'`
	l.insert = `INSERT INTO ledger (order_id, region, lines, units, booked_at, owner) VALUES (?, ?, ?, ?, ?, ?)`
	l.erase = `DELETE FROM ledger WHERE owner = ?`
	if kind == "postgres" {
		create = `CREATE TABLE IF NOT EXISTS ledger (
			entry_id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			order_id   TEXT NOT NULL,
			region     TEXT NOT NULL,
			lines      INTEGER NOT NULL,
			units      INTEGER NOT NULL,
			booked_at  TEXT NOT NULL
		)`
		hasOwner = `SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'ledger' AND column_name = 'owner' AND table_schema = current_schema()`
		l.insert = `INSERT INTO ledger (order_id, region, lines, units, booked_at, owner) VALUES ($1, $2, $3, $4, $5, $6)`
		l.erase = `DELETE FROM ledger WHERE owner = $1`
	}
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create ledger table: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, hasOwner).Scan(&n); err != nil {
		return fmt.Errorf("inspect ledger table: %w", err)
	}
	if n == 0 {
		for _, stmt := range []string{
			`ALTER TABLE ledger ADD COLUMN owner TEXT NOT NULL DEFAULT ''`,
			`UPDATE ledger SET owner = COALESCE((SELECT owner FROM orders WHERE orders.order_id = ledger.order_id), '')`,
			`CREATE INDEX ledger_owner ON ledger (owner)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("add the ledger's owner column: %w", err)
			}
		}
	}
	return nil
}

// HandleOrder implements processor.Handler: one ledger entry per order, in
// the transaction that marks it handled. An order without units is refused
// for good (processor.Permanent): it ends FAILED and its message goes to the
// dead-letter queue.
func (l *ledger) HandleOrder(ctx context.Context, tx *sql.Tx, o orders.Envelope) error {
	units := 0
	for _, it := range o.Order.Items {
		units += it.Quantity
	}
	if units <= 0 {
		return processor.Permanent(fmt.Errorf("order %s has no units to book", o.OrderID))
	}
	if _, err := tx.ExecContext(ctx, l.insert, o.OrderID, o.Region, len(o.Order.Items), units,
		time.Now().UTC().Format(time.RFC3339Nano), o.Owner); err != nil {
		return fmt.Errorf("book order %s: %w", o.OrderID, err)
	}
	return nil
}

// EraseOwner implements processor.Eraser: it deletes every ledger entry of
// owner, in the transaction that erases the owner's orders. It is
// idempotent; its errors never name the owner.
func (l *ledger) EraseOwner(ctx context.Context, tx *sql.Tx, owner string) error {
	if _, err := tx.ExecContext(ctx, l.erase, owner); err != nil {
		return fmt.Errorf("erase ledger entries: %w", err)
	}
	return nil
}
