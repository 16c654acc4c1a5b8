package ordersapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/sealed"
)

// testSite is the region's site key pair for the tests: the public key the
// handlers seal to and the keyring that opens what they send. It is made
// once per test binary (MLKEM key generation is not free), through the key
// file a site would use.
var testSite = sync.OnceValues(func() (sealed.PublicKey, *sealed.Keyring) {
	dir, err := os.MkdirTemp("", "ordersapi-site-key")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "site.key")
	pub, err := sealed.GenerateKeyFile(path)
	if err != nil {
		panic(err)
	}
	ring, err := sealed.ReadKeyFile(path)
	if err != nil {
		panic(err)
	}
	return pub, ring
})

func testKey() sealed.PublicKey { k, _ := testSite(); return k }

// openBody decodes a queue message body strictly as a version 2 message and
// opens it with the site's keyring.
func openBody(t testing.TB, body string) orders.Envelope {
	t.Helper()
	var m orders.SealedEnvelope
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("message body is not a version 2 message: %v", err)
	}
	if m.Version != orders.SealedVersion || m.Sealed.KeyID != testKey().KeyID() {
		t.Fatalf("message version %d, kid %q; want %d, %q", m.Version, m.Sealed.KeyID, orders.SealedVersion, testKey().KeyID())
	}
	_, ring := testSite()
	env, err := ring.OpenEnvelope(m)
	if err != nil {
		t.Fatalf("the site cannot open the message: %v", err)
	}
	return env
}

// plainBody is an order whose every free-text field (and SKU) is a value
// found nowhere else, so finding one in a message, a table item or a log
// line can only mean the order leaked.
const plainBody = `{"items":[{"sku":"SKU-QWZX-7731","quantity":2}],"deliveryAddress":{"name":"Zelda Quartermain",` +
	`"line1":"77 Quillfeather Road","line2":"Flat Zq9","city":"Xanaduville","postalCode":"QX-4242","country":"IE"},` +
	`"note":"ring the violet bell"}`

// plaintexts are plainBody's fields, as a leak would show them.
var plaintexts = []string{"SKU-QWZX-7731", "Zelda Quartermain", "77 Quillfeather Road", "Flat Zq9", "Xanaduville", "QX-4242", "ring the violet bell"}

// leaked returns the first plaintext field of plainBody found in s, in
// clear or JSON-escaped, or "".
func leaked(s string) string {
	for _, p := range plaintexts {
		esc, _ := json.Marshal(p)
		if strings.Contains(s, p) || strings.Contains(s, strings.Trim(string(esc), `"`)) {
			return p
		}
	}
	return ""
}

func TestLeakedFindsEveryField(t *testing.T) {
	o, err := orders.DecodeOrder([]byte(plainBody))
	if err != nil {
		t.Fatal(err)
	}
	a := o.DeliveryAddress
	for _, f := range []string{a.Name, a.Line1, a.Line2, a.City, a.PostalCode, o.Note, o.Items[0].SKU} {
		if leaked("x"+f+"x") != f {
			t.Errorf("leaked misses %q", f)
		}
	}
	if got := leaked(validBody); got != "" {
		t.Errorf("leaked(validBody) = %q", got)
	}
}

// recordingStore is a memStore that keeps every record written, as the
// orders table would hold them.
type recordingStore struct {
	*memStore
	mu      sync.Mutex
	written []string
}

func (s *recordingStore) Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error {
	s.mu.Lock()
	s.written = append(s.written, fmt.Sprintf("%+v", rec), fmt.Sprintf("%+v", order))
	s.mu.Unlock()
	return s.memStore.Begin(ctx, rec, order)
}

// TestSealedMessage: the body sent is a version 2 message that the site's
// keyring opens back to the posted order, bound to its identity.
func TestSealedMessage(t *testing.T) {
	q := &fakeQueue{}
	h := newHandler(newMemStore(func() time.Time { return testNow }), q)
	resp, _ := h.Handle(context.Background(), postReq(plainBody))
	if resp.StatusCode != 202 || q.count() != 1 {
		t.Fatalf("%d %s, %d messages", resp.StatusCode, resp.Body, q.count())
	}
	env := openBody(t, q.sent[0].Body)
	want, _ := orders.DecodeOrder([]byte(plainBody))
	if env.Version != orders.SealedVersion || env.OrderID != q.sent[0].OrderID || env.Region != testRegion || env.Owner != testOwner ||
		!env.CreatedAt.Equal(testNow) || mustJSON(t, env.Order) != mustJSON(t, want) {
		t.Fatalf("opened %+v, want the posted order %+v", env, want)
	}
	if p := leaked(q.sent[0].Body); p != "" {
		t.Fatalf("message body holds %q: %s", p, q.sent[0].Body)
	}
}

// TestNoPlaintextOrder: through every path of POST /orders (accepted,
// replayed, failed send, taken over, refused), no field of the order reaches
// the queue, the orders table or a log line, at any level.
func TestNoPlaintextOrder(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st := &recordingStore{memStore: newMemStore(func() time.Time { return testNow })}
	failSend := true
	q := &fakeQueue{SendFn: func(context.Context, Message) error {
		if failSend {
			return fmt.Errorf("%w: send message: boom", ErrUnavailable)
		}
		return nil
	}}
	h, err := New(testRegion, testKey(), st, q, log)
	if err != nil {
		t.Fatal(err)
	}
	h.Now, h.NewID = func() time.Time { return testNow }, seqIDs()
	ctx := context.Background()
	other := strings.Replace(plainBody, `"quantity":2`, `"quantity":3`, 1)
	refused := strings.Replace(plainBody, `"quantity":2`, `"quantity":0`, 1)
	steps := []struct {
		name   string
		req    string
		key    string
		fail   bool
		status int
	}{
		{"send fails", plainBody, "k1", true, 503},
		{"retry takes over", plainBody, "k1", false, 202},
		{"replay", plainBody, "k1", false, 202},
		{"same key other order", other, "k1", false, 422},
		{"refused order", refused, "k2", false, 400},
		{"accepted", plainBody, "k3", false, 202},
	}
	for _, s := range steps {
		failSend = s.fail
		resp, _ := h.Handle(ctx, postReq(s.req, withoutHeader("idempotency-key"), withHeader("idempotency-key", s.key)))
		if resp.StatusCode != s.status {
			t.Fatalf("%s: %d %s, want %d", s.name, resp.StatusCode, resp.Body, s.status)
		}
		if p := leaked(resp.Body); p != "" && resp.StatusCode != 202 {
			t.Errorf("%s: the error answer quotes %q", s.name, p)
		}
	}
	if q.count() != 2 {
		t.Fatalf("%d messages, want 2", q.count())
	}
	for _, m := range q.sent {
		if p := leaked(m.Body); p != "" {
			t.Errorf("message body holds %q", p)
		}
		openBody(t, m.Body)
	}
	if len(st.written) == 0 {
		t.Fatal("no table record written")
	}
	for _, r := range st.written {
		if p := leaked(r); p != "" {
			t.Errorf("table record holds %q: %s", p, r)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no log line captured")
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if p := leaked(line); p != "" {
			t.Errorf("log line holds %q: %s", p, line)
		}
	}
}

// TestReplaySealsTheSameOrder: a take-over re-sends the same order id,
// sealed afresh (a new ciphertext) to the same order.
func TestReplaySealsTheSameOrder(t *testing.T) {
	var now = testNow
	st := newMemStore(func() time.Time { return now })
	q := &fakeQueue{}
	h := newHandler(st, q)
	h.Now = func() time.Time { return now }
	// The first attempt sends, then fails to complete: the record stays in
	// flight and a replay after the lease sends again.
	st2 := &failingComplete{memStore: st}
	h.store = st2
	if resp, _ := h.Handle(context.Background(), postReq(plainBody)); resp.StatusCode != 202 {
		t.Fatalf("first: %d %s", resp.StatusCode, resp.Body)
	}
	now = now.Add(DefaultLease + time.Second)
	if resp, _ := h.Handle(context.Background(), postReq(plainBody)); resp.StatusCode != 202 {
		t.Fatalf("replay: %d %s", resp.StatusCode, resp.Body)
	}
	if q.count() != 2 {
		t.Fatalf("%d messages, want 2", q.count())
	}
	a, b := openBody(t, q.sent[0].Body), openBody(t, q.sent[1].Body)
	if a.OrderID != b.OrderID || !a.CreatedAt.Equal(b.CreatedAt) || mustJSON(t, a) != mustJSON(t, b) {
		t.Fatalf("replay opened to %+v, first to %+v", b, a)
	}
	if q.sent[0].Body == q.sent[1].Body {
		t.Fatal("the replay re-sent the same ciphertext; want a fresh seal")
	}
}

// failingComplete is a memStore whose Complete always fails.
type failingComplete struct{ *memStore }

func (failingComplete) Complete(context.Context, string, string) error {
	return errors.New("complete: connection reset")
}

// The message does not open with another site's key.
func TestSealedToTheConfiguredKey(t *testing.T) {
	otherPub, err := sealed.GenerateKeyFile(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	q := &fakeQueue{}
	h, err := New(testRegion, otherPub, newMemStore(time.Now), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.Handle(context.Background(), postReq(plainBody)); resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	var m orders.SealedEnvelope
	if err := json.Unmarshal([]byte(q.sent[0].Body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Sealed.KeyID != otherPub.KeyID() {
		t.Fatalf("kid %q, want the configured key's %q", m.Sealed.KeyID, otherPub.KeyID())
	}
	_, ring := testSite()
	if _, err := ring.OpenEnvelope(m); !errors.Is(err, sealed.ErrUnknownKey) {
		t.Fatalf("opened with another site's keyring: %v", err)
	}
}

// TestIntegrationNoPlaintext: in moto, the message SQS holds and every item
// of the orders table carry no field of the order; the message opens.
func TestIntegrationNoPlaintext(t *testing.T) {
	e := newEnv(t)
	h := e.handler(nil)
	ctx := context.Background()
	id := orderID(t, invoke(t, ctx, h, postReq(plainBody)))
	msgs := e.drain()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	body := aws.ToString(msgs[0].Body)
	if p := leaked(body); p != "" {
		t.Fatalf("queued message holds %q", p)
	}
	if env := openBody(t, body); env.OrderID != id || env.Order.DeliveryAddress.City != "Xanaduville" {
		t.Fatalf("opened %+v", env)
	}
	out, err := e.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("%d table items, want the order record (which holds its key's state)", len(out.Items))
	}
	seen := false
	for _, item := range out.Items {
		s := itemText(item)
		seen = seen || strings.Contains(s, id) // the formatting shows values
		if p := leaked(s); p != "" {
			t.Errorf("table item holds %q: %s", p, s)
		}
	}
	if !seen {
		t.Fatalf("no table item shows the order id %s: the check reads nothing", id)
	}
}

// itemText writes every value of a DynamoDB item (scalars, sets, lists and
// maps, recursively) as text.
func itemText(item map[string]ddbtypes.AttributeValue) string {
	var b strings.Builder
	var walk func(v ddbtypes.AttributeValue)
	walk = func(v ddbtypes.AttributeValue) {
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			b.WriteString(v.Value)
		case *ddbtypes.AttributeValueMemberN:
			b.WriteString(v.Value)
		case *ddbtypes.AttributeValueMemberB:
			b.Write(v.Value)
		case *ddbtypes.AttributeValueMemberSS:
			b.WriteString(strings.Join(v.Value, " "))
		case *ddbtypes.AttributeValueMemberL:
			for _, e := range v.Value {
				walk(e)
			}
		case *ddbtypes.AttributeValueMemberM:
			b.WriteString(itemText(v.Value))
		default:
			fmt.Fprintf(&b, "%v", v)
		}
		b.WriteByte(' ')
	}
	for k, v := range item {
		b.WriteString(k + "=")
		walk(v)
	}
	return b.String()
}
