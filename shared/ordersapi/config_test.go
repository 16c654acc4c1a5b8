package ordersapi

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/zonepair"
)

func TestParseEnv(t *testing.T) {
	key := testKey().String()
	valid := map[string]string{
		"AWS_REGION":       "eu-west-1",
		"ORDERS_TABLE":     "homeregion-OrdersTable-1ABC",
		"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/homeregion-orders.fifo",
		"SITE_PUBLIC_KEY":  key,
	}
	// A malformed key must fail naming the variable without echoing it.
	truncated, notBase64 := key[:len(key)-10], "not-a-key!"+key[10:]
	tests := []struct {
		name    string
		change  map[string]string
		wantErr string // substring naming the variable; "" = valid
	}{
		{"valid", nil, ""},
		{"local endpoint queue", map[string]string{"ORDERS_QUEUE_URL": "http://127.0.0.1:5000/123456789012/orders.fifo"}, ""},
		{"no region", map[string]string{"AWS_REGION": ""}, "AWS_REGION is not set"},
		{"bad region", map[string]string{"AWS_REGION": "Europe"}, "AWS_REGION"},
		{"no table", map[string]string{"ORDERS_TABLE": ""}, "ORDERS_TABLE is not set"},
		{"bad table", map[string]string{"ORDERS_TABLE": "orders table!"}, "ORDERS_TABLE"},
		{"no queue", map[string]string{"ORDERS_QUEUE_URL": ""}, "ORDERS_QUEUE_URL is not set"},
		{"queue name not URL", map[string]string{"ORDERS_QUEUE_URL": "homeregion-orders"}, "ORDERS_QUEUE_URL"},
		{"queue URL without path", map[string]string{"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com"}, "ORDERS_QUEUE_URL"},
		{"standard queue", map[string]string{"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/homeregion-orders"}, "ORDERS_QUEUE_URL \"https://sqs.eu-west-1.amazonaws.com/123456789012/homeregion-orders\" is not a FIFO queue"},
		{"key with spaces around", map[string]string{"SITE_PUBLIC_KEY": "\n " + key + " \n"}, ""},
		{"no site key", map[string]string{"SITE_PUBLIC_KEY": ""}, "SITE_PUBLIC_KEY is not set"},
		{"blank site key", map[string]string{"SITE_PUBLIC_KEY": "  "}, "SITE_PUBLIC_KEY is not set"},
		{"truncated site key", map[string]string{"SITE_PUBLIC_KEY": truncated}, "SITE_PUBLIC_KEY"},
		{"site key not base64url", map[string]string{"SITE_PUBLIC_KEY": notBase64}, "SITE_PUBLIC_KEY"},
		{"site key padded base64", map[string]string{"SITE_PUBLIC_KEY": key + "=="}, "SITE_PUBLIC_KEY"},
		{"paired", map[string]string{"PAIR_REGION": "eu-central-1"}, ""},
		{"pair none", map[string]string{"PAIR_REGION": "none"}, ""},
		{"partner outside the zone", map[string]string{"PAIR_REGION": "us-east-1"}, "PAIR_REGION"},
		{"partner is this region", map[string]string{"PAIR_REGION": "eu-west-1"}, "PAIR_REGION"},
		{"partner not a region", map[string]string{"PAIR_REGION": "Frankfurt"}, "PAIR_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range valid {
				env[k] = v
			}
			for k, v := range tt.change {
				env[k] = v
			}
			c, err := ParseEnv(func(k string) string { return env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseEnv: %v", err)
				}
				if c.Region != env["AWS_REGION"] || c.Table != env["ORDERS_TABLE"] || c.QueueURL != env["ORDERS_QUEUE_URL"] ||
					c.SiteKey.String() != key || c.SiteKey.KeyID() != testKey().KeyID() {
					t.Fatalf("config %s %s %s, key id %q", c.Region, c.Table, c.QueueURL, c.SiteKey.KeyID())
				}
				wantPartner := env["PAIR_REGION"]
				if wantPartner == "none" {
					wantPartner = ""
				}
				if c.Pair.Region != c.Region || c.Pair.Partner != wantPartner {
					t.Fatalf("pair %+v, want %s with partner %q", c.Pair, c.Region, wantPartner)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
			if v := env["SITE_PUBLIC_KEY"]; len(v) > 16 && strings.Contains(err.Error(), strings.TrimSpace(v)[:16]) {
				t.Fatalf("err = %v echoes SITE_PUBLIC_KEY's value", err)
			}
		})
	}
}

func TestNewRefusesBadWiring(t *testing.T) {
	st, q := &fakeStore{}, &countQueue{}
	tests := []struct {
		name   string
		region string
		key    sealed.PublicKey
		st     Store
		q      Queue
		want   string
	}{
		{"bad region", "Europe", testKey(), st, q, "invalid region"},
		{"no key", testRegion, sealed.PublicKey{}, st, q, "no site public key"},
		{"no store", testRegion, testKey(), nil, q, "no Store"},
		{"no queue", testRegion, testKey(), st, nil, "no Queue"},
	}
	for _, p := range []zonepair.Pair{{Region: testRegion, Partner: "Frankfurt"}, {Region: testRegion, Partner: testRegion}, {Partner: "eu-central-1"}} {
		if h, err := NewForPair(p, testKey(), st, q, nil); err == nil {
			t.Errorf("NewForPair(%+v) = %v, want an error", p, h)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := New(tt.region, tt.key, tt.st, tt.q, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want an error naming %q", h, err, tt.want)
			}
		})
	}
	if h, err := New(testRegion, testKey(), st, q, nil); err != nil || h.log == nil {
		t.Fatalf("New = %+v, %v; want a Handler with the default logger", h, err)
	}
}

func TestNewFromAWS(t *testing.T) {
	awscfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")}
	c := Config{Region: "eu-west-1", Table: "orders", QueueURL: "http://127.0.0.1:1/0/orders.fifo", SiteKey: testKey()}
	h, err := NewFromAWS(c, awscfg, logging.Discard())
	if err != nil || h.region != c.Region || h.key != c.SiteKey || h.store == nil || h.queue == nil {
		t.Fatalf("NewFromAWS = %+v, %v", h, err)
	}
	if _, ok := h.store.(*DynamoStore); !ok || h.pair.Paired() || h.pair.Region != c.Region {
		t.Fatalf("unpaired: store %T, pair %+v; want *DynamoStore, unpaired", h.store, h.pair)
	}
	// Paired: the pair table has no transactions, so the Store is the
	// PairStore, and the handler serves the partner's users.
	c.Pair = zonepair.Pair{Region: "eu-west-1", Partner: "eu-central-1", Witness: "eu-west-3"}
	h, err = NewFromAWS(c, awscfg, logging.Discard())
	if err != nil {
		t.Fatalf("NewFromAWS paired: %v", err)
	}
	if _, ok := h.store.(*PairStore); !ok || h.pair != c.Pair || h.region != "eu-west-1" {
		t.Fatalf("paired: store %T, pair %+v, region %s; want *PairStore, the pair, eu-west-1", h.store, h.pair, h.region)
	}
	c.Region = "eu-central-1"
	if _, err := NewFromAWS(c, awscfg, logging.Discard()); err == nil {
		t.Fatal("NewFromAWS with a pair of another region: no error")
	}
}
