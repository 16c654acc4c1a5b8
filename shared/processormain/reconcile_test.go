package processormain_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/processormain"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// summary returns the attributes of the log line whose message is msg.
func summary(t *testing.T, logs, msg string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && (m["msg"] == msg || m["message"] == msg) {
			return m
		}
	}
	t.Fatalf("no %q line in the output:\n%s", msg, logs)
	return nil
}

// TestReconcileErasures is `processor reconcile-erasures` against moto with
// the real SDK, on a site database as a restore from a backup leaves it:
// rows (and the adopter's data) of owner X, erased since the backup (its
// erasure record COMPLETED, the sub removed from it), of owner Y and of
// many others, and no tombstone. The subcommand erases X there (rows,
// adopter's data, tombstone with X's erasure id), leaves everyone else's
// rows, confirms nothing, never logs an owner, and a second run changes
// nothing. With the orders table unreachable it exits 1 and erases nothing.
func TestReconcileErasures(t *testing.T) {
	srv := mototest.Require(t)
	const (
		x, y      = "sub-x-erased-7f3a", "sub-y-kept-51c2"
		erasureID = "er-restore-1"
		others    = 298
	)
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			f := processortest.New(t, srv.Config("eu-west-1"), 5)
			dsn, table := orderstoretest.NewSite(t, kind)
			param := "?"
			if kind == "postgres" {
				param = "$1"
			}
			// The restored copy: X's and Y's rows and adopter data, and one
			// row of each of the others.
			s, err := orderstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `CREATE TABLE adopter (owner TEXT NOT NULL)`); err != nil {
					return err
				}
				for _, o := range []string{x, x, y} {
					if _, err := tx.ExecContext(ctx, `INSERT INTO adopter (owner) VALUES (`+param+`)`, o); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for i, o := range []string{x, x, y, y} {
				if _, err := s.Prepare(ctx, processortest.EnvelopeOf(fmt.Sprintf("xy-%d", i), o)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range others {
				if _, err := s.Prepare(ctx, processortest.EnvelopeOf(fmt.Sprintf("other-%03d", i), fmt.Sprintf("sub-other-%03d", i))); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			// X's erasure, completed since the backup: its record keeps the
			// erasure id, no longer the sub.
			if _, _, err := ordertable.RequestErasure(ctx, f.DynamoDB, f.Table, x, erasureID, ordertable.ViaUser, "", time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
			if _, err := f.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(f.Table),
				Key:                       map[string]ddbtypes.AttributeValue{ordertable.AttrPK: &ddbtypes.AttributeValueMemberS{Value: ordertable.ErasureKey(x)}},
				UpdateExpression:          aws.String("SET #s = :c REMOVE #sub, #p"),
				ExpressionAttributeNames:  map[string]string{"#s": ordertable.AttrStatus, "#sub": ordertable.AttrSubject, "#p": ordertable.AttrErasurePending},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberS{Value: string(ordertable.ErasureCompleted)}},
			}); err != nil {
				t.Fatal(err)
			}

			env := map[string]string{
				"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
				"AWS_ENDPOINT_URL": srv.URL, "ORDERS_QUEUE_URL": f.QueueURL, "ORDERS_TABLE": f.Table,
				"SITE_NAME": "test-site", "SITE_DB_DSN": dsn, "SITE_KEY_FILE": f.KeyFile, "LOG_LEVEL": "INFO",
			}
			getenv := func(k string) string { return env[k] }
			ext := processormain.Extension{
				Setup: func(ctx context.Context, tx *sql.Tx, _ string) error {
					_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS adopter (owner TEXT NOT NULL)`)
					return err
				},
				Eraser: processor.EraserFunc(func(ctx context.Context, tx *sql.Tx, owner string) error {
					_, err := tx.ExecContext(ctx, `DELETE FROM adopter WHERE owner = `+param, owner)
					return err
				}),
			}
			adopterRows := func(owner string) int {
				v, err := table.Strings(ctx, `SELECT owner FROM adopter WHERE owner = '`+owner+`'`)
				if err != nil {
					t.Fatal(err)
				}
				return len(v)
			}

			// The orders table unreachable (no such table): exit 1, nothing erased.
			var out strings.Builder
			env["ORDERS_TABLE"] = "orders-missing"
			if code := processormain.Run([]string{"reconcile-erasures"}, getenv, &out, ext); code != 1 {
				t.Fatalf("with no orders table: exit %d, want 1:\n%s", code, out.String())
			}
			if n, _ := table.CountOwner(ctx, x); n != 2 {
				t.Fatalf("with no orders table: X has %d rows, want its 2", n)
			}
			env["ORDERS_TABLE"] = f.Table
			failed := out.String()
			if !strings.Contains(failed, "stopped; run it again") {
				t.Errorf("with no orders table: no error line:\n%s", failed)
			}

			out.Reset()
			if code := processormain.Run([]string{"reconcile-erasures", "-log-level", "INFO"}, getenv, &out, ext); code != 0 {
				t.Fatalf("exit %d, want 0:\n%s", code, out.String())
			}
			sum := summary(t, out.String(), "erasures reconciled")
			logs := failed + out.String()
			if sum["ownersChecked"] != float64(others+2) || sum["ownersErased"] != float64(1) {
				t.Errorf("summary = %v, want %d owners checked, 1 erased", sum, others+2)
			}
			t.Logf("%s: reconciled %d owners in %v", kind, others+2, sum["took"])
			if n, _ := table.CountOwner(ctx, x); n != 0 || adopterRows(x) != 0 {
				t.Errorf("X keeps %d rows and %d adopter rows, want none", n, adopterRows(x))
			}
			if ts, err := table.Tombstone(ctx, x); err != nil || ts != erasureID {
				t.Errorf("X's tombstone = %q, %v; want %q", ts, err, erasureID)
			}
			if n, _ := table.CountOwner(ctx, y); n != 2 || adopterRows(y) != 1 {
				t.Errorf("Y keeps %d rows and %d adopter rows, want 2 and 1", n, adopterRows(y))
			}
			if n, _ := table.Count(ctx); n != int64(others+2) {
				t.Errorf("%d rows left, want %d", n, others+2)
			}
			if c := f.Confirmed(t, x); len(c) != 0 {
				t.Errorf("reconcile confirmed the erasure for %q; it must confirm nothing", c)
			}
			if !strings.Contains(logs, erasureID) {
				t.Errorf("no log line names erasure %s:\n%s", erasureID, logs)
			}
			for _, o := range []string{x, y, "sub-other-"} {
				if strings.Contains(logs, o) {
					t.Errorf("a log line names owner %s:\n%s", o, logs)
				}
			}

			// Again: X holds no row any more; nothing changes.
			out.Reset()
			if code := processormain.Run([]string{"reconcile-erasures"}, getenv, &out, ext); code != 0 {
				t.Fatalf("second run: exit %d, want 0:\n%s", code, out.String())
			}
			if sum := summary(t, out.String(), "erasures reconciled"); sum["ownersChecked"] != float64(others+1) || sum["ownersErased"] != float64(0) {
				t.Errorf("second run summary = %v, want %d checked, 0 erased", sum, others+1)
			}
			if ts, _ := table.Tombstone(ctx, x); ts != erasureID {
				t.Errorf("X's tombstone after a second run = %q, want %q", ts, erasureID)
			}
		})
	}
}
