package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/sealed"
)

func TestHandleOperatorRequest(t *testing.T) {
	fx := newFixture(t)
	h := NewHandler(fx.w)
	ctx := context.Background()
	invoke := func(payload string) (any, error) { return h.Handle(ctx, json.RawMessage(payload)) }

	out, err := invoke(`{"email":"` + emailA + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := out.(Response)
	if !ok || r.ErasureID == "" || r.Status != string(ordertable.ErasureAccepted) {
		t.Fatalf("operator request = %#v", out)
	}
	e, err := ordertable.GetErasure(ctx, fx.db, fx.table, subA)
	if err != nil || e.ID != r.ErasureID || e.Via != ordertable.ViaOperator {
		t.Fatalf("erasure record = %+v, %v; want %s via operator", e, err, r.ErasureID)
	}
	// Repeated: the same erasure.
	out, err = invoke(`{"email":"` + emailA + `"}`)
	if err != nil || out.(Response).ErasureID != r.ErasureID {
		t.Fatalf("repeated request = %#v, %v; want %s", out, err, r.ErasureID)
	}
	for _, tt := range []struct {
		name, payload string
		want          error
	}{
		{"no such user", `{"email":"nobody.here@example.com"}`, ErrNoUser},
		{"a quote would change the filter", `{"email":"a\"@example.com"}`, ErrBadEmail},
		{"empty", `{"email":" "}`, ErrBadEmail},
		{"neither schedule nor operator", `{"hello":"world"}`, ErrUnknownEvent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := invoke(tt.payload)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Handle(%s) = %v, want %v", tt.payload, err, tt.want)
			}
			if strings.Contains(err.Error(), "example.com") {
				t.Errorf("the error names the address: %v", err)
			}
		})
	}
	if _, err := invoke(`not json`); err == nil {
		t.Error("a payload that is not JSON was accepted")
	}
	if strings.Contains(fx.logs.String(), emailA) || strings.Contains(fx.logs.String(), subA) {
		t.Errorf("the logs name the user:\n%s", fx.logs)
	}
}

func TestHandleScheduledEvent(t *testing.T) {
	fx := newFixture(t)
	fx.request()
	h := NewHandler(fx.w)
	ev := `{"version":"0","id":"e","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-30T10:00:00Z","region":"eu-central-1","resources":["arn:aws:events:eu-central-1:123456789012:rule/r"],"detail":{}}`
	out, err := h.Handle(context.Background(), json.RawMessage(ev))
	if err != nil {
		t.Fatal(err)
	}
	if res, ok := out.(Result); !ok || res.Pending != 1 {
		t.Fatalf("scheduled run = %#v", out)
	}
	rec := fx.record()
	if s := rec[ordertable.AttrStatus].(*types.AttributeValueMemberS).Value; s != string(ordertable.ErasureInProgress) {
		t.Errorf("status after the first run = %s, want IN_PROGRESS", s)
	}
	// The record is younger than SettleAge: the orders step waits for the
	// owner index to catch up.
	done, _ := rec[ordertable.AttrDone].(*types.AttributeValueMemberSS)
	if done == nil || strings.Contains(strings.Join(done.Value, ","), StepOrders) || !strings.Contains(strings.Join(done.Value, ","), StepUser) {
		t.Errorf("done after the first run = %v, want the first three steps, not orders", done)
	}
}

func TestParseEnv(t *testing.T) {
	pub, err := sealed.GenerateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]string{
		"AWS_REGION": "eu-central-1", "ORDERS_TABLE": "orders", "ORDERS_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/orders.fifo",
		"ORDERS_DLQ_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/orders-dlq", "USER_POOL_ID": "eu-central-1_AbC123",
		"RESIDENCY_TABLE": "homeregion-residency-registry", "REGISTRY_REGION": "eu-west-1", "PII_KEY_ID": "alias/pii", "SITE_PUBLIC_KEY": pub.String(),
	}
	c, err := ParseEnv(func(k string) string { return good[k] })
	if err != nil || c.PoolID != "eu-central-1_AbC123" || c.DLQURL != good["ORDERS_DLQ_URL"] || c.SiteKey.KeyID() != pub.KeyID() {
		t.Fatalf("ParseEnv(good) = %+v, %v", c, err)
	}
	for name := range good {
		for _, bad := range []string{"", "not valid!"} {
			if name == "PII_KEY_ID" && bad != "" {
				bad = "alias/with space"
			}
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			env[name] = bad
			_, err := ParseEnv(func(k string) string { return env[k] })
			if err == nil || !strings.HasPrefix(err.Error(), name+" ") {
				t.Errorf("%s=%q: ParseEnv = %v, want an error naming %s", name, bad, err, name)
			}
		}
	}
	// Site messages carry FIFO attributes: a standard queue is refused.
	standard := map[string]string{"ORDERS_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/orders"}
	if _, err := ParseEnv(func(k string) string {
		if v, ok := standard[k]; ok {
			return v
		}
		return good[k]
	}); err == nil || !strings.Contains(err.Error(), "is not a FIFO queue") {
		t.Errorf("standard orders queue: ParseEnv = %v, want a FIFO queue error", err)
	}
}

// TestSampleEvents runs the events/ samples (for sam local invoke) through
// the runtime's JSON path (lambda.NewHandler(...).Invoke).
func TestSampleEvents(t *testing.T) {
	fx := newFixture(t)
	fx.pool.users["someone"] = &fakeUser{username: "someone", sub: "33333333-cccc-4ccc-8ccc-333333333333", email: "someone@example.com", enabled: true}
	h := lambda.NewHandler(NewHandler(fx.w).Handle)
	for _, tt := range []struct{ file, want string }{
		{"erasure-operator.json", `"status":"ACCEPTED"`},
		{"erasure-scheduled.json", `"pending":1`},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("../../events/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := h.Invoke(context.Background(), b)
			if err != nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("Invoke(%s) = %s, %v; want %s", tt.file, out, err, tt.want)
			}
		})
	}
}

// TestErrorsNeverNameTheUser: an SDK error that echoes the request (as a
// ListUsers filter error does) reaches the log or the operator without the
// sub or the address.
func TestErrorsNeverNameTheUser(t *testing.T) {
	fx := newFixture(t)
	fx.request()
	fx.w.Pool = echoPool{fx.pool}
	if _, err := fx.w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fx.logs.String(), "[redacted]") || strings.Contains(fx.logs.String(), subA) {
		t.Errorf("logs:\n%s\nwant the failure logged with the sub redacted", fx.logs)
	}
	_, err := fx.w.Request(context.Background(), emailB)
	if err == nil || strings.Contains(err.Error(), emailB) || !errors.Is(err, errInjected) {
		t.Errorf("Request error = %v, want the injected error without the address", err)
	}
}

// echoPool fails every ListUsers with an error quoting its filter.
type echoPool struct{ *fakePool }

func (p echoPool) ListUsers(_ context.Context, in *cip.ListUsersInput, _ ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	return nil, fmt.Errorf("invalid filter %s: %w", aws.ToString(in.Filter), errInjected)
}
