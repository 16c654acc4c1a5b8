// Command example-ledger is an example of an adopter's own site processor,
// built from the library: the homeregion processor with a Go Handler that
// books every order into a ledger table of the site database.
//
// It is the built-in processor (same configuration, see `example-ledger
// -h` and package processormain) plus two things an adopter writes:
//
//   - Setup creates the ledger table, once at start, in the site database;
//   - the Handler inserts one ledger entry per order, inside the transaction
//     that marks the order handled, so the entry commits with that mark or
//     not at all. Across every consumer of the queue (servers, the primary
//     and the standby site) the Handler's effect happens once per order id.
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
		Setup:   l.setup,
	}))
}

// ledger books orders into the site database's ledger table.
type ledger struct {
	insert string // the INSERT in the database's placeholder style
}

// setup creates the ledger table for the database kind ("sqlite" or
// "postgres").
func (l *ledger) setup(ctx context.Context, tx *sql.Tx, kind string) error {
	create := `CREATE TABLE IF NOT EXISTS ledger (
		entry_id   INTEGER PRIMARY KEY AUTOINCREMENT,
		order_id   TEXT NOT NULL,
		region     TEXT NOT NULL,
		lines      INTEGER NOT NULL,
		units      INTEGER NOT NULL,
		booked_at  TEXT NOT NULL
	)`
	l.insert = `INSERT INTO ledger (order_id, region, lines, units, booked_at) VALUES (?, ?, ?, ?, ?)`
	if kind == "postgres" {
		create = `CREATE TABLE IF NOT EXISTS ledger (
			entry_id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			order_id   TEXT NOT NULL,
			region     TEXT NOT NULL,
			lines      INTEGER NOT NULL,
			units      INTEGER NOT NULL,
			booked_at  TEXT NOT NULL
		)`
		l.insert = `INSERT INTO ledger (order_id, region, lines, units, booked_at) VALUES ($1, $2, $3, $4, $5)`
	}
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create ledger table: %w", err)
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
		time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("book order %s: %w", o.OrderID, err)
	}
	return nil
}
