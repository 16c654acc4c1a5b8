package erasuretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordersapi"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/triggers"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// stack is a provisioned local deployment in moto: the template's resources
// in each region, every component built from its template environment.
type stack struct {
	t       *testing.T
	moto    *mototest.Server
	atomic  string // moto behind AtomicURL: the components' endpoint
	st      *provision.Stack
	keyFile string
	keys    *sealed.Keyring
	logs    *logtest.Buffer
	log     *slog.Logger
}

// newStack provisions regions (the first is the registry region) from
// template.yaml in a fresh moto.
func newStack(t *testing.T, regions ...string) *stack {
	t.Helper()
	srv := mototest.Require(t)
	srv.Reset(t)
	file, pub, keys := processortest.NewKey(t)
	defs, err := provision.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]map[string]string{}
	for _, r := range regions {
		params[r] = map[string]string{provision.SitePublicKeyParameter: pub.String()}
	}
	ctx := context.Background()
	st, err := provision.Apply(ctx, defs, provision.Options{Endpoint: srv.URL, Regions: regions, RegistryRegion: regions[0], RegionParameters: params})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	// The components race single-item writes (both sites ADD their
	// database to SITES at start; claims): DynamoDB applies each atomically,
	// moto does not, and a lost SITES entry would let an erasure complete
	// without that site's confirmation.
	return &stack{t: t, moto: srv, atomic: srv.AtomicURL(t), st: st, keyFile: file, keys: keys, logs: logs,
		log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// region returns the provisioned region.
func (s *stack) region(name string) *provision.Region {
	r := s.st.Region(name)
	if r == nil {
		s.t.Fatalf("no region %s", name)
	}
	return r
}

// env is what function logicalID sees in region as Lambda would run it:
// the template's variables, AWS_REGION, moto as the endpoint.
func (s *stack) env(region, logicalID string, extra map[string]string) func(string) string {
	vars := map[string]string{}
	if logicalID != "" {
		f, ok := s.region(region).Functions[logicalID]
		if !ok {
			s.t.Fatalf("template: no function %s", logicalID)
		}
		for k, v := range f.Env {
			if v != "" {
				vars[k] = v
			}
		}
	}
	for k, v := range extra {
		vars[k] = v
	}
	vars["AWS_REGION"] = region
	vars["AWS_ACCESS_KEY_ID"] = "testing"
	vars["AWS_SECRET_ACCESS_KEY"] = "testing"
	vars["AWS_ENDPOINT_URL"] = s.atomic
	return func(k string) string { return vars[k] }
}

// cfg is an SDK configuration for region against moto.
func (s *stack) cfg(region string) aws.Config { return s.moto.Config(region) }

// api is region's orders API, built by its function's cold start.
func (s *stack) api(region string) *ordersapi.Handler {
	s.t.Helper()
	h, err := ordersapi.Setup(context.Background(), s.env(region, "OrdersApiFunction", nil), s.log.With("component", region+"/orders-api"))
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// user creates a confirmed user with a verified address in region's pool and
// runs region's PostConfirmation trigger for it, as Cognito does on
// confirmation: the address is claimed for region. It returns the sub, and
// the trigger's error (another region holds the address).
func (s *stack) user(region, email, country string) (string, error) {
	s.t.Helper()
	out, err := cip.NewFromConfig(s.cfg(region)).AdminCreateUser(context.Background(), &cip.AdminCreateUserInput{
		UserPoolId: aws.String(s.region(region).UserPoolID), Username: aws.String(email), MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String(email)},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
			{Name: aws.String("custom:region"), Value: aws.String(region)},
			{Name: aws.String("custom:country"), Value: aws.String(country)},
		}})
	if err != nil {
		return "", fmt.Errorf("admin create user: %w", err)
	}
	return s.confirm(region, aws.ToString(out.User.Username), out.User.Attributes)
}

// confirm runs region's PostConfirmation trigger for the pool's user
// username with attributes attrs; it returns the sub and the trigger's error.
func (s *stack) confirm(region, username string, attrs []ciptypes.AttributeType) (string, error) {
	s.t.Helper()
	ctx := context.Background()
	m := map[string]string{}
	for _, a := range attrs {
		m[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	h, err := triggers.Build(ctx, "postconfirmation", s.env(region, "PostConfirmationFunction", nil), s.log.With("component", region+"/triggers"), triggers.NewPostConfirmation)
	if err != nil {
		s.t.Fatal(err)
	}
	ev := events.CognitoEventUserPoolsPostConfirmation{}
	ev.TriggerSource = "PostConfirmation_ConfirmSignUp"
	ev.Region = region
	ev.UserPoolID = s.region(region).UserPoolID
	ev.UserName = username
	ev.Request.UserAttributes = m
	_, err = h.Handle(ctx, ev)
	return m["sub"], err
}

// request is an HTTP API (payload v2) request as API Gateway passes it after
// its JWT authorizer accepted an ID token of sub in region.
func request(method, path, sub, region string, headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RawPath: path, Headers: headers, Body: body}
	req.RequestContext.HTTP.Method = method
	req.RequestContext.HTTP.Path = path
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
			Claims: map[string]string{"sub": sub, "custom:region": region, "token_use": "id"}}}
	return req
}

// orderBody is a valid order.
const orderBody = `{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"Erika Mustermann","line1":"Hauptstr. 1","city":"Berlin","postalCode":"10115","country":"DE"}}`

// call serves req and decodes the JSON answer into a map.
func call(t *testing.T, h *ordersapi.Handler, req events.APIGatewayV2HTTPRequest) (int, map[string]any) {
	t.Helper()
	resp, err := h.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
		t.Fatalf("answer %d %q: %v", resp.StatusCode, resp.Body, err)
	}
	return resp.StatusCode, m
}

// post places an order for sub in region with Idempotency-Key key.
func post(t *testing.T, h *ordersapi.Handler, sub, region, key string) (int, map[string]any) {
	t.Helper()
	return call(t, h, request("POST", "/orders", sub, region,
		map[string]string{"content-type": "application/json", "idempotency-key": key}, orderBody))
}

// site is one on-prem site database with a processor that can be started
// and stopped (a site offline).
type site struct {
	s      *stack
	region string
	name   string
	dsn    string
	store  orderstore.Store
	cancel context.CancelFunc
	done   chan error
}

// newSite opens a SQLite site database for region.
func (s *stack) newSite(region, name string) *site {
	s.t.Helper()
	dsn := filepath.Join(s.t.TempDir(), name+".db")
	st, err := orderstore.Open(context.Background(), dsn)
	if err != nil {
		s.t.Fatal(err)
	}
	x := &site{s: s, region: region, name: name, dsn: dsn, store: st}
	s.t.Cleanup(func() { x.stop(); st.Close() })
	return x
}

// start runs the site's processor, built as the container builds it.
func (x *site) start() {
	t := x.s.t
	t.Helper()
	if x.cancel != nil {
		return
	}
	r := x.s.region(x.region)
	env := x.s.env(x.region, "", map[string]string{
		"ORDERS_QUEUE_URL": r.OrdersQueueURL, "ORDERS_TABLE": r.OrdersTable, "SITE_NAME": x.name,
		"SITE_KEY_FILE": x.s.keyFile, "WAIT_TIME": "1s", "VISIBILITY_TIMEOUT": "5s", "DRAIN_TIMEOUT": "2s",
	})
	pc, err := processor.ParseEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	awscfg, err := awsconfig.Load(context.Background(), x.region, env, pc.SDKOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, err := processor.NewFromAWS(pc, awscfg, env, x.store, x.s.keys, processor.Extensions{}, x.s.log.With("component", x.name))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel, x.done = cancel, make(chan error, 1)
	go func() { x.done <- p.Run(ctx) }()
}

// stop stops the site's processor (it drains) and waits for it.
func (x *site) stop() {
	if x.cancel == nil {
		return
	}
	x.cancel()
	if err := <-x.done; err != nil && !errors.Is(err, context.Canceled) {
		x.s.t.Errorf("%s: processor: %v", x.name, err)
	}
	x.cancel = nil
}

// rows returns the ids of the site's order rows of owner (a UUID: quoted
// safely) and the erasure ids of its tombstones of owner.
func (x *site) rows(owner string) (ids, tombstones []string) {
	x.s.t.Helper()
	ctx := context.Background()
	tb := orderstoretest.OpenTable(x.s.t, x.dsn)
	ids, err := tb.Strings(ctx, `SELECT order_id FROM orders WHERE owner = '`+owner+`'`)
	if err != nil {
		x.s.t.Fatal(err)
	}
	tombstones, err = tb.Strings(ctx, `SELECT erasure_id FROM erased_owners WHERE pseudonym = '`+orders.Pseudonym(owner)+`'`)
	if err != nil {
		x.s.t.Fatal(err)
	}
	return ids, tombstones
}

// ownerItems lists the keys of every orders table item of owner (a scan:
// the test does not trust the index the worker uses).
func (s *stack) ownerItems(region, owner string) []string {
	s.t.Helper()
	db := dynamodb.NewFromConfig(s.cfg(region))
	var keys []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(s.region(region).OrdersTable)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			s.t.Fatal(err)
		}
		for _, it := range out.Items {
			if o, ok := it["owner"].(*ddbtypes.AttributeValueMemberS); ok && o.Value == owner {
				keys = append(keys, it["pk"].(*ddbtypes.AttributeValueMemberS).Value)
			}
		}
	}
	return keys
}

// queueBodies returns the bodies of every message in queue url, leaving
// them in the queue (visible again once the peek's 1 s timeout passes).
func (s *stack) queueBodies(region, url string) []string {
	s.t.Helper()
	q := sqs.NewFromConfig(s.cfg(region))
	var bodies []string
	seen := map[string]bool{}
	for range 20 {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			MaxNumberOfMessages: 10, VisibilityTimeout: 2, WaitTimeSeconds: 0})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				bodies = append(bodies, aws.ToString(m.Body))
			}
		}
	}
	return bodies
}

// mentions counts the bodies that carry s.
func mentions(bodies []string, s string) int {
	n := 0
	for _, b := range bodies {
		if strings.Contains(b, s) {
			n++
		}
	}
	return n
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
