package pairlocal_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/pairlocal"
)

// The tests in this file run the proxy in front of a real moto_server with
// the real SDK clients, one per region, as the pair's functions use them.

func TestMain(m *testing.M) { mototest.Main(m) }

const (
	west    = "eu-west-1"    // the MRSC table's owning region
	central = "eu-central-1" // its partner
)

// pair is an MRSC table in moto and the proxy in front of it.
type pair struct {
	table string
	proxy *pairlocal.Proxy
	url   string
	srv   *mototest.Server
}

var tableSeq int
var tableMu sync.Mutex

// newPair creates a table in west's moto backend and serves the proxy with
// it as an MRSC table owned by west.
func newPair(t *testing.T) *pair {
	t.Helper()
	srv := mototest.Require(t)
	tableMu.Lock()
	tableSeq++
	name := fmt.Sprintf("pair-%d", tableSeq)
	tableMu.Unlock()
	createTable(t, dynamodb.NewFromConfig(srv.Config(west)), name)
	p, err := pairlocal.New(pairlocal.Config{Upstream: srv.URL, Tables: map[string]string{name: west}})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(p)
	t.Cleanup(h.Close)
	return &pair{table: name, proxy: p, url: h.URL, srv: srv}
}

func createTable(t *testing.T, db *dynamodb.Client, name string) {
	t.Helper()
	if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
}

// client is region's DynamoDB client through the proxy.
func (p *pair) client(region string) *dynamodb.Client {
	return dynamodb.NewFromConfig(p.srv.Config(region), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(p.url)
		o.RetryMaxAttempts = 1
	})
}

func item(pk, v string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "v": &ddbtypes.AttributeValueMemberS{Value: v}}
}

func key(pk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}}
}

// get reads pk with a strongly consistent read; "" when absent.
func get(t *testing.T, db *dynamodb.Client, table, pk string) string {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	v, _ := out.Item["v"].(*ddbtypes.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func TestWriteInOneRegionReadInTheOther(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	c, w := p.client(central), p.client(west)
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.table), Item: item("ORDER#1", "from-central")}); err != nil {
		t.Fatalf("PutItem in %s: %v", central, err)
	}
	if got := get(t, w, p.table, "ORDER#1"); got != "from-central" {
		t.Errorf("consistent read in %s = %q, want from-central", west, got)
	}
	if _, err := w.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(p.table), Key: key("ORDER#1"),
		UpdateExpression:          aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberS{Value: "from-west"}},
	}); err != nil {
		t.Fatalf("UpdateItem in %s: %v", west, err)
	}
	if got := get(t, c, p.table, "ORDER#1"); got != "from-west" {
		t.Errorf("consistent read in %s = %q, want from-west", central, got)
	}

	// Batches name the table in RequestItems.
	if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{
		p.table: {{PutRequest: &ddbtypes.PutRequest{Item: item("ORDER#2", "batch")}}},
	}}); err != nil {
		t.Fatalf("BatchWriteItem in %s: %v", central, err)
	}
	out, err := w.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
		p.table: {Keys: []map[string]ddbtypes.AttributeValue{key("ORDER#2")}, ConsistentRead: aws.Bool(true)},
	}})
	if err != nil {
		t.Fatalf("BatchGetItem in %s: %v", west, err)
	}
	if n := len(out.Responses[p.table]); n != 1 {
		t.Errorf("BatchGetItem in %s found %d items, want 1", west, n)
	}

	// Without the proxy, moto serves the region the call is signed for: the
	// table does not exist in eu-central-1's backend. This is what the
	// proxy's rewrite of the credential scope relies on.
	direct := dynamodb.NewFromConfig(p.srv.Config(central))
	_, err = direct.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.table), Key: key("ORDER#1")})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestOtherTablesStayRegional(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	name := p.table + "-regional"
	createTable(t, p.client(central), name) // through the proxy, signed for eu-central-1
	if _, err := dynamodb.NewFromConfig(p.srv.Config(central)).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
		t.Fatalf("the regional table is not in %s's backend: %v", central, err)
	}
	_, err := p.client(west).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	wantCode(t, err, "ResourceNotFoundException")
	// Transactions on a regional table pass.
	if _, err := p.client(central).TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: aws.String(name), Item: item("A", "tx")}},
	}}); err != nil {
		t.Fatalf("TransactWriteItems on a regional table: %v", err)
	}
	// Other services pass through too.
	q := sqs.NewFromConfig(p.srv.Config(central), func(o *sqs.Options) { o.BaseEndpoint = aws.String(p.url) })
	if _, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
		t.Fatalf("SQS through the proxy: %v", err)
	}
}

func TestConditionalWriteRaceHasOneWinner(t *testing.T) {
	p := newPair(t)
	clients := []*dynamodb.Client{p.client(west), p.client(central)}
	const racers = 8 // per region
	for round := range 5 {
		pk := fmt.Sprintf("CLAIM#%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won, lost int
		for i := range 2 * racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := clients[i%2].PutItem(context.Background(), &dynamodb.PutItemInput{
					TableName: aws.String(p.table), Item: item(pk, fmt.Sprint(i)),
					ConditionExpression: aws.String("attribute_not_exists(pk)"),
				})
				var ccf *ddbtypes.ConditionalCheckFailedException
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.As(err, &ccf):
					lost++
				default:
					t.Errorf("PutItem: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != 2*racers-1 {
			t.Errorf("round %d: %d winners, %d conditional check failures; want 1 and %d", round, won, lost, 2*racers-1)
		}
	}
}

func TestTransactionsAndTTLRefused(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	regional := p.table + "-regional"
	createTable(t, p.client(central), regional)
	for _, region := range []string{west, central} {
		db := p.client(region)
		t.Run(region, func(t *testing.T) {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
				{Put: &ddbtypes.Put{TableName: aws.String(regional), Item: item("T", "x")}},
				{Put: &ddbtypes.Put{TableName: aws.String(p.table), Item: item("T", "x")}},
			}})
			wantCode(t, err, "ValidationException")
			_, err = db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []ddbtypes.TransactGetItem{
				{Get: &ddbtypes.Get{TableName: aws.String(p.table), Key: key("T")}},
			}})
			wantCode(t, err, "ValidationException")
			_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(p.table),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)}})
			wantCode(t, err, "ValidationException")
		})
	}
	if got := get(t, p.client(west), p.table, "T"); got != "" {
		t.Errorf("the refused transaction wrote the MRSC table: v = %q", got)
	}
	if got := get(t, p.client(central), regional, "T"); got != "" {
		t.Errorf("the refused transaction wrote the regional table: v = %q", got)
	}
}

func TestDownRegionIsIsolated(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	w, c := p.client(west), p.client(central)
	p.proxy.SetDown(west, true)
	_, err := w.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.table), Item: item("D", "west")})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("PutItem in the down region: err = %v, want a 503", err)
	}
	// The owning region down does not take the table away from the partner.
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.table), Item: item("D", "central")}); err != nil {
		t.Fatalf("PutItem in %s while %s is down: %v", central, west, err)
	}
	p.proxy.SetDown(west, false)
	if got := get(t, w, p.table, "D"); got != "central" {
		t.Errorf("read in %s after it is back = %q, want central", west, got)
	}
}
