package alarmaction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/residency"
)

// HealthChecks reads and flips a Route 53 health check's Inverted flag.
type HealthChecks interface {
	Inverted(ctx context.Context, id string) (bool, error)
	SetInverted(ctx context.Context, id string, inverted bool) error
}

// Switch is the failover action's switch: failed over is a Route 53 health
// check inverted (SWITCH=healthcheck) or an ARC routing control Off
// (SWITCH=arc). The adapter knows which health check or routing control.
type Switch interface {
	// FailedOver reads the switch's actual position.
	FailedOver(ctx context.Context) (bool, error)
	// SetFailedOver sets it.
	SetFailedOver(ctx context.Context, failedOver bool) error
}

// healthCheckSwitch is one Route 53 health check as a Switch (inverted =
// failed over).
type healthCheckSwitch struct {
	hc HealthChecks
	id string
}

func (s healthCheckSwitch) FailedOver(ctx context.Context) (bool, error) {
	return s.hc.Inverted(ctx, s.id)
}

func (s healthCheckSwitch) SetFailedOver(ctx context.Context, failedOver bool) error {
	return s.hc.SetInverted(ctx, s.id, failedOver)
}

// Services reads and sets an ECS service's desired count.
type Services interface {
	DesiredCount(ctx context.Context, cluster, service string) (int, error)
	SetDesiredCount(ctx context.Context, cluster, service string, n int) error
}

// Queue reports a queue's backlog (approximate visible messages).
type Queue interface {
	Visible(ctx context.Context, queueURL string) (int, error)
}

// ErrConflict is returned by Store.SaveState when the state changed since it
// was read (another invocation won the conditional write).
var ErrConflict = errors.New("control state changed concurrently")

// ErrInProgress reports an event another invocation is handling right now.
// Handle returns it so that Lambda retries the delivery later: by then the
// event is done (the retry is a duplicate) or the other invocation died and
// its lease ran out (the retry takes the event over). Treating it as a
// duplicate instead would lose the event whenever that invocation times out.
var ErrInProgress = errors.New("alarm event is being handled by another invocation")

// Store is the control table: event claims (one action per alarm state
// change) and per-target state (cooldowns, hold-downs) with conditional writes.
type Store interface {
	// ClaimEvent records that this invocation handles event key and returns
	// its claim. ok is false when the event was already handled. When another
	// invocation holds the event and its lease (until now+lease) has not
	// expired, the error is ErrInProgress: that invocation may still die, so
	// the event is not yet handled.
	ClaimEvent(ctx context.Context, key string, now time.Time, lease time.Duration) (claim string, ok bool, err error)
	// FinishEvent marks event key handled with its decision, if claim still
	// holds it.
	FinishEvent(ctx context.Context, key, claim, decision string, now time.Time) error
	// ReleaseEvent drops claim on key so a retry can handle it.
	ReleaseEvent(ctx context.Context, key, claim string) error
	// LoadState returns the target's state (the zero State when none).
	LoadState(ctx context.Context, target string) (State, error)
	// SaveState writes s if the stored version is still s.Version and
	// returns s at its new version; ErrConflict otherwise.
	SaveState(ctx context.Context, target string, s State) (State, error)
}

// Deps are the handler's collaborators. Only those of the configured action
// are required: failover Switch (or, with SWITCH=healthcheck, HealthChecks),
// promote Services, scale Services and Queue; every action Store.
type Deps struct {
	// Switch is the failover switch; when nil with SWITCH=healthcheck, the
	// health check HEALTH_CHECK_ID through HealthChecks.
	Switch       Switch
	HealthChecks HealthChecks
	Services     Services
	Queue        Queue
	Store        Store
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives one line per decision (slog.Default() when nil).
	Logger *slog.Logger
}

// Handler applies one Action to alarm events and scheduled ticks.
type Handler struct {
	cfg    Config
	deps   Deps
	now    func() time.Time
	log    *slog.Logger
	target string
}

// ClaimLease bounds how long a crashed invocation's claim blocks a retry. It
// must be longer than the alarm functions' Timeout in template.yaml (so a
// live invocation's claim is never taken over) and shorter than the delay of
// Lambda's first asynchronous retry, about a minute (so the retry of an
// invocation that died at its timeout takes the event over instead of being
// turned away). internal/templatecheck checks both bounds.
const ClaimLease = 30 * time.Second

// maxAttempts bounds the optimistic-locking retries of one decision.
const maxAttempts = 5

// New returns the handler for cfg.Action over deps. cfg is checked again
// with ParseEnv's rules against the compiled-in residency policy, so a Config
// built by hand cannot bypass them (a SECONDARY_REGION outside this region's
// zone above all); a dependency the action needs and deps lacks is an error.
func New(cfg Config, deps Deps) (*Handler, error) {
	policy, err := residency.Default()
	if err != nil {
		return nil, configErr("residency policy: %v", err)
	}
	if err := cfg.validate(policy); err != nil {
		return nil, err
	}
	if cfg.Action == ActionFailover && cfg.Switch == "" {
		cfg.Switch = SwitchHealthCheck // ParseEnv's default, for a Config built by hand
	}
	if deps.Store == nil {
		return nil, configErr("no control table store")
	}
	switch cfg.Action {
	case ActionFailover:
		switch {
		case deps.Switch != nil:
		case cfg.Switch == SwitchARC:
			return nil, configErr("no ARC client for SWITCH=arc")
		case deps.HealthChecks == nil:
			return nil, configErr("no Route 53 client for ACTION=failover")
		default:
			deps.Switch = healthCheckSwitch{deps.HealthChecks, cfg.HealthCheckID}
		}
	case ActionPromote:
		if deps.Services == nil {
			return nil, configErr("no ECS client for ACTION=promote")
		}
	case ActionScale:
		if deps.Services == nil || deps.Queue == nil {
			return nil, configErr("ACTION=scale needs ECS and SQS clients")
		}
	}
	h := &Handler{cfg: cfg, deps: deps, now: deps.Now, log: deps.Logger, target: string(cfg.Action) + "/" + cfg.target()}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// Result says what one invocation did (returned by Process for callers such
// as the local stack and tests; Handle only logs it).
type Result struct {
	// Outcome is one of: ignored, duplicate, stale, acted, held.
	Outcome string
	// Reason explains the outcome.
	Reason string
}

// The outcomes of an invocation.
const (
	OutcomeIgnored   = "ignored"   // not a transition this action acts on
	OutcomeDuplicate = "duplicate" // a re-delivery of an event already handled
	OutcomeStale     = "stale"     // older than a state already seen
	OutcomeActed     = "acted"     // the target was changed
	OutcomeHeld      = "held"      // nothing to change (or held by cooldown/hold-down)
	OutcomeFuture    = "future"    // stamped more than MaxClockSkew ahead: refused, not recorded
)

// Handle is the Lambda entry point: an alarm action payload, its SNS form, or
// an EventBridge scheduled event (reconcile). A malformed event is an error
// naming the problem and causes no action.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) error {
	_, err := h.Process(ctx, payload)
	return err
}

// Process is Handle returning what was done.
func (h *Handler) Process(ctx context.Context, payload json.RawMessage) (Result, error) {
	if isScheduled(payload) {
		return h.Reconcile(ctx)
	}
	tr, err := alarm.Parse(payload)
	if err != nil {
		h.log.ErrorContext(ctx, "alarm event rejected", "action", h.cfg.Action, "error", err.Error())
		return Result{}, err
	}
	return h.Apply(ctx, tr)
}

// scheduledSniff recognises an EventBridge scheduled event.
type scheduledSniff struct {
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
}

func isScheduled(payload []byte) bool {
	if !bytes.Contains(payload, []byte(`"aws.events"`)) {
		return false
	}
	var s scheduledSniff
	return json.Unmarshal(payload, &s) == nil && s.Source == "aws.events" && s.DetailType == "Scheduled Event"
}

// Apply acts on one parsed alarm transition.
func (h *Handler) Apply(ctx context.Context, tr alarm.Transition) (Result, error) {
	logAttrs := []any{"action", h.cfg.Action, "alarm", tr.AlarmName, "from", tr.From, "to", tr.To, "stateAt", tr.At}
	if !tr.IsChange() || tr.To == alarm.StateInsufficientData {
		r := Result{Outcome: OutcomeIgnored, Reason: "not a transition to ALARM or OK"}
		h.log.InfoContext(ctx, "alarm event ignored", append(logAttrs, "reason", r.Reason)...)
		return r, nil
	}
	now := h.now()
	if err := CheckEventTime(tr.At, now); err != nil {
		// Neither claimed nor recorded: a far-future time would make every
		// genuine later event stale. Not an error either: a retry cannot fix
		// the payload, and the next genuine state change is acted on.
		r := Result{Outcome: OutcomeFuture, Reason: err.Error()}
		h.log.WarnContext(ctx, "alarm event refused", append(logAttrs, "outcome", r.Outcome, "reason", r.Reason)...)
		return r, nil
	}
	key := string(h.cfg.Action) + "/" + tr.Key()
	claim, claimed, err := h.deps.Store.ClaimEvent(ctx, key, now, ClaimLease)
	if errors.Is(err, ErrInProgress) {
		h.log.InfoContext(ctx, "alarm event in progress elsewhere: Lambda retries it", logAttrs...)
		return Result{}, err
	}
	if err != nil {
		return Result{}, fmt.Errorf("claim event: %w", err)
	}
	if !claimed {
		r := Result{Outcome: OutcomeDuplicate, Reason: "event already handled"}
		h.log.InfoContext(ctx, "alarm event duplicate", logAttrs...)
		return r, nil
	}
	r, err := h.decide(ctx, Trigger{To: tr.To}, tr.At)
	if err != nil {
		if rerr := h.deps.Store.ReleaseEvent(context.WithoutCancel(ctx), key, claim); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release event claim: %w", rerr))
		}
		h.log.ErrorContext(ctx, "alarm action failed", append(logAttrs, "error", err.Error())...)
		return Result{}, err
	}
	if err := h.deps.Store.FinishEvent(ctx, key, claim, r.Outcome+": "+r.Reason, h.now()); err != nil {
		// The action is done; a re-delivery will find the state unchanged
		// (or already applied) and do nothing, so this is only logged.
		h.log.WarnContext(ctx, "record decision", "error", err.Error())
	}
	h.log.InfoContext(ctx, "alarm action", append(logAttrs, "outcome", r.Outcome, "reason", r.Reason)...)
	return r, nil
}

// Reconcile is the scheduled tick: it completes a due fail-back (failover)
// and takes the next scale-in step (scale). Promote has nothing to reconcile.
func (h *Handler) Reconcile(ctx context.Context) (Result, error) {
	if h.cfg.Action == ActionPromote {
		return Result{Outcome: OutcomeIgnored, Reason: "promote has nothing to reconcile"}, nil
	}
	r, err := h.decide(ctx, Trigger{Tick: true}, time.Time{})
	if err != nil {
		h.log.ErrorContext(ctx, "reconcile failed", "action", h.cfg.Action, "error", err.Error())
		return Result{}, err
	}
	if r.Outcome == OutcomeActed {
		h.log.InfoContext(ctx, "reconcile", "action", h.cfg.Action, "outcome", r.Outcome, "reason", r.Reason)
	}
	return r, nil
}

// decide runs read → decide → conditional write → act, retrying the whole
// decision when another invocation changed the state in between.
func (h *Handler) decide(ctx context.Context, tr Trigger, at time.Time) (Result, error) {
	for range maxAttempts {
		r, err := h.attempt(ctx, tr, at)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return r, err
	}
	return Result{}, fmt.Errorf("%s: %w after %d attempts", h.target, ErrConflict, maxAttempts)
}

func (h *Handler) attempt(ctx context.Context, tr Trigger, at time.Time) (Result, error) {
	st, err := h.deps.Store.LoadState(ctx, h.target)
	if err != nil {
		return Result{}, fmt.Errorf("load control state: %w", err)
	}
	if !tr.Tick {
		// A recorded time beyond the skew allowance (written before events
		// were bounded) is not trusted to order events.
		if !st.LastAlarmAt.IsZero() && at.Before(st.LastAlarmAt) && CheckEventTime(st.LastAlarmAt, h.now()) == nil {
			return Result{Outcome: OutcomeStale, Reason: "older than the last state seen (" + st.LastAlarmAt.Format(time.RFC3339) + ")"}, nil
		}
	}
	now := h.now()
	var (
		change bool
		reason string
		next   State
		apply  func(context.Context) error
		// intent: the recorded state is the switch's intended position,
		// kept when setting the switch fails (failover).
		intent bool
		// readErr: the switch could not be read; the decision is made on
		// the recorded position and the invocation fails unless it sets
		// the switch.
		readErr error
		// cancelled: the decision drops an intended position the switch
		// never reached (logged once recorded).
		cancelled bool
	)
	switch h.cfg.Action {
	case ActionFailover:
		fo, err := h.deps.Switch.FailedOver(ctx)
		var d FailoverDecision
		if err != nil {
			readErr = fmt.Errorf("read %s switch: %w", h.cfg.Switch, err)
			d = DecideFailoverUnread(h.cfg, st, tr, now)
		} else {
			d = DecideFailover(h.cfg, st, fo, tr, now)
		}
		change, reason, next, intent, cancelled = d.Change, d.Reason, d.Next, true, d.Cancelled
		apply = func(ctx context.Context) error {
			return h.deps.Switch.SetFailedOver(ctx, d.Invert)
		}
	case ActionPromote:
		cur, err := h.deps.Services.DesiredCount(ctx, h.cfg.StandbyCluster, h.cfg.StandbyService)
		if err != nil {
			return Result{}, fmt.Errorf("read standby service: %w", err)
		}
		d := DecidePromote(h.cfg, st, cur, tr, now)
		change, reason, next = d.Change, d.Reason, d.Next
		apply = func(ctx context.Context) error {
			return h.deps.Services.SetDesiredCount(ctx, h.cfg.StandbyCluster, h.cfg.StandbyService, d.Desired)
		}
	case ActionScale:
		vis, err := h.deps.Queue.Visible(ctx, h.cfg.QueueURL)
		if err != nil {
			return Result{}, fmt.Errorf("read queue backlog: %w", err)
		}
		cur, err := h.deps.Services.DesiredCount(ctx, h.cfg.Cluster, h.cfg.Service)
		if err != nil {
			return Result{}, fmt.Errorf("read service: %w", err)
		}
		d := DecideScale(h.cfg, st, vis, cur, now)
		change, reason, next = d.Change, d.Reason, d.Next
		apply = func(ctx context.Context) error {
			return h.deps.Services.SetDesiredCount(ctx, h.cfg.Cluster, h.cfg.Service, d.Desired)
		}
	}
	if !tr.Tick {
		next.LastAlarm, next.LastAlarmAt = tr.To, at
	}
	if next == st && !change {
		if readErr != nil {
			return Result{}, readErr
		}
		return Result{Outcome: OutcomeHeld, Reason: reason}, nil
	}
	// The conditional write comes first (also when only the version moves,
	// as when the switch is driven to an unchanged intended position): only
	// the invocation that wins it acts, so cooldowns hold across concurrent
	// invocations and no stale invocation sets a position decided away.
	saved, err := h.deps.Store.SaveState(ctx, h.target, next)
	if err != nil {
		return Result{}, fmt.Errorf("save control state: %w", err)
	}
	if cancelled {
		h.log.WarnContext(ctx, "intended switch position cancelled", "action", h.cfg.Action, "switch", h.cfg.Switch, "reason", reason)
	}
	if !change && readErr != nil {
		return Result{}, readErr
	}
	if !change {
		return Result{Outcome: OutcomeHeld, Reason: reason}, nil
	}
	if err := apply(ctx); err != nil {
		if intent {
			err = errors.Join(readErr, err)
			// The intended position stays recorded (Pending): a retry of
			// the event or the scheduled reconcile sets it, and no decision
			// is reversed by a call that failed.
			return Result{}, fmt.Errorf("%s: %w (intended position recorded: the reconcile retries it)", reason, err)
		}
		// Give the cooldown back so a retry can act.
		undo := st
		undo.Version = saved.Version
		if _, uerr := h.deps.Store.SaveState(context.WithoutCancel(ctx), h.target, undo); uerr != nil {
			err = errors.Join(err, fmt.Errorf("restore control state: %w", uerr))
		}
		return Result{}, fmt.Errorf("%s: %w", reason, err)
	}
	if intent && saved.Pending {
		// The switch is at the intended position. Left pending (this write
		// lost), the next reconcile sees it there and clears it.
		done := saved
		done.Pending, done.ChangedAt = false, h.now()
		if _, err := h.deps.Store.SaveState(context.WithoutCancel(ctx), h.target, done); err != nil && !errors.Is(err, ErrConflict) {
			h.log.WarnContext(ctx, "record switch position", "action", h.cfg.Action, "error", err.Error())
		}
	}
	return Result{Outcome: OutcomeActed, Reason: reason}, nil
}
