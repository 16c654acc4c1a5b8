package alarmaction

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/alarm"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*Config)
		base func() Config
		want string // "" = valid
	}{
		{"failover ok", func(c *Config) {}, func() Config { return failoverConfig(FailbackAuto) }, ""},
		{"failover manual no hold-down", func(c *Config) { c.HoldDown = 0 }, func() Config { return failoverConfig(FailbackManual) }, ""},
		{"zone violation", func(c *Config) { c.SecondaryRegion = "us-east-1" }, func() Config { return failoverConfig(FailbackAuto) }, "SECONDARY_REGION us-east-1 is outside the residency zone of eu-west-1"},
		{"secondary is self", func(c *Config) { c.SecondaryRegion = "eu-west-1" }, func() Config { return failoverConfig(FailbackAuto) }, "is this region"},
		{"no secondary", func(c *Config) { c.SecondaryRegion = "" }, func() Config { return failoverConfig(FailbackAuto) }, "SECONDARY_REGION is required"},
		{"no health check", func(c *Config) { c.HealthCheckID = "" }, func() Config { return failoverConfig(FailbackAuto) }, "HEALTH_CHECK_ID"},
		{"bad failback", func(c *Config) { c.Failback = "sometimes" }, func() Config { return failoverConfig(FailbackAuto) }, "FAILBACK"},
		{"auto without hold-down", func(c *Config) { c.HoldDown = 0 }, func() Config { return failoverConfig(FailbackAuto) }, "HOLD_DOWN_SECONDS"},
		{"no region", func(c *Config) { c.Region = "" }, func() Config { return failoverConfig(FailbackAuto) }, "AWS_REGION"},
		{"malformed region", func(c *Config) { c.Region = "Ireland" }, func() Config { return promoteConfig() }, "AWS_REGION"},
		{"malformed secondary", func(c *Config) { c.SecondaryRegion = "eu-central" }, func() Config { return failoverConfig(FailbackAuto) }, "SECONDARY_REGION"},
		{"malformed control table", func(c *Config) { c.ControlTable = "ct" }, func() Config { return scaleConfig() }, "CONTROL_TABLE"},
		{"malformed queue URL", func(c *Config) { c.QueueURL = "orders" }, func() Config { return scaleConfig() }, "QUEUE_URL"},
		{"no control table", func(c *Config) { c.ControlTable = "" }, func() Config { return scaleConfig() }, "CONTROL_TABLE"},
		{"bad action", func(c *Config) { c.Action = "reboot" }, func() Config { return scaleConfig() }, "ACTION"},
		{"promote ok", func(c *Config) {}, func() Config { return promoteConfig() }, ""},
		{"promote zero tasks", func(c *Config) { c.StandbyTasks = 0 }, func() Config { return promoteConfig() }, "STANDBY_TASKS"},
		{"promote no service", func(c *Config) { c.StandbyService = "" }, func() Config { return promoteConfig() }, "STANDBY_ECS_SERVICE"},
		{"promote no cluster", func(c *Config) { c.StandbyCluster = "" }, func() Config { return promoteConfig() }, "STANDBY_ECS_CLUSTER"},
		{"scale ok", func(c *Config) {}, func() Config { return scaleConfig() }, ""},
		{"scale min above max", func(c *Config) { c.MinTasks = 6 }, func() Config { return scaleConfig() }, "MIN_TASKS 6 is above MAX_TASKS 5"},
		{"scale zero max", func(c *Config) { c.MaxTasks = 0 }, func() Config { return scaleConfig() }, "MAX_TASKS"},
		{"scale zero backlog", func(c *Config) { c.BacklogPerTask = 0 }, func() Config { return scaleConfig() }, "BACKLOG_PER_TASK"},
		{"scale negative min", func(c *Config) { c.MinTasks = -1 }, func() Config { return scaleConfig() }, "MIN_TASKS"},
		{"scale no queue", func(c *Config) { c.QueueURL = "" }, func() Config { return scaleConfig() }, "QUEUE_URL"},
		{"scale no cluster", func(c *Config) { c.Cluster = "" }, func() Config { return scaleConfig() }, "ECS_CLUSTER"},
		{"scale no service", func(c *Config) { c.Service = "" }, func() Config { return scaleConfig() }, "ECS_SERVICE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			tc.mut(&c)
			err := c.validate(euZones)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("failover without a policy", func(t *testing.T) {
		if err := failoverConfig(FailbackAuto).validate(nil); err == nil {
			t.Fatal("no error without a residency policy")
		}
	})
}

func TestDecideFailover(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	failedOver := State{Version: 3, FailedOver: true, ChangedAt: t0, LastAlarm: alarm.StateOK}
	alarmT := Trigger{To: alarm.StateAlarm}
	okT := Trigger{To: alarm.StateOK}
	tickT := Trigger{Tick: true}
	tests := []struct {
		name       string
		fb         Failback
		st         State
		inverted   bool
		tr         Trigger
		now        time.Time
		wantChange bool
		wantInvert bool
		wantFO     bool
	}{
		{"alarm inverts", FailbackAuto, State{}, false, alarmT, t0, true, true, true},
		{"alarm already inverted", FailbackAuto, failedOver, true, alarmT, t0, false, false, true},
		{"ok inside hold-down held", FailbackAuto, failedOver, true, okT, t0.Add(9 * time.Minute), false, false, true},
		{"ok at hold-down fails back", FailbackAuto, failedOver, true, okT, t0.Add(10 * time.Minute), true, false, false},
		{"ok manual never", FailbackManual, failedOver, true, okT, t0.Add(time.Hour), false, false, true},
		{"ok not inverted", FailbackAuto, State{}, false, okT, t0, false, false, false},
		{"ok operator inverted", FailbackAuto, State{}, true, okT, t0.Add(time.Hour), false, false, false},
		{"tick due fails back", FailbackAuto, failedOver, true, tickT, t0.Add(11 * time.Minute), true, false, false},
		{"tick not due", FailbackAuto, failedOver, true, tickT, t0.Add(time.Minute), false, false, true},
		{"tick alarm still firing", FailbackAuto, State{FailedOver: true, ChangedAt: t0, LastAlarm: alarm.StateAlarm}, true, tickT, t0.Add(time.Hour), false, false, true},
		{"tick manual", FailbackManual, failedOver, true, tickT, t0.Add(time.Hour), false, false, true},
		{"tick after manual failback forgets", FailbackAuto, failedOver, false, tickT, t0.Add(time.Hour), false, false, false},
		{"insufficient data", FailbackAuto, failedOver, true, Trigger{To: alarm.StateInsufficientData}, t0.Add(time.Hour), false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideFailover(failoverConfig(tc.fb), tc.st, tc.inverted, tc.tr, tc.now)
			if d.Change != tc.wantChange || (d.Change && d.Invert != tc.wantInvert) || d.Next.FailedOver != tc.wantFO {
				t.Fatalf("got change=%v invert=%v failedOver=%v (%s), want %v %v %v", d.Change, d.Invert, d.Next.FailedOver, d.Reason, tc.wantChange, tc.wantInvert, tc.wantFO)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

// TestDecideFailoverIntent: while a position is intended (Pending) and not
// at the switch, decisions are made on it and the switch is driven to it; a
// decision that brings the intent back to the actual position cancels it;
// an unreadable switch is decided on the recorded position.
func TestDecideFailoverIntent(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	intendedOff := State{Version: 2, FailedOver: true, Pending: true, ChangedAt: t0, LastAlarm: alarm.StateAlarm}
	intendedOffOK := intendedOff
	intendedOffOK.LastAlarm = alarm.StateOK
	settled := State{Version: 3, FailedOver: true, ChangedAt: t0, LastAlarm: alarm.StateOK}
	tests := []struct {
		name        string
		st          State
		actual      *bool // nil: the switch could not be read
		tr          Trigger
		now         time.Time
		wantChange  bool
		wantFO      bool
		wantPending bool
	}{
		{"alarm retry repeats the intended Off", intendedOff, ptr(false), Trigger{To: alarm.StateAlarm}, t0.Add(time.Minute), true, true, true},
		{"tick drives to the intended Off", intendedOff, ptr(false), Trigger{Tick: true}, t0.Add(time.Minute), true, true, true},
		{"ok inside the hold-down cancels an Off never reached", intendedOff, ptr(false), Trigger{To: alarm.StateOK}, t0.Add(time.Minute), false, false, false},
		{"tick with the alarm OK cancels an Off never reached", intendedOffOK, ptr(false), Trigger{Tick: true}, t0.Add(time.Minute), false, false, false},
		{"ok with the Off reached: settled, held down", intendedOff, ptr(true), Trigger{To: alarm.StateOK}, t0.Add(time.Minute), false, true, false},
		{"ok with the switch unreadable: the Off stays intended, not set", intendedOff, nil, Trigger{To: alarm.StateOK}, t0.Add(time.Minute), false, true, true},
		{"tick with the switch unreadable and the alarm OK: the Off stays intended, not set", intendedOffOK, nil, Trigger{Tick: true}, t0.Add(time.Minute), false, true, true},
		{"alarm after a cancelled Off decides afresh", State{Version: 3, ChangedAt: t0, LastAlarm: alarm.StateOK}, ptr(false), Trigger{To: alarm.StateAlarm}, t0.Add(2 * time.Minute), true, true, true},
		{"ok past the hold-down cancels an Off never reached", intendedOffOK, ptr(false), Trigger{To: alarm.StateOK}, t0.Add(time.Hour), false, false, false},
		{"switch reached the intent: settled", intendedOff, ptr(true), Trigger{Tick: true}, t0.Add(time.Minute), false, true, false},
		{"alarm with the switch unreadable: Off intended", State{}, nil, Trigger{To: alarm.StateAlarm}, t0, true, true, true},
		{"tick with the switch unreadable, nothing intended: nothing", settled, nil, Trigger{Tick: true}, t0.Add(time.Minute), false, true, false},
		{"tick with the switch unreadable, Off intended: set it again", intendedOff, nil, Trigger{Tick: true}, t0.Add(time.Minute), true, true, true},
		{"settled state: an operator's fail-back is forgotten, not undone", settled, ptr(false), Trigger{Tick: true}, t0.Add(time.Hour), false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := failoverConfig(FailbackAuto)
			var d FailoverDecision
			if tc.actual == nil {
				d = DecideFailoverUnread(cfg, tc.st, tc.tr, tc.now)
			} else {
				d = DecideFailover(cfg, tc.st, *tc.actual, tc.tr, tc.now)
			}
			if d.Change != tc.wantChange || (d.Change && d.Invert != d.Next.FailedOver) || d.Next.FailedOver != tc.wantFO || d.Next.Pending != tc.wantPending {
				t.Fatalf("got change=%v invert=%v next=%+v (%s), want change=%v failedOver=%v pending=%v", d.Change, d.Invert, d.Next, d.Reason, tc.wantChange, tc.wantFO, tc.wantPending)
			}
		})
	}
}

func ptr(b bool) *bool { return &b }

// TestDecideFailoverOKCancelsRefusedOff: an Off the switch refused (ARC's
// safety rule while the partner is Off) stays intended while the alarm
// fires; the alarm's OK, inside the hold-down and whatever FAILBACK says,
// cancels it, so neither the OK nor a later tick turns the recovered region
// Off; the next ALARM is decided afresh.
func TestDecideFailoverOKCancelsRefusedOff(t *testing.T) {
	for _, fb := range []Failback{FailbackAuto, FailbackManual} {
		t.Run(string(fb), func(t *testing.T) {
			cfg := failoverConfig(fb)
			t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			// step records d as the handler does, the switch staying On.
			step := func(st State, tr Trigger, at time.Duration) FailoverDecision {
				t.Helper()
				d := DecideFailover(cfg, st, false, tr, t0.Add(at))
				if !tr.Tick {
					d.Next.LastAlarm = tr.To
				}
				return d
			}
			d := step(State{}, Trigger{To: alarm.StateAlarm}, 0)
			if !d.Change || !d.Invert || !d.Next.Pending {
				t.Fatalf("ALARM: %+v, want the Off intended", d)
			}
			// The update is refused: the switch stays On. A retry repeats it.
			d = step(d.Next, Trigger{Tick: true}, time.Minute)
			if !d.Change || !d.Invert || !d.Next.Pending {
				t.Fatalf("tick while the alarm fires: %+v, want the Off driven", d)
			}
			d = step(d.Next, Trigger{To: alarm.StateOK}, 2*time.Minute)
			if d.Change || !d.Cancelled || d.Next.FailedOver || d.Next.Pending {
				t.Fatalf("OK inside the hold-down: %+v, want the Off cancelled, nothing set", d)
			}
			for i := range 20 {
				d = step(d.Next, Trigger{Tick: true}, time.Duration(3+i)*time.Minute)
				if d.Change || d.Next.FailedOver || d.Next.Pending {
					t.Fatalf("tick %d after the OK: %+v, want nothing", i, d)
				}
			}
			d = step(d.Next, Trigger{To: alarm.StateAlarm}, 30*time.Minute)
			if !d.Change || !d.Invert || !d.Next.Pending || !d.Next.ChangedAt.Equal(t0.Add(30*time.Minute)) {
				t.Fatalf("ALARM again: %+v, want a fresh failover", d)
			}
		})
	}
}

func TestScaleTarget(t *testing.T) {
	cfg := scaleConfig() // 10 per task, 0..5
	tests := []struct{ visible, want int }{
		{-3, 0}, {0, 0}, {1, 1}, {10, 1}, {11, 2}, {49, 5}, {50, 5}, {10000, 5},
	}
	for _, tc := range tests {
		if got := ScaleTarget(cfg, tc.visible); got != tc.want {
			t.Errorf("ScaleTarget(%d) = %d, want %d", tc.visible, got, tc.want)
		}
	}
	cfg.MinTasks = 2
	if got := ScaleTarget(cfg, 0); got != 2 {
		t.Errorf("with MIN_TASKS=2, ScaleTarget(0) = %d, want 2", got)
	}
}

func TestDecideScale(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	recent := State{ChangedAt: t0.Add(-time.Minute)}
	old := State{ChangedAt: t0.Add(-time.Hour)}
	tests := []struct {
		name             string
		st               State
		visible, current int
		wantChange       bool
		wantDesired      int
	}{
		{"scale from zero", State{}, 1, 0, true, 1},
		{"scale out at once despite cooldown", recent, 35, 1, true, 4},
		{"never above max", State{}, 10000, 0, true, 5},
		{"over max brought down at once", recent, 10000, 8, true, 5},
		{"at target", old, 20, 2, false, 2},
		{"scale in one step", old, 0, 4, true, 3},
		{"scale in held by cooldown", recent, 0, 4, false, 4},
		{"scale in with no history", State{}, 0, 2, true, 1},
		{"idle at zero", State{}, 0, 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideScale(scaleConfig(), tc.st, tc.visible, tc.current, t0)
			if d.Change != tc.wantChange || d.Desired != tc.wantDesired {
				t.Fatalf("got change=%v desired=%d (%s), want %v %d", d.Change, d.Desired, d.Reason, tc.wantChange, tc.wantDesired)
			}
			if d.Change && !d.Next.ChangedAt.Equal(t0) {
				t.Errorf("a change must restart the cooldown: ChangedAt=%v", d.Next.ChangedAt)
			}
			if !d.Change && !d.Next.ChangedAt.Equal(tc.st.ChangedAt) {
				t.Errorf("no change must keep the cooldown: ChangedAt=%v", d.Next.ChangedAt)
			}
		})
	}
}

func TestDecidePromote(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		tr          Trigger
		current     int
		wantChange  bool
		wantDesired int
	}{
		{"alarm raises", Trigger{To: alarm.StateAlarm}, 0, true, 3},
		{"alarm raises from one", Trigger{To: alarm.StateAlarm}, 1, true, 3},
		{"alarm never lowers", Trigger{To: alarm.StateAlarm}, 7, false, 7},
		{"alarm at standby", Trigger{To: alarm.StateAlarm}, 3, false, 3},
		{"ok never lowers", Trigger{To: alarm.StateOK}, 3, false, 3},
		{"tick nothing", Trigger{Tick: true}, 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DecidePromote(promoteConfig(), State{}, tc.current, tc.tr, t0)
			if d.Change != tc.wantChange || d.Desired != tc.wantDesired {
				t.Fatalf("got change=%v desired=%d (%s), want %v %d", d.Change, d.Desired, d.Reason, tc.wantChange, tc.wantDesired)
			}
		})
	}
}

func TestCheckEventTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"now", now, true},
		{"an hour ago", now.Add(-time.Hour), true},
		{"a year ago", now.Add(-365 * 24 * time.Hour), true},
		{"ahead by less than the allowance", now.Add(MaxClockSkew - time.Second), true},
		{"ahead by exactly the allowance", now.Add(MaxClockSkew), true},
		{"ahead by just over the allowance", now.Add(MaxClockSkew + time.Millisecond), false},
		{"a day ahead", now.Add(24 * time.Hour), false},
		{"years ahead", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckEventTime(tc.at, now)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckEventTime(%s, %s) = %v, want ok=%v", tc.at, now, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "in the future") {
				t.Fatalf("error %q does not say the time is in the future", err)
			}
		})
	}
}
