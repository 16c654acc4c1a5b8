package alarmaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/logging"
)

// zonesFunc adapts a function to zoneChecker.
type zonesFunc func(a, b string) bool

func (f zonesFunc) SameZone(a, b string) bool { return f(a, b) }

// euZones puts eu-* regions in one zone and us-* in another.
var euZones = zonesFunc(func(a, b string) bool { return len(a) > 3 && len(b) > 3 && a[:3] == b[:3] })

// fakeHealthChecks is a health check with function-field hooks.
type fakeHealthChecks struct {
	mu       sync.Mutex
	inverted bool
	sets     []bool
	getErr   func() error
	setErr   func(bool) error
}

func (f *fakeHealthChecks) Inverted(ctx context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		if err := f.getErr(); err != nil {
			return false, err
		}
	}
	return f.inverted, nil
}

func (f *fakeHealthChecks) SetInverted(ctx context.Context, id string, inv bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		if err := f.setErr(inv); err != nil {
			return err
		}
	}
	f.inverted = inv
	f.sets = append(f.sets, inv)
	return nil
}

// fakeServices is one ECS service.
type fakeServices struct {
	mu      sync.Mutex
	desired int
	sets    []int
	setErr  func(int) error
}

func (f *fakeServices) DesiredCount(ctx context.Context, cluster, service string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.desired, nil
}

func (f *fakeServices) SetDesiredCount(ctx context.Context, cluster, service string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		if err := f.setErr(n); err != nil {
			return err
		}
	}
	f.desired = n
	f.sets = append(f.sets, n)
	return nil
}

// queueFunc adapts a function to Queue.
type queueFunc func() (int, error)

func (f queueFunc) Visible(ctx context.Context, url string) (int, error) { return f() }

// memStore is an in-memory Store with the DynamoDB adapter's semantics.
type memStore struct {
	mu     sync.Mutex
	events map[string]memEvent
	seq    int // the last claim handed out
	states map[string]State
	// beforeSave, when set, runs before each SaveState (outside the lock):
	// a hook to interleave a concurrent invocation.
	beforeSave func()
}

type memEvent struct {
	claim      string
	done       bool
	leaseUntil time.Time
	decision   string
}

func newMemStore() *memStore {
	return &memStore{events: map[string]memEvent{}, states: map[string]State{}}
}

func (m *memStore) ClaimEvent(ctx context.Context, key string, now time.Time, lease time.Duration) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.events[key]; ok && e.done {
		return "", false, nil
	}
	if e, ok := m.events[key]; ok && now.Before(e.leaseUntil) {
		return "", false, ErrInProgress
	}
	m.seq++
	claim := fmt.Sprint(m.seq)
	m.events[key] = memEvent{claim: claim, leaseUntil: now.Add(lease)}
	return claim, true, nil
}

func (m *memStore) FinishEvent(ctx context.Context, key, claim, decision string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.events[key]; e.done || e.claim != claim {
		return errors.New("claim lost")
	}
	m.events[key] = memEvent{claim: claim, done: true, decision: decision}
	return nil
}

func (m *memStore) ReleaseEvent(ctx context.Context, key, claim string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.events[key]; !e.done && e.claim == claim {
		delete(m.events, key)
	}
	return nil
}

func (m *memStore) LoadState(ctx context.Context, target string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[target], nil
}

func (m *memStore) SaveState(ctx context.Context, target string, st State) (State, error) {
	if h := m.beforeSave; h != nil {
		m.beforeSave = nil // once
		h()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.states[target].Version != st.Version {
		return State{}, ErrConflict
	}
	st.Version++
	m.states[target] = st
	return st, nil
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time            { return c.t }
func (c *clock) advance(d time.Duration)   { c.t = c.t.Add(d) }
func newClock() *clock                     { return &clock{t: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)} }
func (c *clock) at(d time.Duration) string { return c.t.Add(d).Format("2006-01-02T15:04:05.000-0700") }

// event returns an alarm → Lambda action payload for a transition at ts.
func event(arn string, from, to alarm.State, ts string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"source":"aws.cloudwatch","alarmArn":%q,"accountId":"111122223333","time":%q,"region":"eu-west-1",
"alarmData":{"alarmName":"test","state":{"value":%q,"reason":"test","timestamp":%q},"previousState":{"value":%q,"reason":"test","timestamp":"2026-01-01T00:00:00.000+0000"},"configuration":{}}}`,
		arn, ts, to, ts, from))
}

// snsEvent returns the same transition delivered through SNS.
func snsEvent(arn string, from, to alarm.State, ts string) json.RawMessage {
	msg, _ := json.Marshal(map[string]any{"AlarmName": "test", "AlarmArn": arn, "NewStateValue": to, "OldStateValue": from, "StateChangeTime": ts, "Region": "EU (Ireland)"})
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"EventSource": "aws:sns", "Sns": map[string]any{"Message": string(msg), "Timestamp": "2026-01-02T03:00:00Z"}}}})
	return b
}

const tick = `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-01-02T03:00:00Z","region":"eu-west-1","resources":[],"detail":{}}`

func failoverConfig(fb Failback) Config {
	return Config{Action: ActionFailover, Region: "eu-west-1", ControlTable: "control", HealthCheckID: "hc-1",
		SecondaryRegion: "eu-central-1", Failback: fb, HoldDown: 10 * time.Minute}
}

func scaleConfig() Config {
	return Config{Action: ActionScale, Region: "eu-west-1", ControlTable: "control", QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders", Cluster: "c", Service: "s",
		BacklogPerTask: 10, MinTasks: 0, MaxTasks: 5, Cooldown: 5 * time.Minute}
}

func promoteConfig() Config {
	return Config{Action: ActionPromote, Region: "eu-west-1", ControlTable: "control", StandbyCluster: "c", StandbyService: "standby", StandbyTasks: 3}
}

func mustNew(t testing.TB, cfg Config, d Deps) *Handler {
	t.Helper()
	if d.Logger == nil {
		d.Logger = logging.Discard()
	}
	h, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
