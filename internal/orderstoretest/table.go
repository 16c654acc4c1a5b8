package orderstoretest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/homeregion/homeregion/shared/orders"
)

// Table reads the orders table of a site database directly, as an operator's
// SQL would, so a test checks what a Store or a processor stored without
// asking the code under test. It is safe for concurrent use.
type Table struct {
	db    *sql.DB
	kind  string
	param string // the placeholder of the driver's first parameter
}

// OpenTable opens the database named by dsn (a DSN as orderstore.Open takes
// it: a postgres:// or postgresql:// URL, else a SQLite file path) for
// reading; it is closed when the test ends. The database is reached on the
// first query, so the table may be created after OpenTable.
func OpenTable(t testing.TB, dsn string) *Table {
	t.Helper()
	tb := &Table{kind: "sqlite", param: "?"}
	driver, source := "sqlite", dsn+"?_pragma=busy_timeout(10000)"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		tb.kind, tb.param = "postgres", "$1"
		driver, source = "pgx", dsn
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatalf("orderstoretest: open %s: %v", tb.kind, err)
	}
	t.Cleanup(func() { db.Close() })
	tb.db = db
	return tb
}

// Count returns the number of stored orders.
func (tb *Table) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := tb.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders`).Scan(&n); err != nil {
		return 0, fmt.Errorf("orderstoretest: %s: count: %w", tb.kind, err)
	}
	return n, nil
}

// Has reports whether order id is stored.
func (tb *Table) Has(ctx context.Context, id string) (bool, error) {
	var ok bool
	q := `SELECT EXISTS (SELECT 1 FROM orders WHERE order_id = ` + tb.param + `)`
	if err := tb.db.QueryRowContext(ctx, q, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("orderstoretest: %s: lookup %s: %w", tb.kind, id, err)
	}
	return ok, nil
}

// CountState returns the number of stored orders in state (PREPARED,
// HANDLED, DONE or FAILED; see package orderstore).
func (tb *Table) CountState(ctx context.Context, state string) (int64, error) {
	var n int64
	if err := tb.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE state = `+tb.param, state).Scan(&n); err != nil {
		return 0, fmt.Errorf("orderstoretest: %s: count %s: %w", tb.kind, state, err)
	}
	return n, nil
}

// Strings runs query, which must select one text column, and returns its
// values: for checks of an adopter's own tables (e.g. a ledger).
func (tb *Table) Strings(ctx context.Context, query string) ([]string, error) {
	rows, err := tb.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("orderstoretest: %s: %w", tb.kind, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("orderstoretest: %s: %w", tb.kind, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CountOwner returns the number of stored orders of owner.
func (tb *Table) CountOwner(ctx context.Context, owner string) (int64, error) {
	var n int64
	if err := tb.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE owner = `+tb.param, owner).Scan(&n); err != nil {
		return 0, fmt.Errorf("orderstoretest: %s: count an owner's orders: %w", tb.kind, err)
	}
	return n, nil
}

// Tombstone returns the erasure id of owner's erasure tombstone (table
// erased_owners, keyed by orders.Pseudonym), "" when there is none.
func (tb *Table) Tombstone(ctx context.Context, owner string) (string, error) {
	var id string
	err := tb.db.QueryRowContext(ctx, `SELECT erasure_id FROM erased_owners WHERE pseudonym = `+tb.param, orders.Pseudonym(owner)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("orderstoretest: %s: read a tombstone: %w", tb.kind, err)
	}
	return id, nil
}

// DatabaseID returns the database's identity (orderstore.Store.ID).
func (tb *Table) DatabaseID(ctx context.Context) (string, error) {
	var id string
	if err := tb.db.QueryRowContext(ctx, `SELECT id FROM site_identity`).Scan(&id); err != nil {
		return "", fmt.Errorf("orderstoretest: %s: read the database identity: %w", tb.kind, err)
	}
	return id, nil
}
