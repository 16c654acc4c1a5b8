// Package alarmaction decides and applies what a CloudWatch alarm state change
// means for homeregion: fail traffic over to the secondary region (a Route 53
// health check inverted, SWITCH=healthcheck, or an ARC routing control set
// Off through the cluster's data-plane endpoints, SWITCH=arc), promote the
// standby on-prem site (ECS), or scale the on-prem order processors by queue
// depth (SQS → ECS).
//
// One Handler serves one Action (the deployed function's ACTION). It accepts
// the alarm → Lambda action payload and the SNS-delivered form (shared/alarm),
// plus an EventBridge "Scheduled Event" tick that reconciles what a single
// alarm transition cannot finish on its own: a fail-back that becomes due once
// the hold-down has passed, and stepwise scale-in one step per cooldown.
//
// Every decision is recorded in the control table with conditional writes:
// the event item (alarm ARN + new state + state timestamp) makes re-deliveries
// one action, and the per-target state item (optimistic version) makes
// cooldowns and hold-downs hold across concurrent invocations. For failover
// the state item holds the switch's intended position, written before the
// switch is set: a switch call that fails is repeated (by the event's retry
// or the scheduled reconcile) until the switch is there, never reversed.
package alarmaction

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/homeregion/homeregion/shared/awsclient/arccluster"
	"github.com/homeregion/homeregion/shared/awsname"
)

// Action is what a deployed alarm function does (ACTION).
type Action string

// The three actions.
const (
	ActionFailover Action = "failover"
	ActionPromote  Action = "promote"
	ActionScale    Action = "scale"
)

// Failback says how the failover action returns traffic to the primary.
type Failback string

// The fail-back modes (FAILBACK).
const (
	// FailbackAuto fails back on OK once HoldDown has passed since the failover.
	FailbackAuto Failback = "auto"
	// FailbackManual never fails back by itself: an operator does.
	FailbackManual Failback = "manual"
)

// SwitchKind is what the failover action flips (SWITCH).
type SwitchKind string

// The failover switches.
const (
	// SwitchHealthCheck inverts the primary record's Route 53 health check
	// (UpdateHealthCheck: Route 53's control plane).
	SwitchHealthCheck SwitchKind = "healthcheck"
	// SwitchARC turns an ARC routing control Off through the cluster's
	// data-plane endpoints.
	SwitchARC SwitchKind = "arc"
)

// ArcEndpoint is one of an ARC cluster's regional endpoints (URL: https,
// or http://127.0.0.1 for the local stack): arcops's own type, so the
// configuration reaches the client as it was parsed.
type ArcEndpoint = arccluster.Endpoint

// MaxArcEndpoints is the number of endpoints an ARC cluster has.
const MaxArcEndpoints = 5

// DefaultCooldown is the scale-in cooldown when COOLDOWN_SECONDS is not set.
const DefaultCooldown = 5 * time.Minute

// Config mirrors the function's environment variables; ParseEnv reads and
// checks it. Only the fields of Action are used.
type Config struct {
	Action Action
	// Region is this function's region (AWS_REGION).
	Region string
	// ControlTable is the decision log / cooldown table (CONTROL_TABLE).
	ControlTable string

	// Switch is the failover switch (SWITCH; SwitchHealthCheck when unset).
	Switch SwitchKind
	// HealthCheckID is the primary endpoint's Route 53 health check
	// (HEALTH_CHECK_ID; SWITCH=healthcheck).
	HealthCheckID string
	// RoutingControlARN is this region's ARC routing control
	// (ROUTING_CONTROL_ARN; SWITCH=arc).
	RoutingControlARN string
	// ArcEndpoints are the ARC cluster's endpoints, tried in turn
	// (ARC_ENDPOINTS; SWITCH=arc).
	ArcEndpoints []ArcEndpoint
	// SecondaryRegion is where the failover record sends traffic (SECONDARY_REGION).
	SecondaryRegion string
	// Failback is auto or manual (FAILBACK).
	Failback Failback
	// HoldDown is the minimum time between a failover and an automatic
	// fail-back (HOLD_DOWN_SECONDS).
	HoldDown time.Duration

	// StandbyCluster and StandbyService name the standby site's ECS service
	// (STANDBY_ECS_CLUSTER, STANDBY_ECS_SERVICE).
	StandbyCluster, StandbyService string
	// StandbyTasks is the promoted (warm) desired count (STANDBY_TASKS).
	StandbyTasks int

	// QueueURL is the orders queue whose backlog drives scaling (QUEUE_URL).
	QueueURL string
	// Cluster and Service name the scaled ECS service (ECS_CLUSTER, ECS_SERVICE).
	Cluster, Service string
	// BacklogPerTask is how many visible messages one task is expected to
	// absorb (BACKLOG_PER_TASK).
	BacklogPerTask int
	// MinTasks and MaxTasks bound the desired count (MIN_TASKS, MAX_TASKS);
	// MaxTasks is the on-prem site's real capacity.
	MinTasks, MaxTasks int
	// Cooldown is the minimum time between a change and a scale-in step
	// (COOLDOWN_SECONDS, optional, DefaultCooldown when zero).
	Cooldown time.Duration
}

// zoneChecker answers the residency question the failover action needs: are two
// regions in the same residency zone? (*residency.Policy satisfies it.)
type zoneChecker interface {
	SameZone(a, b string) bool
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// validate checks c for its Action (ParseEnv's rules). For failover, zones
// must say that SECONDARY_REGION is in this region's residency zone:
// failover never moves traffic out of a zone. Errors name the environment
// variable at fault.
func (c Config) validate(zones zoneChecker) error {
	switch c.Action {
	case ActionFailover, ActionPromote, ActionScale:
	case "":
		return configErr("ACTION is not set (failover, promote or scale)")
	default:
		return configErr("ACTION %q is not failover, promote or scale", c.Action)
	}
	switch {
	case c.Region == "":
		return configErr("AWS_REGION is not set")
	case !awsname.Region(c.Region):
		return configErr("AWS_REGION %q is not a region name", c.Region)
	case c.ControlTable == "":
		return configErr("CONTROL_TABLE is not set")
	case !awsname.Table(c.ControlTable):
		return configErr("CONTROL_TABLE %q is not a DynamoDB table name", c.ControlTable)
	}
	switch c.Action {
	case ActionFailover:
		if err := c.validateSwitch(); err != nil {
			return err
		}
		if c.SecondaryRegion == "" {
			return configErr("SECONDARY_REGION is required for ACTION=failover")
		}
		if !awsname.Region(c.SecondaryRegion) {
			return configErr("SECONDARY_REGION %q is not a region name", c.SecondaryRegion)
		}
		if c.SecondaryRegion == c.Region {
			return configErr("SECONDARY_REGION %s is this region", c.SecondaryRegion)
		}
		if zones == nil {
			return configErr("no residency policy to check SECONDARY_REGION against")
		}
		if !zones.SameZone(c.Region, c.SecondaryRegion) {
			return configErr("SECONDARY_REGION %s is outside the residency zone of %s: failover never moves traffic out of a zone", c.SecondaryRegion, c.Region)
		}
		switch c.Failback {
		case FailbackAuto:
			if c.HoldDown <= 0 {
				return configErr("HOLD_DOWN_SECONDS must be > 0 with FAILBACK=auto")
			}
		case FailbackManual:
			if c.HoldDown < 0 {
				return configErr("HOLD_DOWN_SECONDS must be >= 0")
			}
		default:
			return configErr("FAILBACK %q is not auto or manual", c.Failback)
		}
	case ActionPromote:
		if c.StandbyCluster == "" {
			return configErr("STANDBY_ECS_CLUSTER is required for ACTION=promote")
		}
		if c.StandbyService == "" {
			return configErr("STANDBY_ECS_SERVICE is required for ACTION=promote")
		}
		if c.StandbyTasks < 1 {
			return configErr("STANDBY_TASKS must be >= 1")
		}
	case ActionScale:
		if c.QueueURL == "" {
			return configErr("QUEUE_URL is required for ACTION=scale")
		}
		if !awsname.QueueURL(c.QueueURL) {
			return configErr("QUEUE_URL %q is not an SQS queue URL", c.QueueURL)
		}
		if c.Cluster == "" {
			return configErr("ECS_CLUSTER is required for ACTION=scale")
		}
		if c.Service == "" {
			return configErr("ECS_SERVICE is required for ACTION=scale")
		}
		if c.BacklogPerTask < 1 {
			return configErr("BACKLOG_PER_TASK must be >= 1")
		}
		if c.MinTasks < 0 {
			return configErr("MIN_TASKS must be >= 0")
		}
		if c.MaxTasks < 1 {
			return configErr("MAX_TASKS must be >= 1")
		}
		if c.MinTasks > c.MaxTasks {
			return configErr("MIN_TASKS %d is above MAX_TASKS %d", c.MinTasks, c.MaxTasks)
		}
		if c.Cooldown < 0 {
			return configErr("COOLDOWN_SECONDS must be >= 0")
		}
	default:
		return configErr("ACTION %q is not failover, promote or scale", c.Action)
	}
	return nil
}

// validateSwitch checks the failover switch's variables.
func (c Config) validateSwitch() error {
	switch c.Switch {
	case SwitchHealthCheck, "":
		if c.HealthCheckID == "" {
			return configErr("HEALTH_CHECK_ID is required for ACTION=failover with SWITCH=healthcheck")
		}
	case SwitchARC:
		if c.RoutingControlARN == "" {
			return configErr("ROUTING_CONTROL_ARN is required for SWITCH=arc")
		}
		if !routingControlARN(c.RoutingControlARN) {
			return configErr("ROUTING_CONTROL_ARN %q is not an ARC routing control ARN", c.RoutingControlARN)
		}
		if n := len(c.ArcEndpoints); n < 1 || n > MaxArcEndpoints {
			return configErr("ARC_ENDPOINTS has %d endpoints, want 1 to %d (region=url,...)", n, MaxArcEndpoints)
		}
		seen := map[string]bool{}
		for _, e := range c.ArcEndpoints {
			if !awsname.Region(e.Region) {
				return configErr("ARC_ENDPOINTS: %q is not a region name", e.Region)
			}
			if seen[e.Region] {
				return configErr("ARC_ENDPOINTS: region %s is listed twice", e.Region)
			}
			seen[e.Region] = true
			if !arcEndpointURL(e.URL) {
				// The value is not repeated: a rejected URL may carry user:password.
				return configErr("ARC_ENDPOINTS: the URL of %s is not an https URL without credentials (or http://127.0.0.1 for local use)", e.Region)
			}
		}
	default:
		return configErr("SWITCH %q is not healthcheck or arc", c.Switch)
	}
	return nil
}

// routingControlARN reports whether s looks like an ARC routing control ARN
// (arn:<partition>:route53-recovery-control::<account>:controlpanel/<id>/routingcontrol/<id>).
func routingControlARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] == "route53-recovery-control" &&
		parts[3] == "" && parts[4] != "" && strings.HasPrefix(parts[5], "controlpanel/") &&
		strings.Contains(parts[5], "/routingcontrol/") && !strings.ContainsAny(s, " ,")
}

// arcEndpointURL reports whether s is an https URL with a host, or an http
// URL on 127.0.0.1 (the local stack's fake cluster).
func arcEndpointURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return u.Hostname() == "127.0.0.1"
	}
	return false
}

func (c Config) cooldown() time.Duration {
	if c.Cooldown == 0 {
		return DefaultCooldown
	}
	return c.Cooldown
}

// target is the resource the action controls: the key of its state item.
func (c Config) target() string {
	switch c.Action {
	case ActionFailover:
		if c.Switch == SwitchARC {
			return "routingcontrol/" + c.RoutingControlARN
		}
		return "healthcheck/" + c.HealthCheckID
	case ActionPromote:
		return "ecs/" + c.StandbyCluster + "/" + c.StandbyService
	default:
		return "ecs/" + c.Cluster + "/" + c.Service
	}
}
