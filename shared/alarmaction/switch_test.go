package alarmaction

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53recoverycluster/types"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/awsclient/arcops"
)

const testRC = "arn:aws:route53-recovery-control::111122223333:controlpanel/abc/routingcontrol/def"

func TestParseEnvSwitch(t *testing.T) {
	arc := map[string]string{"ACTION": "failover", "AWS_REGION": "eu-west-1", "CONTROL_TABLE": "ctl", "SECONDARY_REGION": "eu-central-1",
		"FAILBACK": "auto", "HOLD_DOWN_SECONDS": "900", "SWITCH": "arc", "ROUTING_CONTROL_ARN": testRC,
		"ARC_ENDPOINTS": "us-east-1=https://aaa.route53-recovery-cluster.us-east-1.amazonaws.com/v1, eu-west-1=https://bbb.route53-recovery-cluster.eu-west-1.amazonaws.com/v1"}
	five := "us-east-1=https://a/v1,us-west-2=https://b/v1,eu-west-1=https://c/v1,ap-northeast-1=https://d/v1,ap-southeast-2=https://e/v1"
	tests := []struct {
		name  string
		set   map[string]string
		want  string // error substring; "" = ok
		check func(Config) bool
	}{
		{"arc", nil, "", func(c Config) bool {
			return c.Switch == SwitchARC && len(c.ArcEndpoints) == 2 && c.ArcEndpoints[1].Region == "eu-west-1" && c.target() == "routingcontrol/"+testRC
		}},
		{"arc five endpoints", map[string]string{"ARC_ENDPOINTS": five}, "", func(c Config) bool { return len(c.ArcEndpoints) == 5 }},
		{"arc local endpoint", map[string]string{"ARC_ENDPOINTS": "eu-west-1=http://127.0.0.1:4599/v1"}, "", func(c Config) bool { return len(c.ArcEndpoints) == 1 }},
		{"healthcheck default", map[string]string{"SWITCH": "", "HEALTH_CHECK_ID": "hc"}, "", func(c Config) bool { return c.Switch == SwitchHealthCheck && c.target() == "healthcheck/hc" }},
		{"healthcheck explicit", map[string]string{"SWITCH": "healthcheck", "HEALTH_CHECK_ID": "hc"}, "", func(c Config) bool { return c.Switch == SwitchHealthCheck }},
		{"healthcheck needs its id", map[string]string{"SWITCH": "healthcheck"}, "HEALTH_CHECK_ID is not set", nil},
		{"unknown switch", map[string]string{"SWITCH": "dns"}, `SWITCH "dns"`, nil},
		{"no routing control", map[string]string{"ROUTING_CONTROL_ARN": ""}, "ROUTING_CONTROL_ARN is not set", nil},
		{"not a routing control", map[string]string{"ROUTING_CONTROL_ARN": "arn:aws:route53:::healthcheck/x"}, "ROUTING_CONTROL_ARN", nil},
		{"no endpoints", map[string]string{"ARC_ENDPOINTS": ""}, "ARC_ENDPOINTS is not set", nil},
		{"six endpoints", map[string]string{"ARC_ENDPOINTS": five + ",eu-central-1=https://f/v1"}, "ARC_ENDPOINTS has 6", nil},
		{"entry without region", map[string]string{"ARC_ENDPOINTS": "https://a/v1"}, "ARC_ENDPOINTS entry", nil},
		{"bad region", map[string]string{"ARC_ENDPOINTS": "mars-1=https://a/v1"}, `ARC_ENDPOINTS: "mars-1"`, nil},
		{"duplicate region", map[string]string{"ARC_ENDPOINTS": "us-east-1=https://a/v1,us-east-1=https://b/v1"}, "listed twice", nil},
		{"plain http", map[string]string{"ARC_ENDPOINTS": "us-east-1=http://a.example.com/v1"}, "not an https URL", nil},
		{"http elsewhere than loopback", map[string]string{"ARC_ENDPOINTS": "us-east-1=http://10.0.0.1/v1"}, "not an https URL", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range arc {
				env[k] = v
			}
			for k, v := range tc.set {
				env[k] = v
			}
			c, err := ParseEnv(func(k string) string { return env[k] })
			if tc.want != "" {
				if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
			if want := map[SwitchKind]string{SwitchARC: "routing control", SwitchHealthCheck: "health check"}[c.Switch]; !strings.Contains(c.String(), want) {
				t.Errorf("description %q does not name the switch", c.String())
			}
		})
	}
}

// fakeARC is an ARC cluster seen through its endpoints: per-endpoint
// behaviour, one shared state.
type fakeARC struct {
	mu    sync.Mutex
	state arcops.State
	// fail returns the error an endpoint answers (nil: it serves); "hang"
	// waits for the context.
	fail  func(region string) error
	calls []string
}

var errHang = errors.New("hang")

func (f *fakeARC) try(ctx context.Context, ep arcops.Endpoint, op string) error {
	f.mu.Lock()
	f.calls = append(f.calls, op+"@"+ep.Region)
	fail := f.fail
	f.mu.Unlock()
	if fail == nil {
		return nil
	}
	err := fail(ep.Region)
	if errors.Is(err, errHang) {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeARC) GetRoutingControlState(ctx context.Context, ep arcops.Endpoint, arn string) (arcops.State, error) {
	if err := f.try(ctx, ep, "get"); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, nil
}

func (f *fakeARC) UpdateRoutingControlState(ctx context.Context, ep arcops.Endpoint, arn string, st arcops.State) error {
	if err := f.try(ctx, ep, "set"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = st
	return nil
}

var threeEndpoints = []ArcEndpoint{{Region: "us-east-1", URL: "https://a/v1"}, {Region: "us-west-2", URL: "https://b/v1"}, {Region: "eu-west-1", URL: "https://c/v1"}}

func TestARCRoutingControlTriesEndpointsInTurn(t *testing.T) {
	throttled := &types.ThrottlingException{Message: aws.String("slow down")}
	tests := []struct {
		name      string
		fail      func(string) error
		wantErr   string
		wantCalls string
	}{
		{"first answers", nil, "", "set@us-east-1"},
		{"throttled, 5xx, then served", func(r string) error {
			switch r {
			case "us-east-1":
				return throttled
			case "us-west-2":
				return &types.EndpointTemporarilyUnavailableException{}
			}
			return nil
		}, "", "set@us-east-1 set@us-west-2 set@eu-west-1"},
		{"black hole then served", func(r string) error {
			if r == "us-east-1" {
				return errHang
			}
			return nil
		}, "", "set@us-east-1 set@us-west-2"},
		{"safety rule: no other endpoint", func(string) error {
			return &types.ConflictException{}
		}, "ConflictException", "set@us-east-1"},
		{"all fail", func(string) error { return throttled }, "no cluster endpoint answered", "set@us-east-1 set@us-west-2 set@eu-west-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeARC{state: arcops.On, fail: tc.fail}
			r := NewARCRoutingControl(f, testRC, threeEndpoints)
			r.budget = 50 * time.Millisecond
			err := r.SetFailedOver(context.Background(), true)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if got := strings.Join(f.calls, " "); got != tc.wantCalls {
				t.Fatalf("calls %q, want %q", got, tc.wantCalls)
			}
			if tc.wantErr == "" && f.state != arcops.Off {
				t.Fatalf("state %s, want Off", f.state)
			}
		})
	}
}

// TestARCRoutingControlStartsWithTheLastEndpointThatAnswered and stays
// within the context's deadline less the reserve.
func TestARCRoutingControlStickyAndBounded(t *testing.T) {
	down := "us-east-1"
	f := &fakeARC{state: arcops.On, fail: func(r string) error {
		if r == down {
			return errHang
		}
		return nil
	}}
	r := NewARCRoutingControl(f, testRC, threeEndpoints)
	r.budget = 50 * time.Millisecond
	if fo, err := r.FailedOver(context.Background()); err != nil || fo {
		t.Fatalf("FailedOver: %v %v", fo, err)
	}
	f.calls = nil
	if err := r.SetFailedOver(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls, " "); got != "set@us-west-2" {
		t.Fatalf("calls %q, want the endpoint that answered last first", got)
	}

	down = "all"
	f.fail = func(string) error { return errHang }
	r.budget = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), arcReserve+300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.SetFailedOver(ctx, false)
	if err == nil || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("all endpoints hanging: %v after %s, want an error within the deadline less the reserve", err, time.Since(start))
	}
}

// TestFailoverIntentConverges: the switch answers nothing for a while; the
// intended position (Off) is recorded at the ALARM, kept through the
// failures (an OK while the switch is unreadable included), and set by the
// reconcile once the switch answers; the fail-back follows the hold-down.
// The switch only ever goes On -> Off -> On.
func TestFailoverIntentConverges(t *testing.T) {
	c := newClock()
	f := &fakeARC{state: arcops.On}
	down := true
	f.fail = func(r string) error {
		if down {
			return &types.InternalServerException{}
		}
		return nil
	}
	cfg := failoverConfig(FailbackAuto)
	cfg.Switch, cfg.RoutingControlARN, cfg.ArcEndpoints, cfg.HealthCheckID = SwitchARC, testRC, threeEndpoints, ""
	store := newMemStore()
	deps := FromClients(cfg, Clients{ARC: f})
	deps.Store, deps.Now = store, c.now
	h := mustNew(t, cfg, deps)
	var seq []arcops.State
	seq = append(seq, f.state)
	observe := func() {
		if f.state != seq[len(seq)-1] {
			seq = append(seq, f.state)
		}
	}
	tick := []byte(`{"source":"aws.events","detail-type":"Scheduled Event"}`)

	// ALARM while every endpoint fails: an error (Lambda retries), the intent kept.
	if _, err := h.Process(context.Background(), event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0))); err == nil {
		t.Fatal("ALARM with the switch down: no error")
	}
	if st := store.states[h.target]; !st.FailedOver || !st.Pending {
		t.Fatalf("state %+v, want the failover intended", st)
	}
	// An OK, the alarm again and ticks during the outage: nothing reverses
	// the intent, and nothing sets the Off while the alarm is OK.
	c.advance(time.Minute)
	before := len(f.calls)
	if _, err := h.Process(context.Background(), event(arn, alarm.StateAlarm, alarm.StateOK, c.at(0))); err == nil {
		t.Fatal("OK with the switch unreadable: no error")
	}
	for _, call := range f.calls[before:] {
		if strings.HasPrefix(call, "set") {
			t.Fatalf("calls %v: the Off was tried at the OK", f.calls[before:])
		}
	}
	if st := store.states[h.target]; !st.FailedOver || !st.Pending {
		t.Fatalf("state %+v after an OK with the switch unreadable, want the failover still intended", st)
	}
	c.advance(time.Minute)
	h.Process(context.Background(), event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0)))
	for range 3 {
		c.advance(time.Minute)
		h.Process(context.Background(), tick)
		observe()
	}
	if st := store.states[h.target]; !st.FailedOver || !st.Pending {
		t.Fatalf("state %+v after OK and ticks in the outage, want the failover still intended", st)
	}
	// The switch answers again: the next tick sets Off.
	down = false
	c.advance(time.Minute)
	if r, err := h.Process(context.Background(), tick); err != nil || r.Outcome != OutcomeActed {
		t.Fatalf("tick after the outage: %+v %v, want acted", r, err)
	}
	observe()
	if st := store.states[h.target]; !st.FailedOver || st.Pending || f.state != arcops.Off {
		t.Fatalf("state %+v switch %s, want failed over, settled", st, f.state)
	}
	// The hold-down counts from when the switch moved: held, then back On.
	c.advance(time.Minute)
	if r, err := h.Process(context.Background(), event(arn, alarm.StateAlarm, alarm.StateOK, c.at(0))); err != nil || r.Outcome != OutcomeHeld {
		t.Fatalf("OK inside the hold-down: %+v %v, want held", r, err)
	}
	c.advance(cfg.HoldDown - 2*time.Minute)
	h.Process(context.Background(), tick)
	observe()
	if f.state != arcops.Off {
		t.Fatal("failed back inside the hold-down")
	}
	c.advance(2 * time.Minute)
	h.Process(context.Background(), tick)
	observe()
	if fmt.Sprint(seq) != "[On Off On]" {
		t.Fatalf("switch went %v, want [On Off On]", seq)
	}
}

// TestOperatorChangesAreRespected: with nothing pending, the reconcile does
// not drive the switch; an operator's failover is not failed back.
func TestOperatorChangesAreRespected(t *testing.T) {
	c := newClock()
	hc := &fakeHealthChecks{inverted: true} // inverted by an operator
	store := newMemStore()
	h := mustNew(t, failoverConfig(FailbackAuto), Deps{HealthChecks: hc, Store: store, Now: c.now})
	tick := []byte(`{"source":"aws.events","detail-type":"Scheduled Event"}`)
	run(t, h, c, []step{
		{0, event(arn, alarm.StateAlarm, alarm.StateOK, c.at(0)), OutcomeHeld},
		{time.Hour, tick, OutcomeHeld},
	})
	if len(hc.sets) != 0 {
		t.Fatalf("sets %v: an operator's failover was undone", hc.sets)
	}
}

// TestSafetyRuleRefusalDoesNotOutliveTheAlarm: ARC refuses the Off (the
// partner is Off already: the assertion rule keeps one region On). The
// failover stays intended, and is tried again, while the alarm fires; the
// alarm's OK, inside the hold-down, cancels it at once (logged, no update
// tried), so no tick sets it once the refusal is lifted; the alarm firing
// again is a fresh failover. This is the pair-table impairment firing both
// regions' alarms: C goes Off, W's Off is refused, and W, recovered, must
// not go Off when C comes back.
func TestSafetyRuleRefusalDoesNotOutliveTheAlarm(t *testing.T) {
	c := newClock()
	f := &fakeARC{state: arcops.On}
	refuse := true
	cfg := failoverConfig(FailbackAuto)
	cfg.Switch, cfg.RoutingControlARN, cfg.ArcEndpoints, cfg.HealthCheckID = SwitchARC, testRC, threeEndpoints, ""
	store := newMemStore()
	arc := &refusingARC{fakeARC: f, refuse: &refuse}
	deps := FromClients(cfg, Clients{ARC: arc})
	var logs logtest.Buffer
	deps.Store, deps.Now, deps.Logger = store, c.now, logs.Logger()
	h := mustNew(t, cfg, deps)
	tick := []byte(`{"source":"aws.events","detail-type":"Scheduled Event"}`)
	if _, err := h.Process(context.Background(), event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0))); err == nil || !strings.Contains(err.Error(), "ConflictException") {
		t.Fatalf("refused failover: %v, want the ConflictException", err)
	}
	c.advance(time.Minute)
	if _, err := h.Process(context.Background(), tick); err == nil || arc.updates != 2 {
		t.Fatalf("tick while the alarm fires: %v after %d updates, want the Off tried again and refused", err, arc.updates)
	}
	c.advance(time.Minute)
	r, err := h.Process(context.Background(), event(arn, alarm.StateAlarm, alarm.StateOK, c.at(0)))
	if err != nil || r.Outcome != OutcomeHeld {
		t.Fatalf("OK inside the hold-down: %+v %v, want held", r, err)
	}
	if st := store.states[h.target]; st.FailedOver || st.Pending || arc.updates != 2 {
		t.Fatalf("state %+v after the OK (%d updates): want the refused failover cancelled, no update tried", st, arc.updates)
	}
	if n := strings.Count(logs.String(), "intended switch position cancelled"); n != 1 {
		t.Fatalf("cancellation logged %d times, want once:\n%s", n, logs.String())
	}
	refuse = false // the partner is back On: an Off would now be accepted
	for range 12 {
		c.advance(time.Minute)
		if _, err := h.Process(context.Background(), tick); err != nil {
			t.Fatal(err)
		}
	}
	if st := store.states[h.target]; st.FailedOver || st.Pending || f.state != arcops.On || arc.updates != 2 {
		t.Fatalf("state %+v, switch %s, %d updates: want the switch untouched after the OK", st, f.state, arc.updates)
	}
	// The alarm fires again: a fresh decision, accepted this time.
	c.advance(time.Minute)
	if r, err := h.Process(context.Background(), event(arn, alarm.StateOK, alarm.StateAlarm, c.at(0))); err != nil || r.Outcome != OutcomeActed {
		t.Fatalf("ALARM again: %+v %v, want acted", r, err)
	}
	if st := store.states[h.target]; !st.FailedOver || st.Pending || f.state != arcops.Off || !st.ChangedAt.Equal(c.now()) {
		t.Fatalf("state %+v, switch %s: want failed over now, settled", st, f.state)
	}
}

// refusingARC answers every update with a safety-rule ConflictException
// while *refuse is set.
type refusingARC struct {
	*fakeARC
	refuse  *bool
	updates int // update calls made, refused or not
}

func (r *refusingARC) UpdateRoutingControlState(ctx context.Context, ep arcops.Endpoint, arn string, st arcops.State) error {
	r.updates++
	if *r.refuse {
		return &types.ConflictException{Message: aws.String("would violate safety rule")}
	}
	return r.fakeARC.UpdateRoutingControlState(ctx, ep, arn, st)
}
