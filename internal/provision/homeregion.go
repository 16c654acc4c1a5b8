package provision

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// This file is the product mapping: what a region of homeregion is (its
// tables, queues, user pool, key, alarms and the functions' environment),
// read from the templates' Outputs and the functions' environment after the
// generic evaluator (engine.go) deployed the templates.

// Stack is what Apply created.
type Stack struct {
	Endpoint       string    `json:"endpoint"`
	RegistryRegion string    `json:"registryRegion"`
	Regions        []*Region `json:"regions"`
	// Warnings name what the secondary templates (onprem.yaml) define that
	// could not be created locally; the main template's resources never warn:
	// they fail Apply.
	Warnings []string `json:"warnings,omitempty"`
	// Notes say where the local stack wires differently from the templates'
	// defaults (e.g. alarm functions pointed at onprem.yaml's ECS services).
	Notes []string `json:"notes,omitempty"`
}

// Region returns the named region's resources, or nil.
func (s *Stack) Region(name string) *Region {
	for _, r := range s.Regions {
		if r.Region == name {
			return r
		}
	}
	return nil
}

// Region holds one region's provisioned resources, with the well-known ones
// picked out of the main template's Outputs (regionOutputs).
type Region struct {
	Region         string `json:"region"`
	RegistryTable  string `json:"registryTable,omitempty"`
	OrdersTable    string `json:"ordersTable,omitempty"`
	ControlTable   string `json:"controlTable,omitempty"`
	OrdersQueueURL string `json:"ordersQueueUrl,omitempty"`
	OrdersDLQURL   string `json:"ordersDlqUrl,omitempty"`
	PiiKeyID       string `json:"piiKeyId,omitempty"`
	UserPoolID     string `json:"userPoolId,omitempty"`
	ClientID       string `json:"clientId,omitempty"`
	EcsCluster     string `json:"ecsCluster,omitempty"`
	PrimaryService string `json:"primaryService,omitempty"`
	// StandbyCluster is the standby site's ECS cluster (often EcsCluster).
	StandbyCluster string     `json:"standbyCluster,omitempty"`
	StandbyService string     `json:"standbyService,omitempty"`
	HealthCheckID  string     `json:"healthCheckId,omitempty"`
	Alarms         []AlarmDef `json:"alarms,omitempty"`
	// Functions by logical id, with their resolved environment.
	Functions map[string]Function `json:"functions,omitempty"`
	// Resources by logical id: everything evaluated in this region.
	Resources map[string]Created `json:"resources,omitempty"`
	// Outputs are the main template's outputs evaluated in this region.
	Outputs map[string]string `json:"outputs,omitempty"`
}

// regionOutputs says which Output of the main template holds which of a
// Region's values. A required output the template does not declare fails
// Apply: the template is the local stack's only source of resources.
var regionOutputs = []struct {
	output   string
	required bool
	field    func(*Region) *string
}{
	{"RegistryTableName", true, func(r *Region) *string { return &r.RegistryTable }},
	{"OrdersTableName", true, func(r *Region) *string { return &r.OrdersTable }},
	{"ControlTableName", true, func(r *Region) *string { return &r.ControlTable }},
	{"OrdersQueueUrl", true, func(r *Region) *string { return &r.OrdersQueueURL }},
	{"OrdersDeadLetterQueueUrl", true, func(r *Region) *string { return &r.OrdersDLQURL }},
	{"PiiKeyArn", true, func(r *Region) *string { return &r.PiiKeyID }},
	{"UserPoolId", true, func(r *Region) *string { return &r.UserPoolID }},
	{"UserPoolClientId", true, func(r *Region) *string { return &r.ClientID }},
	// Only where the region is the failover primary (the output's condition).
	{"ApiFailoverSwitchHealthCheckId", false, func(r *Region) *string { return &r.HealthCheckID }},
}

// siteOutputs are the Outputs of the on-prem template (onprem.yaml) that
// name the ECS sites the alarm actions act on.
const (
	siteClusterOutput        = "ClusterName"
	sitePrimaryServiceOutput = "PrimaryServiceName"
	siteStandbyServiceOutput = "StandbyServiceName"
)

// FunctionByAction returns the function whose ACTION variable is action
// (failover, promote, scale).
func (r *Region) FunctionByAction(action string) (Function, bool) {
	ids := make([]string, 0, len(r.Functions))
	for id := range r.Functions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if f := r.Functions[id]; f.Action == action {
			return f, true
		}
	}
	return Function{}, false
}

// Alarm returns the alarm with the given name or logical id.
func (r *Region) Alarm(name string) (AlarmDef, bool) {
	for _, a := range r.Alarms {
		if a.Name == name || a.LogicalID == name {
			return a, true
		}
	}
	return AlarmDef{}, false
}

// Function is a Lambda function of the template: not run by moto, but its
// resolved environment tells the local stack how to configure the handler.
type Function struct {
	LogicalID string            `json:"logicalId"`
	Name      string            `json:"name"`
	ARN       string            `json:"arn"`
	Action    string            `json:"action,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// AlarmDef is a provisioned CloudWatch alarm and what its rule is.
type AlarmDef struct {
	LogicalID          string            `json:"logicalId"`
	Name               string            `json:"name"`
	ARN                string            `json:"arn"`
	Namespace          string            `json:"namespace,omitempty"`
	MetricName         string            `json:"metricName,omitempty"`
	Dimensions         map[string]string `json:"dimensions,omitempty"`
	Statistic          string            `json:"statistic,omitempty"`
	Period             int               `json:"period,omitempty"`
	EvaluationPeriods  int               `json:"evaluationPeriods"`
	DatapointsToAlarm  int               `json:"datapointsToAlarm"`
	Threshold          float64           `json:"threshold"`
	ComparisonOperator string            `json:"comparisonOperator"`
	TreatMissingData   string            `json:"treatMissingData,omitempty"`
	// MetricMath is set when the alarm watches a metric math expression
	// (Metrics with an Expression); Namespace/MetricName are then its first
	// input metric, not what the threshold applies to.
	MetricMath bool `json:"metricMath,omitempty"`
	// Action is the ACTION (failover, promote, scale) of the function the
	// alarm's actions invoke; Function is that function's logical id.
	Action   string `json:"action,omitempty"`
	Function string `json:"function,omitempty"`
	// AlarmActions, OKActions are the resolved action ARNs.
	AlarmActions []string `json:"alarmActions,omitempty"`
	OKActions    []string `json:"okActions,omitempty"`
}

// Apply creates the definitions in every region of opts against moto at
// opts.Endpoint, the registry region first (it is provisioned too when it is
// not one of opts.Regions: the multi-Region key's primary lives there), and
// returns what it created.
func Apply(ctx context.Context, defs *Definitions, opts Options) (*Stack, error) {
	if opts.Endpoint == "" {
		return nil, errors.New("provision: no moto endpoint")
	}
	if len(opts.Regions) == 0 {
		return nil, errors.New("provision: no regions")
	}
	opts = opts.withDefaults(opts.Regions[0])
	a, err := newApplier(defs, opts)
	if err != nil {
		return nil, err
	}
	// Registry region first: the primary keys must exist before replicas.
	order := []string{opts.RegistryRegion}
	for _, r := range opts.Regions {
		if r != opts.RegistryRegion {
			order = append(order, r)
		}
	}
	st := &Stack{Endpoint: opts.Endpoint, RegistryRegion: opts.RegistryRegion}
	byName := map[string]*Region{}
	for _, region := range order {
		r, err := a.region(ctx, region)
		if err != nil {
			return nil, fmt.Errorf("provision %s: %w", region, err)
		}
		byName[region] = r
	}
	for _, region := range opts.Regions {
		st.Regions = append(st.Regions, byName[region])
	}
	st.Warnings, st.Notes = a.warnings, a.notes
	if st.Region(opts.RegistryRegion) == nil {
		st.Regions = append(st.Regions, byName[opts.RegistryRegion])
	}
	return st, nil
}

// region deploys the templates in one region and maps what came out.
func (a *applier) region(ctx context.Context, region string) (*Region, error) {
	rr, err := a.newRegionRun(region, false)
	if err != nil {
		return nil, err
	}
	if err := rr.deploy(ctx); err != nil {
		return nil, err
	}
	out := &Region{Region: region, Resources: rr.applied}
	if out.Functions, err = rr.functions(); err != nil {
		return nil, err
	}
	if out.Outputs, err = rr.outputs(a.defs.main()); err != nil {
		return nil, err
	}
	for _, o := range regionOutputs {
		_, declared := a.defs.main().Outputs[o.output]
		if o.required && !declared {
			return nil, fmt.Errorf("%s declares no Output %s (the local stack reads the region's resources from the Outputs)", a.defs.main().Path, o.output)
		}
		*o.field(out) = out.Outputs[o.output]
	}
	out.Alarms = rr.alarms(out.Functions)
	if err := rr.sites(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// functions evaluates the environment of every function created in this
// region.
func (rr *regionRun) functions() (map[string]Function, error) {
	out := map[string]Function{}
	for _, r := range rr.defs.resources() {
		if r.Type != "AWS::Serverless::Function" && r.Type != "AWS::Lambda::Function" {
			continue
		}
		c, ok := rr.applied[r.LogicalID]
		if !ok {
			continue
		}
		f := Function{LogicalID: r.LogicalID, Name: c.Ref, ARN: c.Attrs["Arn"], Env: map[string]string{}}
		// SAM Globals are not merged here: the contract's variables are per function.
		if envv, ok := r.Properties["Environment"].(map[string]any); ok {
			vars, err := rr.ev(r.tpl).eval(envv["Variables"])
			if err != nil {
				return nil, fmt.Errorf("%s: environment: %w", r.LogicalID, err)
			}
			vm, _ := vars.(map[string]any)
			for k, v := range vm {
				s, err := template.ScalarString(v)
				if err != nil {
					return nil, fmt.Errorf("%s: environment %s: %w", r.LogicalID, k, err)
				}
				f.Env[k] = s
			}
		}
		f.Action = f.Env["ACTION"]
		out[r.LogicalID] = f
	}
	return out, nil
}

// alarms describes the alarms created in this region, each with the ACTION
// of the function its actions invoke.
func (rr *regionRun) alarms(fns map[string]Function) []AlarmDef {
	arnToFn := map[string]Function{}
	for _, f := range fns {
		arnToFn[f.ARN] = f
		arnToFn[f.Name] = f
	}
	var out []AlarmDef
	for id, c := range rr.applied {
		if c.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		a := alarmDef(id, c)
		for _, act := range append(append([]string{}, a.AlarmActions...), a.OKActions...) {
			if f, ok := arnToFn[strings.TrimSuffix(act, ":$LATEST")]; ok {
				a.Action, a.Function = f.Action, f.LogicalID
				break
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// alarmDef reads an alarm's rule from its evaluated properties: a plain
// metric alarm's metric, or a metric math alarm's first input metric.
func alarmDef(id string, c Created) AlarmDef {
	p := c.props
	a := AlarmDef{LogicalID: id, Name: c.Ref, ARN: c.Attrs["Arn"], Dimensions: map[string]string{},
		ComparisonOperator: sget(p, "ComparisonOperator"), TreatMissingData: sget(p, "TreatMissingData"),
		AlarmActions: toStrings(p["AlarmActions"]), OKActions: toStrings(p["OKActions"])}
	a.Threshold, _ = toFloat(p["Threshold"])
	a.EvaluationPeriods, _ = toInt(p["EvaluationPeriods"])
	a.DatapointsToAlarm = a.EvaluationPeriods
	if n, ok := toInt(p["DatapointsToAlarm"]); ok {
		a.DatapointsToAlarm = n
	}
	a.Period, _ = toInt(p["Period"])
	dims := func(v any) {
		for _, d := range maps(v) {
			a.Dimensions[sget(d, "Name")] = sget(d, "Value")
		}
	}
	if v := sget(p, "MetricName"); v != "" {
		a.MetricName, a.Namespace, a.Statistic = v, sget(p, "Namespace"), sget(p, "Statistic")
		dims(p["Dimensions"])
	}
	for _, m := range maps(p["Metrics"]) {
		if sget(m, "Expression") != "" {
			a.MetricMath = true
		}
		ms, ok := m["MetricStat"].(map[string]any)
		if !ok || a.MetricName != "" {
			continue
		}
		mm, _ := ms["Metric"].(map[string]any)
		a.MetricName, a.Namespace, a.Statistic = sget(mm, "MetricName"), sget(mm, "Namespace"), sget(ms, "Stat")
		dims(mm["Dimensions"])
		if n, ok := toInt(ms["Period"]); ok {
			a.Period = n
		}
	}
	return a
}

// sites finds the ECS sites the alarm functions act on: the scale target is
// the primary site, the promote target the standby. The services an on-prem
// template (onprem.yaml) names in its Outputs are those sites: the functions
// are pointed at them, as a deployment passes that stack's outputs to the
// regional stack's parameters. Otherwise the services the functions name
// are created here (the alarm actions need them to exist).
func (rr *regionRun) sites(ctx context.Context, out *Region) error {
	scale, hasScale := out.FunctionByAction("scale")
	promote, hasPromote := out.FunctionByAction("promote")
	if hasScale {
		out.EcsCluster, out.PrimaryService = scale.Env["ECS_CLUSTER"], scale.Env["ECS_SERVICE"]
	}
	if hasPromote {
		out.StandbyCluster, out.StandbyService = promote.Env["STANDBY_ECS_CLUSTER"], promote.Env["STANDBY_ECS_SERVICE"]
	}
	for _, t := range rr.defs.Templates[1:] {
		if _, ok := t.Outputs[siteClusterOutput]; !ok {
			continue
		}
		outs, err := rr.outputs(t)
		if err != nil {
			rr.warn(fmt.Sprintf("%s: %v", t.Path, err))
			continue
		}
		cluster := outs[siteClusterOutput]
		repoint := func(f Function, ok bool, clusterVar, serviceVar, service string, site ...*string) {
			if service == "" {
				return
			}
			*site[0], *site[1] = cluster, service
			if !ok {
				return
			}
			if f.Env[clusterVar] != cluster || f.Env[serviceVar] != service {
				rr.note(fmt.Sprintf("%s: %s %s=%s %s=%s (the on-prem template's service; template default %s/%s)", rr.region, f.LogicalID,
					clusterVar, cluster, serviceVar, service, f.Env[clusterVar], f.Env[serviceVar]))
			}
			f.Env[clusterVar], f.Env[serviceVar] = cluster, service
			out.Functions[f.LogicalID] = f
		}
		repoint(scale, hasScale, "ECS_CLUSTER", "ECS_SERVICE", outs[sitePrimaryServiceOutput], &out.EcsCluster, &out.PrimaryService)
		repoint(promote, hasPromote, "STANDBY_ECS_CLUSTER", "STANDBY_ECS_SERVICE", outs[siteStandbyServiceOutput], &out.StandbyCluster, &out.StandbyService)
		break
	}
	if out.PrimaryService != "" {
		min := 1
		if n, ok := toInt(scale.Env["MIN_TASKS"]); ok {
			min = n
		}
		if err := rr.ensureService(ctx, out.EcsCluster, out.PrimaryService, min); err != nil {
			return fmt.Errorf("primary site service: %w", err)
		}
	}
	if out.StandbyService != "" {
		if out.StandbyCluster == "" {
			out.StandbyCluster = out.EcsCluster
		}
		if err := rr.ensureService(ctx, out.StandbyCluster, out.StandbyService, 0); err != nil {
			return fmt.Errorf("standby site service: %w", err)
		}
	}
	return nil
}

// FunctionEnv evaluates, without creating anything, the environment of every
// function the definitions give region: parameters, conditions and mappings
// resolve exactly as in Apply; references to resources resolve to
// placeholders (so only values such as STANDBY_TASKS or BACKLOG_PER_TASK are
// meaningful). Tools such as cmd/demo use it to learn the alarm actions'
// settings.
func FunctionEnv(defs *Definitions, opts Options, region string) (map[string]Function, error) {
	a, err := newApplier(defs, opts.withDefaults(region))
	if err != nil {
		return nil, err
	}
	rr, err := a.newRegionRun(region, true)
	if err != nil {
		return nil, err
	}
	if err := rr.deploy(context.Background()); err != nil {
		return nil, err
	}
	return rr.functions()
}
