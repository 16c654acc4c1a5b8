package erasure

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// TestPairErasureOnMoto: the workers of eu-west-1 and eu-central-1, built
// by NewFromAWS from a paired Config (real SDK clients on one moto), see
// both regions' records in the one table (moto has no MRSC: both workers'
// table clients are eu-central-1's). A record whose home is eu-central-1 is
// left untouched by eu-west-1's worker and completed by eu-central-1's,
// whose dead-letter step sweeps its own DLQ and, through its client in
// PAIR_REGION, eu-west-1's.
func TestPairErasureOnMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	pub, ring := newSiteKey(t)
	table := fmt.Sprintf("pair-erasure-%d", time.Now().UnixNano())
	db := dynamodb.NewFromConfig(srv.Config(region))
	mototest.CreateTable(t, db, "OrdersTable", table)
	queue := func(r, logicalID, name string) string {
		return mototest.CreateQueue(t, sqs.NewFromConfig(srv.Config(r)), logicalID, fmt.Sprintf("%s-%d", name, time.Now().UnixNano()),
			map[string]any{"ReceiveMessageWaitTimeSeconds": 0})
	}
	qC, dlqC := queue(region, "OrdersQueue", "orders"), queue(region, "OrdersDeadLetterQueue", "orders-dlq")
	qW, dlqW := queue(partner, "OrdersQueue", "orders"), queue(partner, "OrdersDeadLetterQueue", "orders-dlq")
	sqsC, sqsW := sqs.NewFromConfig(srv.Config(region)), sqs.NewFromConfig(srv.Config(partner))

	// A's orders went through both regions' queues; one of each reached its
	// DLQ. B's too, in eu-west-1's.
	deadLetter := func(q *sqs.Client, url, sub, r string) {
		id := fmt.Sprintf("o-%s-%s", sub[:8], r)
		body := fmt.Sprintf(`{"version":2,"orderId":%q,"region":%q,"owner":%q,"sealed":{"kid":"k","ct":"c"}}`, id, r, sub)
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
			MessageGroupId: aws.String(id), MessageDeduplicationId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	deadLetter(sqsC, dlqC, subA, region)
	deadLetter(sqsW, dlqW, subA, partner)
	deadLetter(sqsW, dlqW, subB, partner)
	const db1 = "site-eu/db-1"
	if err := ordertable.RegisterSite(ctx, db, table, db1); err != nil {
		t.Fatal(err)
	}

	clock := t0
	logs := &logtest.Buffer{}
	worker := func(home, other, orders, dlq, pairDLQ string) *Worker {
		c := Config{Region: home, Table: table, QueueURL: orders, DLQURL: dlq, PoolID: home + "_pool", RegistryTable: "registry",
			RegistryRegion: partner, PIIKeyID: "alias/pii", SiteKey: pub, PairDLQURL: pairDLQ}
		var err error
		if c.Pair, err = zonepair.FromEnv(func(string) string { return other }, home); err != nil {
			t.Fatal(err)
		}
		w := NewFromAWS(c, srv.Config(home), logs.Logger())
		w.DB = db // the one pair table (MRSC), in moto eu-central-1's
		f := newFaults()
		w.Pool = &fakePool{f: f, users: map[string]*fakeUser{"user-a": {username: "user-a", sub: subA, email: emailA, enabled: true}}}
		w.Keys = fakeKeys{f}
		w.Registry = &fakeRegistry{f: f, claims: map[string]registry.Record{}}
		w.Now = func() time.Time { return clock }
		w.Metrics = &logtest.Buffer{}
		return w
	}
	home := worker(region, partner, qC, dlqC, dlqW)
	away := worker(partner, region, qW, dlqW, dlqC)
	if home.SettleAge != PairSettleAge || home.PairDLQ == nil {
		t.Fatalf("paired worker: SettleAge %s, pair DLQ client %v", home.SettleAge, home.PairDLQ != nil)
	}

	if _, _, err := ordertable.RequestErasure(ctx, db, table, subA, "erasure-1", ordertable.ViaUser, region, clock); err != nil {
		t.Fatal(err)
	}
	rec := func() map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: ddbattr.Key(ordertable.AttrPK, ordertable.ErasureKey(subA)), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	before := rec()
	res, err := away.Run(ctx)
	if err != nil || res.Pending != 1 || res.Partner != 1 || res.Completed+res.Failed != 0 {
		t.Fatalf("eu-west-1's run = %+v, %v; want the erasure left to eu-central-1", res, err)
	}
	if !reflect.DeepEqual(rec(), before) {
		t.Fatalf("eu-west-1's worker changed eu-central-1's record")
	}
	if u := away.Pool.(*fakePool).user(subA); u == nil || !u.enabled {
		t.Fatal("eu-west-1's worker touched a user")
	}

	cfg := Config{QueueURL: qC, Table: table}
	for runs := 1; ; runs++ {
		if _, err := home.Run(ctx); err != nil {
			t.Fatalf("run %d: %v", runs, err)
		}
		site(t, sqsC, db, ring, cfg, db1)
		clock = clock.Add(10 * time.Second)
		e, err := ordertable.GetErasure(ctx, db, table, subA)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status == ordertable.ErasureCompleted {
			break
		}
		if runs == 10 {
			t.Fatalf("not COMPLETED after %d runs: %+v\n%s", runs, e, logs)
		}
	}
	for _, q := range []struct {
		c         *sqs.Client
		url, want string
	}{{sqsC, dlqC, ""}, {sqsW, dlqW, subB}} {
		out, err := q.c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, m := range out.Messages {
			left = append(left, aws.ToString(m.Body))
		}
		if q.want == "" && len(left) != 0 || q.want != "" && (len(left) != 1 || !strings.Contains(left[0], q.want)) {
			t.Errorf("DLQ %s holds %q; want only the other user's messages, visible", q.url, left)
		}
	}
	if got := counts(t, rec())[KindDLQ]; got != "2" {
		t.Errorf("dlq count %s, want 2 (one in each region's DLQ)", got)
	}
	for _, s := range []string{subA, emailA, subB} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("a log line contains %q", s)
		}
	}
}

// newSiteKey is a new site key pair.
func newSiteKey(t *testing.T) (sealed.PublicKey, *sealed.Keyring) {
	t.Helper()
	file := t.TempDir() + "/site.key"
	pub, err := sealed.GenerateKeyFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := sealed.ReadKeyFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return pub, ring
}
