// Package orderstoretest gives integration tests a fresh site database of
// each kind: a SQLite file in a temporary directory, and a new PostgreSQL
// database on the server named by PROCESSOR_TEST_POSTGRES_DSN (which
// `make test` starts with .ci/postgres.sh and exports).
package orderstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/homeregion/homeregion/shared/orderstore"
)

// EnvPostgresDSN names the variable holding the test PostgreSQL server's DSN.
const EnvPostgresDSN = "PROCESSOR_TEST_POSTGRES_DSN"

// Kinds are the database kinds every store test runs against.
var Kinds = []string{"sqlite", "postgres"}

// DSN returns the DSN of a fresh, empty database of kind ("sqlite" or
// "postgres"), dropped when the test ends.
func DSN(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case "sqlite":
		return SQLiteDSN(t)
	case "postgres":
		return PostgresDSN(t)
	}
	t.Fatalf("orderstoretest: unknown database kind %q", kind)
	return ""
}

// SQLiteDSN returns the path of a new SQLite file in t's temporary directory.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "orders.db")
}

// PostgresDSN creates a new database on the server named by
// PROCESSOR_TEST_POSTGRES_DSN and returns its DSN; it drops the database when
// the test ends. Under -short it skips the test; otherwise a missing variable
// or an unreachable server FAILS the test: PostgreSQL is a required backend.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs PostgreSQL (run without -short)")
	}
	admin := os.Getenv(EnvPostgresDSN)
	if admin == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts a private PostgreSQL "+
			"with .ci/postgres.sh and exports it, or export %s=$(.ci/postgres.sh)", EnvPostgresDSN, EnvPostgresDSN)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s is not a URL", EnvPostgresDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL (%s=%s): %v", EnvPostgresDSN, u.Redacted(), err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// NewSite creates a fresh site database of kind with the processor's schema
// (orderstore.Open migrates it, as a processor would at its start) and
// returns its DSN and its table for the test's checks.
func NewSite(t testing.TB, kind string) (dsn string, table *Table) {
	t.Helper()
	dsn = DSN(t, kind)
	s, err := orderstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("orderstoretest: create the %s site database: %v", kind, err)
	}
	s.Close()
	return dsn, OpenTable(t, dsn)
}
