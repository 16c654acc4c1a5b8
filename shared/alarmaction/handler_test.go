package alarmaction

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/alarm"
)

const arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:primary-api-5xx"

// step is one delivery to the handler and what it must lead to.
type step struct {
	advance time.Duration
	payload json.RawMessage
	want    string // outcome
}

func run(t *testing.T, h *Handler, c *clock, steps []step) {
	t.Helper()
	for i, s := range steps {
		c.advance(s.advance)
		r, err := h.Process(context.Background(), s.payload)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if r.Outcome != s.want {
			t.Fatalf("step %d: outcome %s (%s), want %s", i, r.Outcome, r.Reason, s.want)
		}
	}
}

func TestFailoverHandler(t *testing.T) {
	tests := []struct {
		name     string
		fb       Failback
		steps    func(c *clock) []step
		wantSets []bool
	}{
		{"alarm inverts once despite duplicate delivery", FailbackAuto, func(c *clock) []step {
			ts := c.at(0)
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, ts), OutcomeActed},
				{time.Second, event(arn, alarm.StateOK, alarm.StateAlarm, ts), OutcomeDuplicate},
				{time.Second, snsEvent(arn, alarm.StateOK, alarm.StateAlarm, ts), OutcomeDuplicate},
			}
		}, []bool{true}},
		{"alarm ok alarm inside hold-down: no flapping", FailbackAuto, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed},
				{0, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(2*time.Minute)), OutcomeHeld},
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(4*time.Minute)), OutcomeHeld},
				{5 * time.Minute, json.RawMessage(tick), OutcomeHeld},
			}
		}, []bool{true}},
		{"ok after hold-down fails back", FailbackAuto, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed},
				{11 * time.Minute, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(11*time.Minute)), OutcomeActed},
			}
		}, []bool{true, false}},
		{"early ok fails back on the first tick past hold-down", FailbackAuto, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed},
				{time.Minute, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(time.Minute)), OutcomeHeld},
				{5 * time.Minute, json.RawMessage(tick), OutcomeHeld},
				{5 * time.Minute, json.RawMessage(tick), OutcomeActed},
				{time.Minute, json.RawMessage(tick), OutcomeHeld},
			}
		}, []bool{true, false}},
		{"manual never fails back", FailbackManual, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed},
				{time.Hour, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(time.Hour)), OutcomeHeld},
				{time.Hour, json.RawMessage(tick), OutcomeHeld},
			}
		}, []bool{true}},
		{"stale event after a newer one is ignored", FailbackAuto, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(time.Minute)), OutcomeHeld},
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeStale},
			}
		}, nil},
		{"a far-future event is refused and does not make the genuine ok stale", FailbackAuto, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed},
				{time.Minute, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(24*time.Hour)), OutcomeFuture},
				{11 * time.Minute, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(0)), OutcomeActed},
			}
		}, []bool{true, false}},
		{"an event within the clock-skew allowance is accepted", FailbackAuto, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(MaxClockSkew)), OutcomeActed},
			}
		}, []bool{true}},
		{"insufficient data and non-transitions do nothing", FailbackAuto, func(c *clock) []step {
			return []step{
				{0, event(arn, alarm.StateOK, alarm.StateInsufficientData, c.at(0)), OutcomeIgnored},
				{0, event(arn, alarm.StateAlarm, alarm.StateAlarm, c.at(time.Minute)), OutcomeIgnored},
				{0, event(arn, alarm.StateOK, alarm.StateOK, c.at(2*time.Minute)), OutcomeIgnored},
			}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			hc := &fakeHealthChecks{}
			h := mustNew(t, failoverConfig(tc.fb), Deps{HealthChecks: hc, Store: newMemStore(), Now: c.now})
			run(t, h, c, tc.steps(c))
			if !reflect.DeepEqual(hc.sets, tc.wantSets) {
				t.Fatalf("health check updates %v, want %v", hc.sets, tc.wantSets)
			}
		})
	}
}

func TestMalformedEventIsAnErrorAndNoAction(t *testing.T) {
	c := newClock()
	hc := &fakeHealthChecks{}
	store := newMemStore()
	h := mustNew(t, failoverConfig(FailbackAuto), Deps{HealthChecks: hc, Store: store, Now: c.now})
	for _, p := range []string{`{}`, `not json`, `{"source":"aws.cloudwatch","alarmData":{"state":{"value":"ALARM"}}}`} {
		err := h.Handle(context.Background(), json.RawMessage(p))
		if !errors.Is(err, alarm.ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", p, err)
		}
	}
	if len(hc.sets) != 0 || len(store.events) != 0 || len(store.states) != 0 {
		t.Fatalf("malformed events caused effects: sets=%v events=%d states=%d", hc.sets, len(store.events), len(store.states))
	}
}

// TestActionFailureReleasesClaimAndKeepsIntent: a failed switch update
// releases the event claim and keeps the decision as the intended position;
// the retry sets the switch once.
func TestActionFailureReleasesClaimAndKeepsIntent(t *testing.T) {
	c := newClock()
	hc := &fakeHealthChecks{}
	fail := true
	hc.setErr = func(bool) error {
		if fail {
			return errors.New("throttled")
		}
		return nil
	}
	store := newMemStore()
	h := mustNew(t, failoverConfig(FailbackAuto), Deps{HealthChecks: hc, Store: store, Now: c.now})
	ev := event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0))
	if err := h.Handle(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("error = %v, want the Route 53 failure", err)
	}
	// The claim is released (Lambda retries the event) and the decision
	// stays recorded as the intended position, still to be set.
	if st := store.states[h.target]; !st.FailedOver || !st.Pending {
		t.Fatalf("state after a failed update: %+v, want the failover intended (pending)", st)
	}
	fail = false
	c.advance(time.Minute) // Lambda's async retry
	r, err := h.Process(context.Background(), ev)
	if err != nil || r.Outcome != OutcomeActed {
		t.Fatalf("retry: %v %+v, want acted", err, r)
	}
	if !reflect.DeepEqual(hc.sets, []bool{true}) {
		t.Fatalf("sets %v", hc.sets)
	}
	if st := store.states[h.target]; !st.FailedOver || st.Pending {
		t.Fatalf("state after the retry: %+v, want failed over, no longer pending", st)
	}
}

func TestConcurrentInvocationLosesConditionalWrite(t *testing.T) {
	// Two scale-in ticks race: the second one's conditional write fails, it
	// re-reads, sees the cooldown and holds. One step down, not two.
	c := newClock()
	svc := &fakeServices{desired: 4}
	store := newMemStore()
	deps := Deps{Services: svc, Queue: queueFunc(func() (int, error) { return 0, nil }), Store: store, Now: c.now}
	h := mustNew(t, scaleConfig(), deps)
	var inner Result
	store.beforeSave = func() {
		var err error
		inner, err = h.Reconcile(context.Background())
		if err != nil {
			t.Errorf("inner: %v", err)
		}
	}
	outer, err := h.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inner.Outcome != OutcomeActed || outer.Outcome != OutcomeHeld {
		t.Fatalf("inner %+v outer %+v, want acted then held", inner, outer)
	}
	if !reflect.DeepEqual(svc.sets, []int{3}) {
		t.Fatalf("desired-count updates %v, want [3]", svc.sets)
	}
}

func TestScaleHandler(t *testing.T) {
	c := newClock()
	visible := 0
	svc := &fakeServices{}
	h := mustNew(t, scaleConfig(), Deps{Services: svc, Queue: queueFunc(func() (int, error) { return visible, nil }), Store: newMemStore(), Now: c.now})
	sarn := "arn:aws:cloudwatch:eu-west-1:1:alarm:orders-backlog"

	visible = 1
	run(t, h, c, []step{{0, event(sarn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed}}) // 0 -> 1
	visible = 10000
	run(t, h, c, []step{{time.Minute, json.RawMessage(tick), OutcomeActed}}) // 1 -> 5 (max)
	visible = 0
	run(t, h, c, []step{
		{time.Minute, event(sarn, alarm.StateAlarm, alarm.StateOK, c.at(time.Minute)), OutcomeHeld}, // cooldown since scale-out
		{4 * time.Minute, json.RawMessage(tick), OutcomeActed},                                      // 5 -> 4
		{time.Minute, json.RawMessage(tick), OutcomeHeld},
		{4 * time.Minute, json.RawMessage(tick), OutcomeActed}, // 4 -> 3
	})
	if want := []int{1, 5, 4, 3}; !reflect.DeepEqual(svc.sets, want) {
		t.Fatalf("desired-count updates %v, want %v", svc.sets, want)
	}
}

func TestPromoteHandler(t *testing.T) {
	c := newClock()
	svc := &fakeServices{desired: 0}
	h := mustNew(t, promoteConfig(), Deps{Services: svc, Store: newMemStore(), Now: c.now})
	parn := "arn:aws:cloudwatch:eu-west-1:1:alarm:primary-site-stalled"
	run(t, h, c, []step{
		{0, event(parn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed},
		{0, event(parn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeDuplicate},
		{time.Minute, event(parn, alarm.StateAlarm, alarm.StateOK, c.at(time.Minute)), OutcomeHeld},
		{time.Minute, json.RawMessage(tick), OutcomeIgnored},
	})
	if !reflect.DeepEqual(svc.sets, []int{3}) || svc.desired != 3 {
		t.Fatalf("updates %v desired %d, want [3] 3", svc.sets, svc.desired)
	}
}

// TestInvocationDiedAtItsTimeout: the first invocation claims the event and
// dies (its Lambda timeout) before acting. A delivery while its claim is
// live is refused with ErrInProgress (Lambda retries it later, the event is
// not lost as a "duplicate"); Lambda's retry a minute later takes the event
// over and acts, once.
func TestInvocationDiedAtItsTimeout(t *testing.T) {
	c := newClock()
	svc := &fakeServices{desired: 0}
	store := newMemStore()
	h := mustNew(t, promoteConfig(), Deps{Services: svc, Store: store, Now: c.now})
	parn := "arn:aws:cloudwatch:eu-west-1:1:alarm:primary-site-stalled"
	ev := event(parn, alarm.StateOK, alarm.StateAlarm, c.at(0))
	tr, err := alarm.Parse(ev)
	if err != nil {
		t.Fatal(err)
	}
	// The dying invocation's claim, as ClaimEvent writes it.
	if _, ok, err := store.ClaimEvent(context.Background(), string(ActionPromote)+"/"+tr.Key(), c.now(), ClaimLease); !ok || err != nil {
		t.Fatalf("claim: %t %v", ok, err)
	}
	c.advance(5 * time.Second)
	if _, err := h.Process(context.Background(), ev); !errors.Is(err, ErrInProgress) {
		t.Fatalf("delivery during the live claim: %v, want ErrInProgress", err)
	}
	if len(svc.sets) != 0 {
		t.Fatalf("acted during another invocation's claim: %v", svc.sets)
	}
	c.advance(time.Minute) // Lambda's first asynchronous retry
	run(t, h, c, []step{
		{0, ev, OutcomeActed},
		{time.Minute, ev, OutcomeDuplicate},
	})
	if !reflect.DeepEqual(svc.sets, []int{3}) {
		t.Fatalf("updates %v, want [3]", svc.sets)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{"failover without route53", failoverConfig(FailbackAuto), Deps{Store: newMemStore()}, "Route 53"},
		{"unknown action", Config{Action: "reboot"}, Deps{Store: newMemStore()}, "ACTION"},
		{"a hand-built config failing over out of the zone", func() Config {
			c := failoverConfig(FailbackAuto)
			c.SecondaryRegion = "us-east-1"
			return c
		}(), Deps{Store: newMemStore(), HealthChecks: &fakeHealthChecks{}}, "outside the residency zone"},
		{"no store", scaleConfig(), Deps{Services: &fakeServices{}, Queue: queueFunc(nil)}, "control table"},
		{"scale without queue", scaleConfig(), Deps{Services: &fakeServices{}, Store: newMemStore()}, "SQS"},
		{"promote without ecs", promoteConfig(), Deps{Store: newMemStore()}, "ECS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, tc.deps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestHandleThroughLambdaInvoke(t *testing.T) {
	// The same JSON path as the Lambda runtime and the local stack.
	c := newClock()
	hc := &fakeHealthChecks{}
	h := mustNew(t, failoverConfig(FailbackAuto), Deps{HealthChecks: hc, Store: newMemStore(), Now: c.now})
	if _, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0))); err != nil {
		t.Fatal(err)
	}
	if !hc.inverted {
		t.Fatal("health check not inverted")
	}
	if _, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), []byte(`{"x":1}`)); err == nil {
		t.Fatal("malformed event accepted")
	}
}

func TestScaleAlarmOKAlarmInsideCooldownDoesNotFlap(t *testing.T) {
	c := newClock()
	visible := 30
	svc := &fakeServices{}
	h := mustNew(t, scaleConfig(), Deps{Services: svc, Queue: queueFunc(func() (int, error) { return visible, nil }), Store: newMemStore(), Now: c.now})
	sarn := "arn:aws:cloudwatch:eu-west-1:1:alarm:orders-backlog"
	run(t, h, c, []step{{0, event(sarn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed}})
	visible = 0
	run(t, h, c, []step{{time.Minute, event(sarn, alarm.StateAlarm, alarm.StateOK, c.at(time.Minute)), OutcomeHeld}})
	visible = 30
	run(t, h, c, []step{{time.Minute, event(sarn, alarm.StateOK, alarm.StateAlarm, c.at(2*time.Minute)), OutcomeHeld}})
	if !reflect.DeepEqual(svc.sets, []int{3}) {
		t.Fatalf("desired-count updates %v, want [3]", svc.sets)
	}
}

// A far-future time recorded before events were bounded no longer makes
// genuine events stale.
func TestPoisonedStateFromBeforeTheBoundHeals(t *testing.T) {
	c := newClock()
	hc := &fakeHealthChecks{}
	store := newMemStore()
	h := mustNew(t, failoverConfig(FailbackAuto), Deps{HealthChecks: hc, Store: store, Now: c.now})
	run(t, h, c, []step{{0, event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)), OutcomeActed}})
	store.mu.Lock()
	st := store.states[h.target]
	st.LastAlarm, st.LastAlarmAt = alarm.StateOK, c.now().Add(365*24*time.Hour)
	store.states[h.target] = st
	store.mu.Unlock()
	run(t, h, c, []step{{11 * time.Minute, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(11*time.Minute)), OutcomeActed}})
	if !reflect.DeepEqual(hc.sets, []bool{true, false}) {
		t.Fatalf("health check updates %v, want [true false]", hc.sets)
	}
}
