package erasure

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/sealed"
)

// partner is the fixture region's (eu-central-1's) zone pair partner.
const partner = "eu-west-1"

func TestParseEnvPair(t *testing.T) {
	pub, err := sealed.GenerateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	const pairDLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq"
	good := map[string]string{
		"AWS_REGION": "eu-central-1", "ORDERS_TABLE": "orders", "ORDERS_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/orders.fifo",
		"ORDERS_DLQ_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/orders-dlq", "USER_POOL_ID": "eu-central-1_AbC123",
		"RESIDENCY_TABLE": "homeregion-residency-registry", "REGISTRY_REGION": "eu-west-1", "PII_KEY_ID": "alias/pii", "SITE_PUBLIC_KEY": pub.String(),
	}
	for _, tc := range []struct {
		name, partner, dlq string
		wantErr            string
	}{
		{name: "no pair"},
		{name: "none", partner: "none"},
		{name: "pair", partner: partner, dlq: pairDLQ},
		{name: "partner without its DLQ", partner: partner, wantErr: "PAIR_DLQ_URL is not set"},
		{name: "DLQ without a partner", dlq: pairDLQ, wantErr: "PAIR_DLQ_URL is set without PAIR_REGION"},
		{name: "partner outside the zone", partner: "us-east-1", dlq: pairDLQ, wantErr: "PAIR_REGION"},
		{name: "DLQ not a URL", partner: partner, dlq: "orders-dlq", wantErr: "PAIR_DLQ_URL"},
		{name: "DLQ is this region's", partner: partner, dlq: good["ORDERS_DLQ_URL"], wantErr: "PAIR_DLQ_URL \"https://sqs.eu-central-1.amazonaws.com/123456789012/orders-dlq\" is a queue of eu-central-1, not of PAIR_REGION eu-west-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PAIR_REGION": tc.partner, "PAIR_DLQ_URL": tc.dlq}
			c, err := ParseEnv(func(k string) string {
				if v, ok := env[k]; ok {
					return v
				}
				return good[k]
			})
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("ParseEnv = %v, want an error starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			paired := tc.dlq != ""
			if c.Pair.Paired() != paired || c.PairDLQURL != tc.dlq {
				t.Fatalf("pair %+v, DLQ %q", c.Pair, c.PairDLQURL)
			}
			w := NewFromAWS(c, aws.Config{Region: c.Region, Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")}, nil)
			want := DefaultSettleAge
			if paired {
				want = PairSettleAge
			}
			if w.SettleAge != want || (w.PairDLQ != nil) != paired || w.Partner != c.Pair.Partner {
				t.Errorf("worker: SettleAge %s (want %s), pair DLQ client %v, partner %q", w.SettleAge, want, w.PairDLQ != nil, w.Partner)
			}
		})
	}
}

// In a pair, the orders step's wait must outlast the orders function: a
// POST that read "no erasure" may write its order until its invocation
// times out (no transaction binds the read to the write).
func TestPairSettleAgeOutlastsTheOrdersFunction(t *testing.T) {
	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fn := tpl.Resource("OrdersApiFunction")
	if fn == nil {
		t.Fatal("template.yaml has no OrdersApiFunction")
	}
	timeout, ok := fn.Properties["Timeout"].(int)
	if !ok {
		if g, _ := tpl.Globals["Function"].(map[string]any); g != nil {
			timeout, ok = g["Timeout"].(int)
		}
	}
	if !ok || timeout <= 0 {
		t.Fatalf("OrdersApiFunction's Timeout is not a number of seconds: %v", fn.Properties["Timeout"])
	}
	if PairSettleAge <= time.Duration(timeout)*time.Second {
		t.Errorf("PairSettleAge %s does not exceed OrdersApiFunction's Timeout %ds", PairSettleAge, timeout)
	}
	if PairSettleAge < 15*time.Second {
		t.Errorf("PairSettleAge %s, want at least 15 s", PairSettleAge)
	}
}

func TestIsHome(t *testing.T) {
	for _, tc := range []struct {
		home, region string
		want         bool
	}{
		{"", region, true}, // a record written before zone pairs: the reader's own
		{region, region, true},
		{partner, region, false},
		{region, partner, false},
	} {
		if got := (ordertable.Erasure{Home: tc.home}).IsHome(tc.region); got != tc.want {
			t.Errorf("Erasure{Home: %q}.IsHome(%q) = %v, want %v", tc.home, tc.region, got, tc.want)
		}
	}
}

// In a pair both workers see both regions' records in the one table: a
// record whose home is eu-central-1 is left untouched by eu-west-1's worker
// (not started, nothing of the user touched) and carried out by
// eu-central-1's, which sweeps both regions' dead-letter queues.
func TestPairErasureByItsHomeWorker(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	if _, _, err := ordertable.RequestErasure(ctx, fx.db, fx.table, subA, "erasure-1", ordertable.ViaUser, region, fx.now); err != nil {
		t.Fatal(err)
	}
	if e, err := ordertable.GetErasure(ctx, fx.db, fx.table, subA); err != nil || e.Home != region {
		t.Fatalf("record %+v, %v: want home %s", e, err, region)
	}
	// The partner region's worker on the same table, its own pool and DLQs.
	other := *fx.w
	other.Region, other.Partner, other.PoolID = partner, region, partner+"_pool"
	otherPool := &fakePool{f: newFaults(), users: map[string]*fakeUser{}}
	other.Pool, other.DB = otherPool, faultyTable{newFaults(), fx.db}
	otherDLQ := &fakeDLQ{f: newFaults()}
	other.DLQ, other.PairDLQ, other.PairDLQURL = otherDLQ, fx.dlq, "https://sqs.eu-central-1.amazonaws.com/1/orders-dlq"
	before := fx.record()
	for range 3 {
		res, err := other.Run(ctx)
		if err != nil || res.Pending != 1 || res.Partner != 1 || res.Failed != 0 || res.Completed != 0 {
			t.Fatalf("partner's run = %+v, %v; want the erasure left to its home worker", res, err)
		}
		fx.now = fx.now.Add(time.Minute)
	}
	if _, err := other.Advance(ctx, ordertable.ErasureKey(subA)); !errors.Is(err, ErrOtherHome) {
		t.Errorf("partner's Advance = %v, want ErrOtherHome", err)
	}
	if after := fx.record(); !reflect.DeepEqual(after, before) {
		t.Errorf("the partner's worker changed the record:\nbefore %v\nafter  %v", before, after)
	}
	if n := fx.f.total(); n != 0 {
		t.Errorf("the partner's worker made %d calls on the home's pool, registry, queue or DLQ: %v", n, fx.f.snapshot())
	}
	if u := fx.pool.user(subA); u == nil || !u.enabled {
		t.Error("the partner's worker touched the user")
	}

	// The home worker, paired: it sweeps its DLQ and the partner's.
	pairDLQ := &fakeDLQ{f: fx.f}
	pairDLQ.add(fmt.Sprintf(`{"version":2,"orderId":"order-of-%s-c","region":%q,"owner":%q,"sealed":{"kid":"k","ct":"c"}}`, subA[:8], partner, subA), "")
	pairDLQ.add(fmt.Sprintf(`{"version":2,"orderId":"order-of-%s-c","region":%q,"owner":%q,"sealed":{"kid":"k","ct":"c"}}`, subB[:8], partner, subB), "")
	fx.w.Partner, fx.w.PairDLQ, fx.w.PairDLQURL = partner, pairDLQ, "https://sqs.eu-west-1.amazonaws.com/1/orders-dlq"
	fx.w.SettleAge = PairSettleAge
	fx.runUntilCompleted(10)
	fx.assertErased()
	want := []string{fmt.Sprintf(`{"version":2,"orderId":"order-of-%s-c","region":%q,"owner":%q,"sealed":{"kid":"k","ct":"c"}}`, subB[:8], partner, subB)}
	if got := pairDLQ.bodies(); !slices.Equal(got, want) {
		t.Errorf("partner's DLQ = %q, want only B's, visible: %q", got, want)
	}
	if got := counts(t, fx.record())[KindDLQ]; got != "2" {
		t.Errorf("dlq count %s, want 2 (one in each region's DLQ)", got)
	}
	if home := ddbattr.NewReader(fx.record()).S(ordertable.AttrHome); home != region {
		t.Errorf("the completed record's home = %q, want %q kept", home, region)
	}
}

// The orders step waits PairSettleAge in a pair: an order written after the
// record by a POST that read "no erasure" just before is still tombstoned.
func TestPairOrdersStepWaitsForTheOrdersFunction(t *testing.T) {
	fx := newFixture(t)
	fx.w.Partner = partner
	fx.w.SettleAge = 0
	fx.w = New(*fx.w)
	if fx.w.SettleAge != PairSettleAge {
		t.Fatalf("SettleAge %s, want PairSettleAge", fx.w.SettleAge)
	}
	ctx := context.Background()
	fx.request()
	// Runs 0 s and 10 s after the record: the orders step is not done.
	for range 2 {
		if _, err := fx.w.Run(ctx); err != nil {
			t.Fatal(err)
		}
		fx.siteRound()
		fx.now = fx.now.Add(10 * time.Second)
	}
	w, err := ordertable.GetErasureWork(ctx, fx.db, fx.table, ordertable.ErasureKey(subA))
	if err != nil {
		t.Fatal(err)
	}
	if w.Done[StepOrders] {
		t.Fatalf("orders step done %s after the record, within the orders function's timeout", fx.now.Sub(t0))
	}
	fx.runUntilCompleted(10)
	fx.assertErased()
}
