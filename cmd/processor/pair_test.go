package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/sealed"
)

// The zone pair of these tests: the pair table lives in moto's eu-west-1.
const (
	regionW = "eu-west-1"
	regionC = "eu-central-1"
)

// pairTableURL returns the URL of a proxy that makes moto's DynamoDB serve
// the pair table of eu-west-1 to clients of both regions, as an MRSC table
// would: a request signed for eu-central-1 is sent on with eu-west-1 in its
// credential scope (moto picks its regional backend from it and checks no
// signature), through AtomicURL (single-item writes atomic, as DynamoDB's).
// fromC counts the requests signed for eu-central-1.
func pairTableURL(t *testing.T, srv *mototest.Server, fromC *atomic.Int64) string {
	t.Helper()
	up, err := url.Parse(srv.AtomicURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(up)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if strings.Contains(auth, "/"+regionC+"/dynamodb/") {
			fromC.Add(1)
			r.Header.Set("Authorization", strings.Replace(auth, "/"+regionC+"/dynamodb/", "/"+regionW+"/dynamodb/", 1))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p.URL
}

// sendOrder enqueues order id of processortest.Owner as the orders API of
// region would: its envelope names region and is sealed to pub.
func sendOrder(t *testing.T, q *sqs.Client, queueURL string, pub sealed.PublicKey, id, region string) {
	t.Helper()
	env := processortest.EnvelopeOf(id, processortest.Owner)
	env.Region = region
	m, err := sealed.SealEnvelope(pub, env)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(queueURL), MessageBody: aws.String(string(body)),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{orders.MessageAttrOrderID: {DataType: aws.String("String"), StringValue: aws.String(id)}},
		MessageGroupId:    aws.String(id), MessageDeduplicationId: aws.String(id), // as the orders API of region sends it
	}); err != nil {
		t.Fatal(err)
	}
}

// TestZonePairSite: one site database drains both queues of the pair
// eu-west-1 <-> eu-central-1 (PAIR_REGION, PAIR_QUEUE_URL; each queue in
// its region of one moto) claiming in one table: every order of both
// queues is stored once and COMPLETED, an order whose message is in both
// queues (a retry across a failover) is stored and handled once, and a
// message naming us-east-1 goes to the dead-letter queue of the queue it
// came from with its order left as it was. The site registers one database.
func TestZonePairSite(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	fw := processortest.New(t, srv.Config(regionW), 2) // eu-west-1's queue and DLQ, and the pair table
	fc := processortest.New(t, srv.Config(regionC), 2) // eu-central-1's queue and DLQ (its table is not used)

	// The site holds both regions' private keys.
	keyFile := filepath.Join(t.TempDir(), "pair.key")
	var keys []byte
	for _, f := range []string{fw.KeyFile, fc.KeyFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, b...)
	}
	if err := os.WriteFile(keyFile, keys, 0o600); err != nil {
		t.Fatal(err)
	}

	idsW, idsC := processortest.IDs("w", 5), processortest.IDs("c", 5)
	good := append(append(append([]string{}, idsW...), idsC...), "dup")
	foreign := []string{"us-in-w", "us-in-c"}
	fw.Records(t, append(append([]string{}, good...), foreign...))
	for _, id := range append(idsW, "dup") {
		sendOrder(t, fw.SQS, fw.QueueURL, fw.PublicKey, id, regionW)
	}
	for _, id := range append(idsC, "dup") {
		sendOrder(t, fc.SQS, fc.QueueURL, fc.PublicKey, id, regionC)
	}
	sendOrder(t, fw.SQS, fw.QueueURL, fw.PublicKey, "us-in-w", "us-east-1")
	sendOrder(t, fc.SQS, fc.QueueURL, fc.PublicKey, "us-in-c", "us-east-1")

	dsn, site := orderstoretest.NewSite(t, "sqlite")
	var fromC atomic.Int64
	p := processortest.Start(t, bin, srv.URL, fw, dsn, []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + pairTableURL(t, srv, &fromC),
		"PAIR_REGION=" + regionC, "PAIR_QUEUE_URL=" + fc.QueueURL, "SITE_KEY_FILE=" + keyFile,
	}, "-visibility-timeout", "1s")

	processortest.WaitFor(t, 2*time.Minute, "every order COMPLETED", func() bool {
		st := fw.Statuses(t, good)
		for _, id := range good {
			if st[id] != orders.StatusCompleted {
				return false
			}
		}
		return true
	})
	// Each foreign message: received twice (maxReceiveCount 2), then moved
	// to its own queue's dead-letter queue.
	for _, f := range []*processortest.Fixture{fw, fc} {
		processortest.WaitFor(t, time.Minute, "the foreign message in "+f.DLQURL, func() bool {
			v, nv := f.Counts(t, f.DLQURL)
			return v+nv == 1
		})
		processortest.WaitFor(t, time.Minute, "empty queue "+f.QueueURL, func() bool {
			v, nv := f.Counts(t, f.QueueURL)
			return v == 0 && nv == 0
		})
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d\n%s", code, p.Output())
	}
	out := p.Output()

	if n := rows(t, site); n != int64(len(good)) {
		t.Errorf("site rows = %d, want %d: every order once, the duplicate once, no foreign order", n, len(good))
	}
	if n, err := site.CountState(context.Background(), "DONE"); err != nil || n != int64(len(good)) {
		t.Errorf("DONE rows = %d, %v; want %d", n, err, len(good))
	}
	st := fw.Statuses(t, foreign)
	for _, id := range foreign {
		if st[id] != orders.StatusAccepted {
			t.Errorf("foreign order %s: status %q, want ACCEPTED untouched (not this pair's to fail)", id, st[id])
		}
	}
	if fromC.Load() == 0 {
		t.Error("no orders-table call was made in eu-central-1: the partner's loop must call the table's replica in its own region")
	}
	if dbs := fw.Sites(t); len(dbs) != 1 {
		t.Errorf("SITES = %v, want the one site database, registered by both loops", dbs)
	}
	// Two loops, one per queue region, each stopping on its own; the
	// duplicate was handled (inserted) once between them.
	inserted, stops := 0.0, map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["msg"] == "processor stopped" || m["message"] == "processor stopped" {
			r, _ := m["queueRegion"].(string)
			stops[r] = true
			n, _ := m["inserted"].(float64)
			inserted += n
		}
	}
	if !stops[regionW] || !stops[regionC] || len(stops) != 2 {
		t.Errorf("loops stopped: %v, want one per queue region\n%s", stops, out)
	}
	if inserted != float64(len(good)) {
		t.Errorf("inserted %v in all, want %d: the duplicate handled once", inserted, len(good))
	}
	if n := strings.Count(out, `message region \"us-east-1\" is not a region of this site's zone pair`); n < 2 {
		t.Errorf("the foreign messages' reason logged %d times, want at least once per queue\n%s", n, out)
	}
	processortest.CheckNoPII(t, out)
}
