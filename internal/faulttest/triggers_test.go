package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/residency"
	"github.com/homeregion/homeregion/shared/triggers"
)

// cognitoLimit is how long Cognito waits for a trigger; the handlers must
// answer inside it whatever the SDK's retries do.
const cognitoLimit = 5 * time.Second

// budgetSlack is what the test tolerates above triggers.DefaultBudget on a
// loaded machine (still well inside cognitoLimit).
const budgetSlack = 600 * time.Millisecond

type triggerFault struct {
	name      string
	op        string
	fault     faultproxy.Fault
	wantAllow bool
}

var triggerFaults = []triggerFault{
	{"no fault", "", faultproxy.Fault{}, true},
	{"latency 300ms", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Latency, Delay: 300 * time.Millisecond}, true},
	{"throttled once", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Throttle, Times: 1}, true},
	{"5xx once", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Status, Code: 500, Times: 1}, true},
	{"throttled always", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Throttle}, false},
	{"provisioned throughput exceeded always", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Throttle, ErrorCode: "ProvisionedThroughputExceededException"}, false},
	{"503 always", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Status, Code: 503}, false},
	{"connection reset always", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Reset}, false},
	{"black hole", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.BlackHole}, false},
}

func triggerDeps(t *testing.T) (*residency.Policy, *identity.Keys) {
	t.Helper()
	p, err := residency.Default()
	if err != nil {
		t.Fatal(err)
	}
	k, err := identity.FromSecret([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return p, k
}

func claimed(t *testing.T, db *dynamodb.Client, table, key string) bool {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{registry.AttrKey: &ddbtypes.AttributeValueMemberS{Value: key}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item != nil
}

// TestTriggersFailClosedWithinBudget runs PreSignUp, PostConfirmation and
// PreAuth with their production SDK options through each fault: transient
// faults are absorbed (allow), persistent ones deny with the short
// "temporarily unavailable" message, and every answer comes within the
// budget.
func TestTriggersFailClosedWithinBudget(t *testing.T) {
	srv := mototest.Require(t)
	direct := dynamodb.NewFromConfig(srv.Config(region))
	table := unique("registry")
	mototest.CreateTable(t, direct, "RegistryTable", table)
	pol, keys := triggerDeps(t)
	for _, tc := range triggerFaults {
		t.Run("PreSignUp/"+tc.name, func(t *testing.T) {
			t.Parallel()
			p := proxy(t, srv)
			cfg := via(t, p, triggers.SDKOptions)
			db := dynamodb.NewFromConfig(cfg)
			h := newTrigger(t, triggers.NewPreSignUp, region, pol, keys, registry.New(table, region, region, db, db, pol.Version()))
			email := unique("signup") + "@example.com"
			if tc.op != "" {
				p.Add(tc.op, tc.fault)
			}
			ev, _ := json.Marshal(events.CognitoEventUserPoolsPreSignup{
				CognitoEventUserPoolsHeader: events.CognitoEventUserPoolsHeader{Version: "1", TriggerSource: triggers.SourceSignUp, Region: region, UserPoolID: region + "_x", UserName: "u"},
				Request:                     events.CognitoEventUserPoolsPreSignupRequest{UserAttributes: map[string]string{"email": email, "custom:region": region, "custom:country": "DE"}},
			})
			start := time.Now()
			_, err := lambda.NewHandler(h).Invoke(context.Background(), ev)
			elapsed := time.Since(start)
			checkAnswer(t, tc, err, elapsed, triggers.SignUpUnavailable)
			key, _ := keys.Key(context.Background(), email)
			if seen, _ := p.Count("PutItem"); seen != 0 || claimed(t, direct, table, key) {
				t.Errorf("PreSignUp wrote to the registry (%d PutItem): a claim before the address is verified", seen)
			}
		})
		t.Run("PostConfirmation/"+tc.name, func(t *testing.T) {
			t.Parallel()
			p := proxy(t, srv)
			cfg := via(t, p, triggers.SDKOptions)
			db := dynamodb.NewFromConfig(cfg)
			h := newTrigger(t, triggers.NewPostConfirmation, region, pol, keys, registry.New(table, region, region, db, db, pol.Version()))
			email := unique("confirm") + "@example.com"
			if tc.op != "" {
				p.Add(tc.op, tc.fault)
			}
			ev, _ := json.Marshal(events.CognitoEventUserPoolsPostConfirmation{
				CognitoEventUserPoolsHeader: events.CognitoEventUserPoolsHeader{Version: "1", TriggerSource: triggers.SourceConfirmSignUp, Region: region, UserPoolID: region + "_x", UserName: "u"},
				Request: events.CognitoEventUserPoolsPostConfirmationRequest{UserAttributes: map[string]string{
					"email": email, "email_verified": "true", "custom:region": region, "custom:country": "DE", "cognito:user_status": "CONFIRMED"}},
			})
			start := time.Now()
			_, err := lambda.NewHandler(h).Invoke(context.Background(), ev)
			checkAnswer(t, tc, err, time.Since(start), triggers.ConfirmUnavailable)
			key, _ := keys.Key(context.Background(), email)
			_, forwarded := p.Count("PutItem")
			if tc.wantAllow && !claimed(t, direct, table, key) {
				t.Error("confirmed but no claim in the registry")
			}
			if !tc.wantAllow && forwarded == 0 && claimed(t, direct, table, key) {
				t.Error("a claim exists although no write reached the registry")
			}
		})
		t.Run("PreAuth/"+tc.name, func(t *testing.T) {
			t.Parallel()
			p := proxy(t, srv)
			cfg := via(t, p, triggers.SDKOptions)
			db := dynamodb.NewFromConfig(cfg)
			reg := registry.New(table, region, region, db, db, pol.Version())
			email := unique("signin") + "@example.com"
			key, _ := keys.Key(context.Background(), email)
			// The user's claim is made directly (no faults), in this region.
			if _, _, err := registry.New(table, region, region, direct, direct, pol.Version()).Claim(context.Background(), key, region); err != nil {
				t.Fatal(err)
			}
			h := newTrigger(t, triggers.NewPreAuth, region, pol, keys, reg)
			if tc.op != "" {
				p.Add(tc.op, tc.fault)
			}
			ev, _ := json.Marshal(events.CognitoEventUserPoolsPreAuthentication{
				CognitoEventUserPoolsHeader: events.CognitoEventUserPoolsHeader{Version: "1", TriggerSource: triggers.SourceAuthentication, Region: region, UserPoolID: region + "_x", UserName: "u"},
				Request:                     events.CognitoEventUserPoolsPreAuthenticationRequest{UserAttributes: map[string]string{"email": email, "custom:region": region, "custom:country": "DE"}},
			})
			start := time.Now()
			_, err := lambda.NewHandler(h).Invoke(context.Background(), ev)
			checkAnswer(t, tc, err, time.Since(start), triggers.SignInUnavailable)
		})
	}
}

func checkAnswer(t *testing.T, tc triggerFault, err error, elapsed time.Duration, unavailable string) {
	t.Helper()
	for _, p := range answerProblems(tc, err, elapsed, unavailable) {
		t.Error(p)
	}
	t.Logf("%s: %v after %s", tc.name, fmt.Sprint(err), elapsed.Round(time.Millisecond))
}

// answerProblems lists how a trigger's answer breaks the budget or fails open.
func answerProblems(tc triggerFault, err error, elapsed time.Duration, unavailable string) []string {
	var ps []string
	if limit := triggers.DefaultBudget + budgetSlack; elapsed > limit || elapsed >= cognitoLimit {
		ps = append(ps, fmt.Sprintf("answered after %s, budget %s (Cognito gives up at %s)", elapsed.Round(time.Millisecond), triggers.DefaultBudget, cognitoLimit))
	}
	switch {
	case tc.wantAllow && err != nil:
		ps = append(ps, fmt.Sprintf("denied under %q: %v", tc.name, err))
	case !tc.wantAllow && err == nil:
		ps = append(ps, fmt.Sprintf("allowed under %q: fails open", tc.name))
	case !tc.wantAllow && err.Error() != unavailable:
		ps = append(ps, fmt.Sprintf("denial message %q, want the short %q", err, unavailable))
	}
	return ps
}

// TestTriggerCheckCatchesBrokenAnswers proves the check above can fail: a
// handler that fails open, leaks internals, or answers too late is caught.
func TestTriggerCheckCatchesBrokenAnswers(t *testing.T) {
	down := triggerFault{name: "black hole", wantAllow: false}
	tests := map[string]struct {
		err     error
		elapsed time.Duration
	}{
		"fails open":          {nil, time.Second},
		"leaks the SDK error": {errors.New("operation error DynamoDB: PutItem, https response error StatusCode: 503"), time.Second},
		"too late":            {errors.New(triggers.SignUpUnavailable), 5 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if len(answerProblems(down, tc.err, tc.elapsed, triggers.SignUpUnavailable)) == 0 {
				t.Error("not caught")
			}
		})
	}
	if ps := answerProblems(down, errors.New(triggers.SignUpUnavailable), time.Second, triggers.SignUpUnavailable); len(ps) != 0 {
		t.Errorf("a correct denial flagged: %v", ps)
	}
}

// newTrigger builds a trigger handler through its constructor (logs discarded).
func newTrigger[T any](tb testing.TB, newHandler func(triggers.Config, triggers.Deps, *slog.Logger) (T, error), region string, p *residency.Policy, keys triggers.Keyer, reg triggers.Registry) T {
	tb.Helper()
	h, err := newHandler(triggers.Config{Region: region}, triggers.Deps{Policy: p, Keys: keys, Registry: reg}, logging.Discard())
	if err != nil {
		tb.Fatal(err)
	}
	return h
}
