package orderstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
)

// dialect is what differs between the SQL backends.
type dialect struct {
	kind       string
	migrations []migration
	// createMigrations creates schema_migrations if it is missing.
	createMigrations string
	// lock, when not empty, is run first in the migration transaction to
	// serialise the migrations of processes starting together.
	lock string
	// ownerLock and ownerLockShared, when not empty, take an owner's lock
	// (exclusive: Erase; shared: Prepare) for the rest of the transaction;
	// their one parameter is the owner's pseudonym. SQLite needs none: its
	// write transactions are serialised (BEGIN IMMEDIATE).
	ownerLock, ownerLockShared string
	// positional turns ? placeholders into $1, $2 ... (PostgreSQL).
	positional bool
	// time encodes an instant for a parameter.
	time func(time.Time) any
	// refuses reports whether err is the database refusing the data itself.
	refuses func(error) bool
}

// sqlStore is the Store over database/sql.
type sqlStore struct {
	db *sql.DB
	d  dialect
	id string
}

// q adapts query's placeholders to the dialect.
func (s *sqlStore) q(query string) string {
	if !s.d.positional {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// migrate runs every pending migration in one transaction (the creation of
// schema_migrations included) and creates the database's identity once.
func (s *sqlStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("orderstore: %s: begin migration: %w", s.d.kind, err)
	}
	defer tx.Rollback()
	if s.d.lock != "" {
		if _, err := tx.ExecContext(ctx, s.d.lock); err != nil {
			return fmt.Errorf("orderstore: %s: migration lock: %w", s.d.kind, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.createMigrations); err != nil {
		return fmt.Errorf("orderstore: %s: create schema_migrations: %w", s.d.kind, err)
	}
	for _, m := range s.d.migrations {
		if err := s.apply(ctx, tx, m); err != nil {
			return fmt.Errorf("orderstore: %s: migration %d: %w", s.d.kind, m.version, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO site_identity (id, created_at)
		SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM site_identity)`), "db-"+randomHex(8), s.d.time(time.Now())); err != nil {
		return fmt.Errorf("orderstore: %s: create the database identity: %w", s.d.kind, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT id FROM site_identity`).Scan(&s.id); err != nil {
		return fmt.Errorf("orderstore: %s: read the database identity: %w", s.d.kind, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("orderstore: %s: commit migrations: %w", s.d.kind, err)
	}
	return nil
}

// apply runs migration m inside tx unless schema_migrations records it.
func (s *sqlStore) apply(ctx context.Context, tx *sql.Tx, m migration) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.version, s.d.time(time.Now()))
	return err
}

// Update implements Store.
func (s *sqlStore) Update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("orderstore: %s: begin: %w", s.d.kind, err)
	}
	defer tx.Rollback()
	if s.d.lock != "" {
		if _, err := tx.ExecContext(ctx, s.d.lock); err != nil {
			return fmt.Errorf("orderstore: %s: lock: %w", s.d.kind, err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("orderstore: %s: commit: %w", s.d.kind, err)
	}
	return nil
}

// ID implements Store.
func (s *sqlStore) ID() string { return s.id }

// Kind implements Store.
func (s *sqlStore) Kind() string { return s.d.kind }

// Close implements Store.
func (s *sqlStore) Close() error { return s.db.Close() }

// fail wraps a database error with context, marking the database's refusals
// of the data permanent.
func (s *sqlStore) fail(what, id string, err error) error {
	err = fmt.Errorf("orderstore: %s: %s %s: %w", s.d.kind, what, id, err)
	if s.d.refuses(err) {
		return permanent(err)
	}
	return err
}

// Prepare implements Store. The tombstone check and the insert share one
// transaction that holds the owner's lock (shared), so an Erase of the owner
// (exclusive) either precedes it, and the check sees the tombstone, or
// follows it, and deletes the row.
func (s *sqlStore) Prepare(ctx context.Context, env orders.Envelope) (Order, error) {
	if env.OrderID == "" {
		return Order{}, fmt.Errorf("%w: empty order id", ErrInvalidOrder)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Order{}, s.fail("prepare", env.OrderID, err)
	}
	defer tx.Rollback()
	o, err := s.prepare(ctx, tx, env)
	if err != nil {
		return Order{}, err
	}
	if err := tx.Commit(); err != nil {
		return Order{}, s.fail("commit prepared", env.OrderID, err)
	}
	return o, nil
}

// prepare is Prepare's work inside tx.
func (s *sqlStore) prepare(ctx context.Context, tx *sql.Tx, env orders.Envelope) (Order, error) {
	if env.OrderID == "" {
		return Order{}, fmt.Errorf("%w: empty order id", ErrInvalidOrder)
	}
	body, err := json.Marshal(env.Order)
	if err != nil {
		return Order{}, permanent(fmt.Errorf("orderstore: encode order %s: %w", env.OrderID, err))
	}
	pseudonym := orders.Pseudonym(env.Owner)
	if s.d.ownerLockShared != "" {
		if _, err := tx.ExecContext(ctx, s.q(s.d.ownerLockShared), pseudonym); err != nil {
			return Order{}, s.fail("prepare", env.OrderID, err)
		}
	}
	var erased int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM erased_owners WHERE pseudonym = ?`), pseudonym).Scan(&erased); err != nil {
		return Order{}, s.fail("prepare", env.OrderID, err)
	}
	if erased > 0 {
		return Order{}, fmt.Errorf("orderstore: prepare %s: %w", env.OrderID, ErrErased)
	}
	now := time.Now().UTC()
	o := Order{Envelope: env, State: StatePrepared, Token: "claim-" + randomHex(16), UpdatedAt: now}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO orders
		(order_id, region, owner, created_at, envelope_version, body, stored_at, state, claim_token, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (order_id) DO NOTHING`),
		env.OrderID, env.Region, env.Owner, s.d.time(env.CreatedAt), env.Version, string(body),
		s.d.time(now), string(StatePrepared), o.Token, s.d.time(now))
	if err != nil {
		return Order{}, s.fail("prepare", env.OrderID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Order{}, s.fail("prepare", env.OrderID, err)
	}
	if n != 1 {
		if o, err = scan(tx.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM orders WHERE order_id = ?`), env.OrderID)); err != nil {
			return Order{}, s.fail("read", env.OrderID, err)
		}
	}
	return o, nil
}

// PrepareBatch implements Store: prepare for each envelope inside a
// savepoint of one transaction, in order id order (so that two batches of
// one database never wait on each other's rows in opposite orders).
func (s *sqlStore) PrepareBatch(ctx context.Context, envs []orders.Envelope) ([]Prepared, error) {
	out := make([]Prepared, len(envs))
	err := s.batch(ctx, "prepare", len(envs), func(i int) string { return envs[i].OrderID }, func(tx *sql.Tx, i int) error {
		o, err := s.prepare(ctx, tx, envs[i])
		out[i] = Prepared{Order: o, Err: err}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HandleBatch implements Store.
func (s *sqlStore) HandleBatch(ctx context.Context, ids []string, fn func(tx *sql.Tx, id string) error) ([]Handled, error) {
	out := make([]Handled, len(ids))
	err := s.batch(ctx, "handle", len(ids), func(i int) string { return ids[i] }, func(tx *sql.Tx, i int) error {
		var f func(*sql.Tx) error
		if fn != nil {
			f = func(tx *sql.Tx) error { return fn(tx, ids[i]) }
		}
		ran, err := s.handle(ctx, tx, ids[i], f)
		out[i] = Handled{Ran: ran, Err: err}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batch runs step for items 0..n-1 in one transaction, in the order of
// their ids, each inside a savepoint: a step that fails is rolled back to
// its savepoint (its error is the step's to record) and the others commit.
// Its own error (begin, a savepoint, commit) means nothing was committed.
func (s *sqlStore) batch(ctx context.Context, what string, n int, id func(int) string, step func(tx *sql.Tx, i int) error) error {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(id(a), id(b)) })
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(what, "batch", err)
	}
	defer tx.Rollback()
	for _, i := range order {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT batch_item`); err != nil {
			return s.fail(what, "batch", err)
		}
		if step(tx, i) != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT batch_item`); err != nil {
				return s.fail(what, "batch", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT batch_item`); err != nil {
			return s.fail(what, "batch", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.fail("commit "+what, "batch", err)
	}
	return nil
}

// Erase implements Store.
func (s *sqlStore) Erase(ctx context.Context, owner, erasureID string, fn func(tx *sql.Tx) error) (int, error) {
	if owner == "" || erasureID == "" {
		return 0, fmt.Errorf("orderstore: erase %s: empty owner or erasure id", erasureID)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.fail("erase", erasureID, err)
	}
	defer tx.Rollback()
	pseudonym := orders.Pseudonym(owner)
	if s.d.ownerLock != "" {
		if _, err := tx.ExecContext(ctx, s.q(s.d.ownerLock), pseudonym); err != nil {
			return 0, s.fail("erase", erasureID, err)
		}
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM orders WHERE owner = ?`), owner)
	if err != nil {
		return 0, s.fail("erase", erasureID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("erase", erasureID, err)
	}
	if fn != nil {
		if err := fn(tx); err != nil {
			return 0, err // the Eraser's own error, unchanged
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO erased_owners (pseudonym, erasure_id, erased_at) VALUES (?, ?, ?)
		ON CONFLICT (pseudonym) DO NOTHING`), pseudonym, erasureID, s.d.time(time.Now())); err != nil {
		return 0, s.fail("erase", erasureID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.fail("commit erasure", erasureID, err)
	}
	return int(n), nil
}

// Forget implements Store.
func (s *sqlStore) Forget(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM orders WHERE order_id = ?`), id); err != nil {
		return s.fail("forget", id, err)
	}
	return nil
}

// PruneErased implements Store.
func (s *sqlStore) PruneErased(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM erased_owners WHERE erased_at < ?`), s.d.time(before))
	if err != nil {
		return 0, s.fail("prune", "tombstones", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("prune", "tombstones", err)
	}
	return int(n), nil
}

// Owners implements Store.
func (s *sqlStore) Owners(ctx context.Context, after string, limit int) ([]string, error) {
	if limit < 1 {
		return nil, fmt.Errorf("orderstore: list owners: limit %d < 1", limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT DISTINCT owner FROM orders WHERE owner > ? ORDER BY owner LIMIT ?`), after, limit)
	if err != nil {
		return nil, s.fail("list", "owners", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, s.fail("list", "owners", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list", "owners", err)
	}
	return out, nil
}

// columns are the columns scan reads, in its order.
const columns = `order_id, region, owner, created_at, envelope_version, body, state, claim_token, updated_at`

// scan reads one row of columns.
func scan(row interface{ Scan(...any) error }) (Order, error) {
	var (
		o     Order
		body  []byte
		state string
	)
	err := row.Scan(&o.Envelope.OrderID, &o.Envelope.Region, &o.Envelope.Owner, instant{&o.Envelope.CreatedAt},
		&o.Envelope.Version, &body, &state, &o.Token, instant{&o.UpdatedAt})
	if err != nil {
		return Order{}, err
	}
	o.State = State(state)
	if err := json.Unmarshal(body, &o.Envelope.Order); err != nil {
		return Order{}, fmt.Errorf("stored order %s: %w", o.Envelope.OrderID, err)
	}
	return o, nil
}

// Handle implements Store.
func (s *sqlStore) Handle(ctx context.Context, id string, fn func(tx *sql.Tx) error) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, s.fail("handle", id, err)
	}
	defer tx.Rollback()
	if ran, err := s.handle(ctx, tx, id, fn); !ran || err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, s.fail("commit handled", id, err)
	}
	return true, nil
}

// handle is Handle's work inside tx.
func (s *sqlStore) handle(ctx context.Context, tx *sql.Tx, id string, fn func(tx *sql.Tx) error) (bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE orders SET state = ?, updated_at = ? WHERE order_id = ? AND state = ?`),
		string(StateHandled), s.d.time(time.Now()), id, string(StatePrepared))
	if err != nil {
		return false, s.fail("handle", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, s.fail("handle", id, err)
	} else if n != 1 {
		return false, nil // not PREPARED: handled by another worker, or not here
	}
	if fn != nil {
		if err := fn(tx); err != nil {
			return false, err // the handler's own error, unchanged (processor.Permanent)
		}
	}
	return true, nil
}

// move sets order id's state to `to` when it is in one of from.
func (s *sqlStore) move(ctx context.Context, id string, to State, from ...State) error {
	args := []any{string(to), s.d.time(time.Now()), id}
	marks := make([]string, len(from))
	for i, f := range from {
		marks[i] = "?"
		args = append(args, string(f))
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE orders SET state = ?, updated_at = ? WHERE order_id = ? AND state IN (`+
		strings.Join(marks, ", ")+`)`), args...)
	if err != nil {
		return s.fail("mark "+strings.ToLower(string(to)), id, err)
	}
	return nil
}

// Finish implements Store.
func (s *sqlStore) Finish(ctx context.Context, id string) error {
	return s.move(ctx, id, StateDone, StateHandled, StatePrepared)
}

// FinishBatch implements Store.
func (s *sqlStore) FinishBatch(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Sorted(slices.Values(ids))
	args := []any{string(StateDone), s.d.time(time.Now())}
	marks := make([]string, len(ids))
	for i, id := range ids {
		marks[i] = "?"
		args = append(args, id)
	}
	args = append(args, string(StateHandled), string(StatePrepared))
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE orders SET state = ?, updated_at = ? WHERE order_id IN (`+
		strings.Join(marks, ", ")+`) AND state IN (?, ?)`), args...)
	if err != nil {
		return s.fail("mark done", "batch", err)
	}
	return nil
}

// Fail implements Store.
func (s *sqlStore) Fail(ctx context.Context, id string, from State) error {
	return s.move(ctx, id, StateFailed, from)
}

// Discard implements Store.
func (s *sqlStore) Discard(ctx context.Context, id, token string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM orders WHERE order_id = ? AND state = ? AND claim_token = ?`),
		id, string(StatePrepared), token)
	if err != nil {
		return s.fail("discard", id, err)
	}
	return nil
}

// Pending implements Store.
func (s *sqlStore) Pending(ctx context.Context, before time.Time, after Order, limit int) ([]Order, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+columns+` FROM orders
		WHERE state IN (?, ?) AND updated_at < ?
		AND (updated_at > ? OR (updated_at = ? AND order_id > ?))
		ORDER BY updated_at, order_id LIMIT ?`),
		string(StatePrepared), string(StateHandled), s.d.time(before),
		s.d.time(after.UpdatedAt), s.d.time(after.UpdatedAt), after.Envelope.OrderID, limit)
	if err != nil {
		return nil, s.fail("list", "pending orders", err)
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		o, err := scan(rows)
		if err != nil {
			return nil, s.fail("list", "pending orders", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list", "pending orders", err)
	}
	return out, nil
}

// instant scans a timestamp column: a time.Time (PostgreSQL) or text
// (SQLite; "" for rows older than the column).
type instant struct{ t *time.Time }

// Scan implements sql.Scanner.
func (i instant) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*i.t = v.UTC()
		return nil
	case string:
		return i.parse(v)
	case []byte:
		return i.parse(string(v))
	case nil:
		*i.t = time.Time{}
		return nil
	}
	return fmt.Errorf("orderstore: timestamp column of type %T", src)
}

func (i instant) parse(v string) error {
	if v == "" {
		*i.t = time.Time{}
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("orderstore: timestamp %q: %w", v, err)
	}
	*i.t = t.UTC()
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
