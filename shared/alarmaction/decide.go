package alarmaction

import (
	"fmt"
	"time"

	"github.com/homeregion/homeregion/shared/alarm"
)

// State is what the control table remembers about one target (a health
// check or an ECS service) between invocations.
type State struct {
	// Version is the optimistic-lock version the state was read at (0: none).
	Version int64
	// LastAlarm and LastAlarmAt are the newest alarm state seen and its
	// timestamp; older events are stale and ignored.
	LastAlarm   alarm.State
	LastAlarmAt time.Time
	// ChangedAt is when this function last changed the target.
	ChangedAt time.Time
	// FailedOver is set while the switch is failed over by this function
	// (failover action: the health check inverted, the routing control Off);
	// a switch failed over by an operator is never failed back automatically.
	FailedOver bool
	// Pending is set while FailedOver is the switch's intended position and
	// not yet seen at the switch: recorded by the decision before the switch
	// is set, cleared once it is (ChangedAt then becomes the time the switch
	// was set, so the hold-down counts from the move). While it is set,
	// decisions are made on the intended position and the switch is driven
	// to it (by a retry of the event or the scheduled reconcile), so a
	// failed, throttled or hanging call can only be repeated, never
	// reversed; an OK alarm (or a fail-back) while an Off is still pending
	// cancels it.
	Pending bool
}

// MaxClockSkew is how far ahead of this function's clock an alarm event's
// state timestamp may be. CloudWatch stamps a state change when it happens
// and invokes the action seconds later, so a genuine event is never ahead of
// now by more than clock skew; 5 minutes is generous for that and short
// against the events' order. An event stamped further ahead (a broken clock,
// a hand-made or corrupted payload) is refused: recorded, it would be the
// newest state seen and make every genuine later event stale, so that
// automatic fail-back never happened.
const MaxClockSkew = 5 * time.Minute

// CheckEventTime returns an error when at is more than MaxClockSkew after
// now; past times are always accepted (ordering against the recorded state
// decides whether they are stale).
func CheckEventTime(at, now time.Time) error {
	if limit := now.Add(MaxClockSkew); at.After(limit) {
		return fmt.Errorf("alarm state time %s is in the future: more than %s after now (%s)",
			at.UTC().Format(time.RFC3339Nano), MaxClockSkew, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Trigger is what started an evaluation: an alarm state change or a
// scheduled tick.
type Trigger struct {
	// Tick is set for a scheduled reconciliation (no alarm event).
	Tick bool
	// To is the alarm's new state (alarm events only).
	To alarm.State
}

// FailoverDecision is the failover action's verdict.
type FailoverDecision struct {
	// Change is set when the health check's Inverted must become Invert.
	Change bool
	Invert bool
	// Reason explains the verdict (logged and recorded).
	Reason string
	// Cancelled is set when the decision drops an intended position the
	// switch never reached (Next records the switch's actual position).
	Cancelled bool
	// Next is the state to record.
	Next State
}

// DecideFailover decides the failover action, the same for both switches.
// inverted is the switch's actual position: failed over (the health check
// inverted, the routing control Off) or not. It is the truth, as an operator
// may have changed it, except while st.Pending: then the recorded intended
// position is decided on, and the switch is driven to it.
//
//   - ALARM: fail over unless already failed over.
//   - OK: with FAILBACK=manual never fail back; with auto fail back once
//     HOLD_DOWN has passed since the failover, otherwise leave it pending for
//     the scheduled tick (which fails back when due if the alarm is still OK).
//   - tick: fail back when due and the last alarm state is OK.
//   - any of them, when nothing else changes and an intended position is not
//     yet at the switch: set the switch to it.
//   - except an intended failover the switch never reached once the alarm is
//     OK (an OK event, or a tick with OK the last state seen): it is
//     cancelled, whatever the hold-down and FAILBACK say. The region never
//     failed over and has recovered; driving the Off now (a safety rule's
//     refusal lifted, an outage over) would fail a healthy region over and
//     hold it there for a hold-down.
func DecideFailover(cfg Config, st State, inverted bool, tr Trigger, now time.Time) FailoverDecision {
	actual := inverted
	next := st
	switch {
	case st.Pending && actual == st.FailedOver:
		next.Pending = false // the switch reached the intended position
	case st.Pending && st.FailedOver && alarmOK(st, tr):
		next.FailedOver, next.Pending = false, false
		return FailoverDecision{Cancelled: true, Next: next,
			Reason: "alarm OK before the intended failover reached the switch: failover cancelled"}
	case st.Pending:
		inverted = st.FailedOver // decide on the intended position
	case !inverted && st.FailedOver:
		// Failed back by hand: forget the failover.
		next.FailedOver = false
	}
	d := decideFailover(cfg, next, inverted, tr, now)
	switch {
	case d.Change && d.Invert == actual:
		// The decision cancels an intended position the switch never reached.
		d.Change, d.Next.Pending, d.Cancelled = false, false, true
	case d.Change:
		d.Next.Pending = true
	case d.Next.Pending && d.Next.FailedOver != actual:
		d.Change, d.Invert = true, d.Next.FailedOver
		d.Reason += "; setting the switch to the intended position (failed over: " + fmt.Sprint(d.Invert) + ")"
	}
	return d
}

// DecideFailoverUnread is DecideFailover when the switch could not be read:
// the recorded position is decided on (the intended one while pending), a
// change is recorded as intended (Pending), and an intended position is set
// again, since whether the switch reached it is unknown; but not an intended
// failover once the alarm is OK: it stays intended, and the next invocation
// that reads the switch settles it (reached) or cancels it (never reached).
func DecideFailoverUnread(cfg Config, st State, tr Trigger, now time.Time) FailoverDecision {
	d := decideFailover(cfg, st, st.FailedOver, tr, now)
	switch {
	case d.Change:
		d.Next.Pending = true
	case st.Pending && d.Next.FailedOver && alarmOK(st, tr):
		d.Reason += "; alarm OK: the intended failover is not set while the switch is unreadable"
	case st.Pending:
		d.Change, d.Invert = true, d.Next.FailedOver
		d.Reason += "; setting the switch to the intended position (failed over: " + fmt.Sprint(d.Invert) + ")"
	}
	return d
}

// alarmOK reports whether the alarm is OK at this trigger: an OK event, or a
// tick with OK the last state seen.
func alarmOK(st State, tr Trigger) bool {
	if tr.Tick {
		return st.LastAlarm == alarm.StateOK
	}
	return tr.To == alarm.StateOK
}

func decideFailover(cfg Config, st State, inverted bool, tr Trigger, now time.Time) FailoverDecision {
	next := st
	if tr.Tick {
		if !inverted || !st.FailedOver || st.LastAlarm != alarm.StateOK || cfg.Failback != FailbackAuto {
			return FailoverDecision{Reason: "nothing to fail back", Next: next}
		}
		return failback(cfg, next, now)
	}
	switch tr.To {
	case alarm.StateAlarm:
		if inverted {
			return FailoverDecision{Reason: "already failed over", Next: next}
		}
		next.FailedOver, next.ChangedAt = true, now
		return FailoverDecision{Change: true, Invert: true, Reason: "primary unhealthy: failing over to " + cfg.SecondaryRegion, Next: next}
	case alarm.StateOK:
		switch {
		case !inverted:
			return FailoverDecision{Reason: "primary already serving", Next: next}
		case !st.FailedOver:
			return FailoverDecision{Reason: "switch failed over by an operator: not failing back", Next: next}
		case cfg.Failback == FailbackManual:
			return FailoverDecision{Reason: "FAILBACK=manual: fail back by hand", Next: next}
		}
		return failback(cfg, next, now)
	}
	return FailoverDecision{Reason: "no action for " + string(tr.To), Next: next}
}

func failback(cfg Config, st State, now time.Time) FailoverDecision {
	due := st.ChangedAt.Add(cfg.HoldDown)
	if now.Before(due) {
		return FailoverDecision{Reason: "fail-back held down until " + due.UTC().Format(time.RFC3339), Next: st}
	}
	st.FailedOver, st.ChangedAt = false, now
	return FailoverDecision{Change: true, Invert: false, Reason: "primary healthy past hold-down: failing back", Next: st}
}

// CountDecision is the verdict of the ECS-count actions (promote, scale).
type CountDecision struct {
	// Change is set when the service's desired count must become Desired.
	Change  bool
	Desired int
	Reason  string
	Next    State
}

// DecidePromote raises the standby service to STANDBY_TASKS on ALARM; it
// never lowers a desired count.
func DecidePromote(cfg Config, st State, current int, tr Trigger, now time.Time) CountDecision {
	if tr.Tick || tr.To != alarm.StateAlarm {
		return CountDecision{Desired: current, Reason: "promotion only on ALARM; never lowers the standby", Next: st}
	}
	if current >= cfg.StandbyTasks {
		return CountDecision{Desired: current, Reason: fmt.Sprintf("standby already at %d >= %d", current, cfg.StandbyTasks), Next: st}
	}
	st.ChangedAt = now
	return CountDecision{Change: true, Desired: cfg.StandbyTasks, Reason: fmt.Sprintf("primary site stalled: standby %d -> %d", current, cfg.StandbyTasks), Next: st}
}

// ScaleTarget is clamp(ceil(visible / BACKLOG_PER_TASK), MIN_TASKS, MAX_TASKS).
func ScaleTarget(cfg Config, visible int) int {
	if visible < 0 {
		visible = 0
	}
	n := (visible + cfg.BacklogPerTask - 1) / cfg.BacklogPerTask
	return min(max(n, cfg.MinTasks), cfg.MaxTasks)
}

// DecideScale moves the service's desired count towards ScaleTarget: out (up)
// at once, in (down) one task at a time and only when COOLDOWN has passed since
// the last change; a count above MAX_TASKS is brought down to it at once.
func DecideScale(cfg Config, st State, visible, current int, now time.Time) CountDecision {
	target := ScaleTarget(cfg, visible)
	d := CountDecision{Desired: current, Next: st}
	switch {
	case current > cfg.MaxTasks:
		d.Change, d.Desired = true, cfg.MaxTasks
		d.Reason = fmt.Sprintf("%d tasks above MAX_TASKS: %d -> %d", current, current, cfg.MaxTasks)
	case target > current:
		d.Change, d.Desired = true, target
		d.Reason = fmt.Sprintf("%d visible: scale out %d -> %d", visible, current, target)
	case target < current:
		if due := st.ChangedAt.Add(cfg.cooldown()); !st.ChangedAt.IsZero() && now.Before(due) {
			d.Reason = fmt.Sprintf("%d visible: scale-in to %d held by cooldown until %s", visible, target, due.UTC().Format(time.RFC3339))
			return d
		}
		d.Change, d.Desired = true, current-1
		d.Reason = fmt.Sprintf("%d visible: scale in one step %d -> %d (target %d)", visible, current, current-1, target)
	default:
		d.Reason = fmt.Sprintf("%d visible: at target %d", visible, target)
		return d
	}
	d.Next.ChangedAt = now
	return d
}
