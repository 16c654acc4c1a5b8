package alarmaction

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/homeregion/homeregion/shared/residency"
)

// ParseEnv reads a Config from the function's environment variables through
// getenv: ACTION, AWS_REGION, CONTROL_TABLE and the variables of the chosen
// action (failover: SWITCH, then HEALTH_CHECK_ID for healthcheck or
// ROUTING_CONTROL_ARN and ARC_ENDPOINTS for arc, SECONDARY_REGION, FAILBACK,
// HOLD_DOWN_SECONDS; promote: STANDBY_ECS_CLUSTER,
// STANDBY_ECS_SERVICE, STANDBY_TASKS; scale: QUEUE_URL, ECS_CLUSTER,
// ECS_SERVICE, BACKLOG_PER_TASK, MIN_TASKS, MAX_TASKS and the optional
// COOLDOWN_SECONDS). It is the one home of the alarm functions' configuration
// rules: names (awsname), bounds, and the residency rule that failover never
// moves traffic out of this region's zone (the policy compiled into the
// binary, residency.Default). The error names the first missing or malformed
// variable and wraps ErrConfig.
func ParseEnv(getenv func(string) string) (Config, error) {
	policy, err := residency.Default()
	if err != nil {
		return Config{}, fmt.Errorf("%w: residency policy: %w", ErrConfig, err)
	}
	return parseEnv(getenv, policy)
}

// parseEnv is ParseEnv with the residency zones injected (tests).
func parseEnv(getenv func(string) string, zones zoneChecker) (Config, error) {
	c, err := readEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	if err := c.validate(zones); err != nil {
		return Config{}, err
	}
	return c, nil
}

// readEnv reads the variables of c's action; validate checks them.
func readEnv(getenv func(string) string) (Config, error) {
	p := envParser{getenv: getenv}
	c := Config{
		Action:       Action(strings.TrimSpace(getenv("ACTION"))),
		Region:       strings.TrimSpace(getenv("AWS_REGION")),
		ControlTable: strings.TrimSpace(getenv("CONTROL_TABLE")),
	}
	switch c.Action {
	case ActionFailover:
		c.Switch = SwitchKind(strings.TrimSpace(getenv("SWITCH")))
		switch c.Switch {
		case "", SwitchHealthCheck:
			c.Switch = SwitchHealthCheck
			c.HealthCheckID = p.required("HEALTH_CHECK_ID")
		case SwitchARC:
			c.RoutingControlARN = p.required("ROUTING_CONTROL_ARN")
			c.ArcEndpoints = p.arcEndpoints("ARC_ENDPOINTS")
		} // any other SWITCH: validate names it
		c.SecondaryRegion = p.required("SECONDARY_REGION")
		c.Failback = Failback(p.required("FAILBACK"))
		if c.Failback == FailbackManual && getenv("HOLD_DOWN_SECONDS") == "" {
			break
		}
		c.HoldDown = p.seconds("HOLD_DOWN_SECONDS", true)
	case ActionPromote:
		c.StandbyCluster = p.required("STANDBY_ECS_CLUSTER")
		c.StandbyService = p.required("STANDBY_ECS_SERVICE")
		c.StandbyTasks = p.integer("STANDBY_TASKS", true)
	case ActionScale:
		c.QueueURL = p.required("QUEUE_URL")
		c.Cluster = p.required("ECS_CLUSTER")
		c.Service = p.required("ECS_SERVICE")
		c.BacklogPerTask = p.integer("BACKLOG_PER_TASK", true)
		c.MinTasks = p.integer("MIN_TASKS", true)
		c.MaxTasks = p.integer("MAX_TASKS", true)
		c.Cooldown = p.seconds("COOLDOWN_SECONDS", false)
	} // any other ACTION: validate names it
	if p.err != nil {
		return Config{}, p.err
	}
	return c, nil
}

// envParser keeps the first error.
type envParser struct {
	getenv func(string) string
	err    error
}

func (p *envParser) required(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" && p.err == nil {
		p.err = configErr("%s is not set", name)
	}
	return v
}

// arcEndpoints reads region=url,region=url,...; validate checks the
// regions, the URLs and the count.
func (p *envParser) arcEndpoints(name string) []ArcEndpoint {
	v := p.required(name)
	if v == "" {
		return nil
	}
	var eps []ArcEndpoint
	for _, entry := range strings.Split(v, ",") {
		region, u, ok := strings.Cut(strings.TrimSpace(entry), "=")
		region, u = strings.TrimSpace(region), strings.TrimSpace(u)
		if (!ok || region == "" || u == "") && p.err == nil {
			p.err = configErr("%s entry %d is not region=url", name, len(eps)+1)
		}
		eps = append(eps, ArcEndpoint{Region: region, URL: u})
	}
	return eps
}

func (p *envParser) integer(name string, required bool) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		if required && p.err == nil {
			p.err = configErr("%s is not set", name)
		}
		return 0
	}
	n, err := strconv.Atoi(v)
	if (err != nil || n < 0) && p.err == nil {
		p.err = configErr("%s %q is not a non-negative integer", name, v)
	}
	return n
}

func (p *envParser) seconds(name string, required bool) time.Duration {
	n := p.integer(name, required)
	return time.Duration(n) * time.Second
}

// String describes c without secrets (there are none): for one cold-start log line.
func (c Config) String() string {
	switch c.Action {
	case ActionFailover:
		sw := "health check " + c.HealthCheckID
		if c.Switch == SwitchARC {
			regions := make([]string, len(c.ArcEndpoints))
			for i, e := range c.ArcEndpoints {
				regions[i] = e.Region
			}
			sw = fmt.Sprintf("routing control %s via %s", c.RoutingControlARN, strings.Join(regions, ","))
		}
		return fmt.Sprintf("failover %s -> %s, failback %s, hold-down %s", sw, c.SecondaryRegion, c.Failback, c.HoldDown)
	case ActionPromote:
		return fmt.Sprintf("promote %s/%s to %d tasks", c.StandbyCluster, c.StandbyService, c.StandbyTasks)
	case ActionScale:
		return fmt.Sprintf("scale %s/%s: %d per task, %d..%d tasks, cooldown %s", c.Cluster, c.Service, c.BacklogPerTask, c.MinTasks, c.MaxTasks, c.cooldown())
	}
	return "action " + string(c.Action)
}
