package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/sealed"
)

// callCounter counts the AWS operations made through a config (retries
// are one operation).
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.calls[awsmiddleware.GetServiceID(ctx)+" "+awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
}

func (c *callCounter) snapshot() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, n := map[string]int{}, 0
	for k, v := range c.calls {
		out[k] = v
		n += v
	}
	return out, n
}

// TestErasureOnMoto runs the worker as deployed (its environment from the
// template, provisioned on moto; the real SDK clients) until an erasure
// requested by the operator completes, with a site that opens the sealed
// message and confirms: every place of the erased user is clean, the other
// user's data untouched, and no log line names the user.
func TestErasureOnMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	const home, regRegion = "us-east-1", "eu-west-1"
	keyFile := filepath.Join(t.TempDir(), "site.key")
	pub, err := sealed.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := sealed.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := provision.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := provision.Apply(ctx, defs, provision.Options{Endpoint: srv.URL, Regions: []string{regRegion, home}, RegistryRegion: regRegion,
		StackName:  fmt.Sprintf("erasure%d", time.Now().UnixNano()%1e9),
		Parameters: map[string]string{provision.SitePublicKeyParameter: pub.String()}})
	if err != nil {
		t.Fatal(err)
	}
	r := st.Region(home)
	fn, ok := r.Functions["ErasureFunction"]
	if !ok {
		t.Fatal("the template's ErasureFunction was not provisioned")
	}
	env := map[string]string{"AWS_REGION": home, "AWS_ENDPOINT_URL": srv.URL, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
	for k, v := range fn.Env {
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	logs, metrics := &logtest.Buffer{}, &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := Setup(ctx, getenv, log); err != nil {
		t.Fatalf("Setup from the template's environment: %v", err)
	}
	// Setup's very steps, with a counter on the one aws.Config.
	c, err := ParseEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, SDKOptions)
	if err != nil {
		t.Fatal(err)
	}
	counter := &callCounter{calls: map[string]int{}}
	counter.install(&awscfg)
	w := NewFromAWS(c, awscfg, log)
	w.Metrics = metrics
	h := NewHandler(w)

	// The test's own clients (not counted).
	base := srv.Config(home)
	pool := cip.NewFromConfig(base)
	db := dynamodb.NewFromConfig(base)
	q := sqs.NewFromConfig(base)
	localReg, homeReg := registry.Clients(base, regRegion)
	reg := registry.New(c.RegistryTable, home, regRegion, localReg, homeReg, "v1")
	keys := identity.New(kms.NewFromConfig(base), c.PIIKeyID)

	type person struct{ email, sub, key string }
	people := map[string]*person{"erased": {email: "erin.erased@example.com"}, "kept": {email: "kurt.kept@example.com"}}
	for _, p := range people {
		if _, err := pool.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(c.PoolID), Username: aws.String(p.email),
			MessageAction: ciptypes.MessageActionTypeSuppress, UserAttributes: []ciptypes.AttributeType{
				{Name: aws.String("email"), Value: aws.String(p.email)}, {Name: aws.String("email_verified"), Value: aws.String("true")}}}); err != nil {
			t.Fatal(err)
		}
		u, err := pool.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(c.PoolID), Username: aws.String(p.email)})
		if err != nil {
			t.Fatal(err)
		}
		p.sub = attr(u.UserAttributes, "sub")
		if p.key, err = keys.Key(ctx, p.email); err != nil {
			t.Fatal(err)
		}
		if _, created, err := reg.Claim(ctx, p.key, home); err != nil || !created {
			t.Fatalf("claim: %v, %v", created, err)
		}
		now := time.Now().UTC()
		if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			ordertable.Create(c.Table, ordertable.Order{ID: "order-" + p.sub, Owner: p.sub, Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now}),
		}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(c.Table), Item: map[string]types.AttributeValue{
			ordertable.AttrPK: ddbattr.S(ordertable.IdemKey(p.sub, "k1")), ordertable.AttrOwner: ddbattr.S(p.sub), ordertable.AttrOrderID: ddbattr.S("order-" + p.sub),
		}}); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"version":2,"orderId":"order-%s","region":%q,"owner":%q,"createdAt":%q,"sealed":{"kid":"k","ct":"c"}}`, p.sub, home, p.sub, now.Format(time.RFC3339))
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(c.DLQURL), MessageBody: aws.String(body),
			MessageGroupId: aws.String("order-" + p.sub), MessageDeduplicationId: aws.String("order-" + p.sub)}); err != nil {
			t.Fatal(err)
		}
	}
	const siteDB = "site-primary/db"
	if err := ordertable.RegisterSite(ctx, db, c.Table, siteDB); err != nil {
		t.Fatal(err)
	}
	erased, kept := people["erased"], people["kept"]

	// The operator's command, then the schedule every 500 ms (instead of a
	// minute) with the site polling the orders queue in between (waiting 1 s
	// when it is empty: the queue's own default is a 20 s long poll).
	start := time.Now()
	out, err := h.Handle(ctx, json.RawMessage(`{"email":"`+erased.email+`"}`))
	if err != nil {
		t.Fatalf("operator request: %v", err)
	}
	resp := out.(Response)
	scheduled := json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`)
	var runs int
	for {
		runs++
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		if _, err := h.Handle(rctx, scheduled); err != nil {
			t.Fatalf("run %d: %v", runs, err)
		}
		cancel()
		site(t, q, db, ring, c, siteDB)
		e, err := ordertable.GetErasure(ctx, db, c.Table, erased.sub)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status == ordertable.ErasureCompleted {
			break
		}
		if time.Since(start) > 45*time.Second {
			t.Fatalf("not COMPLETED after %s (%d runs): %+v; logs:\n%s", time.Since(start), runs, e, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	took := time.Since(start)
	calls, total := counter.snapshot()
	names := make([]string, 0, len(calls))
	for k := range calls {
		names = append(names, fmt.Sprintf("%s=%d", k, calls[k]))
	}
	sort.Strings(names)
	t.Logf("erasure %s COMPLETED in %s (%d scheduled runs); %d AWS calls: %s", resp.ErasureID, took.Round(time.Millisecond), runs, total, strings.Join(names, " "))

	// The pool: the erased user is gone, the other enabled.
	_, err = pool.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(c.PoolID), Username: aws.String(erased.email)})
	var nf *ciptypes.UserNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("the erased user: AdminGetUser = %v, want UserNotFoundException", err)
	}
	if u, err := pool.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(c.PoolID), Username: aws.String(kept.email)}); err != nil || !u.Enabled {
		t.Errorf("the other user: %v, %v", u, err)
	}
	// The registry: the claim is released in the registry region only.
	if _, ok, err := reg.LookupRegistry(ctx, erased.key); err != nil || ok {
		t.Errorf("the erased user's claim: %v, %v; want none", ok, err)
	}
	if rec, ok, err := reg.LookupRegistry(ctx, kept.key); err != nil || !ok || rec.HomeRegion != home {
		t.Errorf("the other user's claim: %+v, %v, %v", rec, ok, err)
	}
	// The orders table: nothing of the owner, a tombstone, the other's kept.
	if keys, err := ordertable.OwnerItems(ctx, db, c.Table, erased.sub, 0); err != nil || len(keys) != 0 {
		t.Errorf("the erased user's items: %v, %v", keys, err)
	}
	if keys, err := ordertable.OwnerItems(ctx, db, c.Table, kept.sub, 0); err != nil || len(keys) != 2 {
		t.Errorf("the other user's items: %v, %v; want 2", keys, err)
	}
	tomb, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), Key: ddbattr.Key(ordertable.AttrPK, ordertable.OrderKey("order-"+erased.sub)), ConsistentRead: aws.Bool(true)})
	if err != nil || ddbattr.NewReader(tomb.Item).S(ordertable.AttrStatus) != string(orders.StatusErased) || tomb.Item[ordertable.AttrOwner] != nil {
		t.Errorf("the erased user's order = %v, %v; want a tombstone", tomb, err)
	}
	// The record: the proof, and nothing of the person.
	recOut, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), Key: ddbattr.Key(ordertable.AttrPK, ordertable.ErasureKey(erased.sub)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{erased.sub, erased.email, erased.key} {
		if strings.Contains(fmt.Sprint(recOut.Item), s) {
			t.Errorf("the completed record contains %q", s)
		}
	}
	want := map[string]string{KindPoolUser: "1", KindRegistryClaim: "1", KindOrders: "1", KindIdempotency: "1", KindSites: "1", KindDLQ: "1"}
	if got := counts(t, recOut.Item); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	// The DLQ: only the other user's message, visible again.
	dl, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.DLQURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(dl.Messages) != 1 || !strings.Contains(aws.ToString(dl.Messages[0].Body), kept.sub) {
		t.Errorf("DLQ holds %d messages, want only the other user's: %v", len(dl.Messages), dl.Messages)
	}
	// The logs: never the e-mail, the sub or the username.
	for _, s := range []string{erased.email, erased.sub, kept.email, kept.sub} {
		if strings.Contains(logs.String(), s) || strings.Contains(metrics.String(), s) {
			t.Errorf("a log line contains %q", s)
		}
	}
	if !strings.Contains(metrics.String(), `"OldestPendingErasureAgeSeconds"`) {
		t.Error("no EMF metric line")
	}
}

// site is the site's processor, for the erasure messages only: it opens
// each, confirms it for its database (ordertable.ConfirmErasure), and
// deletes it.
func site(t *testing.T, q *sqs.Client, db *dynamodb.Client, ring *sealed.Keyring, c Config, dbID string) {
	t.Helper()
	ctx := context.Background()
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.QueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Messages {
		var se orders.SealedErasure
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &se); err != nil || se.Version != orders.ErasureVersion {
			t.Fatalf("unexpected message in the orders queue: %v", err)
		}
		if a, ok := m.MessageAttributes[orders.MessageAttrErasureID]; !ok || aws.ToString(a.StringValue) != se.ErasureID {
			t.Errorf("message attribute erasureId = %v, want %s", m.MessageAttributes, se.ErasureID)
		}
		e, err := ring.OpenErasure(se)
		if err != nil {
			t.Fatal(err)
		}
		if err := ordertable.ConfirmErasure(ctx, db, c.Table, e.ErasureID, dbID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(c.QueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
}
