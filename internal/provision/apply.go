package provision

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/awsconfig/cwquery"
)

// DefaultStackName is the stack name ${AWS::StackName} evaluates to locally.
const DefaultStackName = "homeregion"

// DefaultAccountID is moto's default account.
const DefaultAccountID = "123456789012"

// Options say where and what to provision.
type Options struct {
	// Endpoint is moto_server's URL, e.g. http://127.0.0.1:5000.
	Endpoint string
	// Regions to provision; the first region is used when RegistryRegion is empty.
	Regions []string
	// RegistryRegion owns the registry table's claims and the primary PII key.
	RegistryRegion string
	// StackName substitutes ${AWS::StackName} (default "homeregion").
	StackName string
	// AccountID substitutes ${AWS::AccountId} (default moto's 123456789012).
	AccountID string
	// Parameters override template parameter values in every region.
	Parameters map[string]string
	// RegionParameters override parameter values per region (over Parameters).
	RegionParameters map[string]map[string]string
	// Config, when set, is the base aws.Config (credentials, HTTP client);
	// its region and endpoint are replaced. Default: static test credentials.
	Config *aws.Config
}

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
// picked out (from the functions' environment variables, which name them by
// the configuration contract, falling back to conventional logical ids).
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
}

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

// Created is one evaluated resource: Ref is what !Ref returns, Attrs what
// !GetAtt returns. Placeholder is true for types moto does not host.
type Created struct {
	Type        string            `json:"type"`
	Ref         string            `json:"ref"`
	Attrs       map[string]string `json:"attrs,omitempty"`
	Placeholder bool              `json:"placeholder,omitempty"`
}

// CloudWatchQueryProtocol is a cloudwatch client option that speaks the
// awsQuery protocol instead of the SDK's default Smithy RPC v2 CBOR, which
// moto_server 5.2.1 does not serve (it answers 404). Real CloudWatch accepts
// both: cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol).
func CloudWatchQueryProtocol(o *cloudwatch.Options) { cwquery.Protocol(o) }

// clients are one region's SDK clients.
type clients struct {
	ddb *dynamodb.Client
	sqs *sqs.Client
	kms *kms.Client
	idp *cognitoidentityprovider.Client
	cw  *cloudwatch.Client
	r53 *route53.Client
	ecs *ecs.Client
}

func newClients(base aws.Config, endpoint, region string) clients {
	c := base.Copy()
	c.Region = region
	c.BaseEndpoint = aws.String(endpoint)
	return clients{
		ddb: dynamodb.NewFromConfig(c), sqs: sqs.NewFromConfig(c), kms: kms.NewFromConfig(c),
		idp: cognitoidentityprovider.NewFromConfig(c), cw: cloudwatch.NewFromConfig(c, CloudWatchQueryProtocol),
		r53: route53.NewFromConfig(c), ecs: ecs.NewFromConfig(c),
	}
}

// applier carries state shared across regions (the primary multi-Region keys).
type applier struct {
	defs     *Definitions
	opts     Options
	base     aws.Config
	warnings []string
	notes    []string
	primary  map[string]string // logical id of a multi-Region key -> primary key id (moto replicates by id, not ARN)
	runID    string
}

// Apply creates the definitions in every region of opts against moto at
// opts.Endpoint, the registry region first (it is provisioned too when it is
// not one of opts.Regions: the multi-Region key's primary lives there), and
// returns what it created.
func Apply(ctx context.Context, defs *Definitions, opts Options) (*Stack, error) {
	if defs == nil {
		return nil, errors.New("provision: no definitions")
	}
	if opts.Endpoint == "" {
		return nil, errors.New("provision: no moto endpoint")
	}
	if len(opts.Regions) == 0 {
		return nil, errors.New("provision: no regions")
	}
	if opts.RegistryRegion == "" {
		opts.RegistryRegion = opts.Regions[0]
	}
	if opts.StackName == "" {
		opts.StackName = DefaultStackName
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	base := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	if opts.Config != nil {
		base = opts.Config.Copy()
	}
	a := &applier{defs: defs, opts: opts, base: base, primary: map[string]string{},
		runID: fmt.Sprintf("%d", time.Now().UnixNano())}
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
	if byName[opts.RegistryRegion] != nil && st.Region(opts.RegistryRegion) == nil {
		st.Regions = append(st.Regions, byName[opts.RegistryRegion])
	}
	return st, nil
}

// params resolves the main template's parameters in region.
func (a *applier) params(region string) (map[string]string, error) {
	return a.paramsFor(region, a.defs.mainFile(), nil)
}

// paramsFor resolves file's parameters in region: Options.RegionParameters,
// Options.Parameters, RegistryRegion, the default; for a later file then the
// main template's output of the same name (main evaluates it), else a local
// placeholder (reported).
func (a *applier) paramsFor(region, file string, main *evaluator) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for name, p := range a.defs.fileOf(file).params {
		v, ok := a.opts.RegionParameters[region][name]
		if !ok {
			v, ok = a.opts.Parameters[name]
		}
		if !ok && name == "RegistryRegion" {
			v, ok = a.opts.RegistryRegion, true
		}
		if !ok && p.Default != nil {
			v, ok = *p.Default, true
		}
		if !ok && a.secondary(file) {
			if o, has := a.defs.Outputs[name]; has && main != nil {
				if s, err := main.evalString(o); err == nil {
					v, ok = s, true
				}
			}
			if !ok {
				v, ok = "local-"+name, true
				a.warn(fmt.Sprintf("%s: parameter %s has no value locally: using %q", file, name, v))
			}
		}
		if !ok {
			missing = append(missing, name)
			continue
		}
		out[name] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("parameters without a default need a value (Options.Parameters): %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// secondary reports whether file is not the main template.
func (a *applier) secondary(file string) bool {
	return len(a.defs.Files) > 1 && file != "" && file != a.defs.Files[0]
}

func (a *applier) warn(w string) {
	for _, x := range a.warnings {
		if x == w {
			return
		}
	}
	a.warnings = append(a.warnings, w)
}

func (a *applier) note(n string) { a.notes = append(a.notes, n) }

// order sorts the resources so each comes after the resources it refers to.
func (a *applier) order() ([]Resource, error) {
	byID := map[string]Resource{}
	for _, r := range a.defs.Resources {
		byID[r.LogicalID] = r
	}
	var out []Resource
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(id string) error
	visit = func(id string) error {
		r, ok := byID[id]
		if !ok || state[id] == 2 {
			return nil
		}
		if state[id] == 1 {
			// Cycles through placeholders (permissions <-> functions) are
			// harmless: placeholders never need their dependencies created.
			return nil
		}
		state[id] = 1
		deps := append(refs(r.Properties), r.DependsOn...)
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[id] = 2
		out = append(out, r)
		return nil
	}
	for _, r := range a.defs.Resources {
		if err := visit(r.LogicalID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// regionRun is the evaluation state of one region.
type regionRun struct {
	*applier
	region  string
	c       clients
	ev      *evaluator
	created map[string]Created
	absent  map[string]bool
	byID    map[string]Resource
	out     *Region
	// dryRun evaluates without creating anything: every resource is a placeholder.
	dryRun bool
	// replica is the multi-Region key's replica in this region, once made.
	replica *Created
	// evs are the evaluators of the later template files, made on first use
	// (after the main template's resources: their parameters may take its outputs).
	evs map[string]*evaluator
}

// evFor is the evaluator for a resource of file.
func (rr *regionRun) evFor(file string) *evaluator {
	if !rr.secondary(file) {
		return rr.ev
	}
	if e, ok := rr.evs[file]; ok {
		return e
	}
	params, _ := rr.paramsFor(rr.region, file, rr.ev) // never fails for a later file
	e := &evaluator{defs: rr.defs, file: rr.defs.fileOf(file), region: rr.region, account: rr.opts.AccountID, stack: rr.opts.StackName,
		params: params, conds: map[string]bool{}, busy: rr.ev.busy, attr: rr.attr}
	if rr.evs == nil {
		rr.evs = map[string]*evaluator{}
	}
	rr.evs[file] = e
	return e
}

func (a *applier) region(ctx context.Context, region string) (*Region, error) {
	params, err := a.params(region)
	if err != nil {
		return nil, err
	}
	rr := &regionRun{
		applier: a, region: region, c: newClients(a.base, a.opts.Endpoint, region),
		created: map[string]Created{}, absent: map[string]bool{}, byID: map[string]Resource{},
		out: &Region{Region: region, Functions: map[string]Function{}, Resources: map[string]Created{}},
	}
	for _, r := range a.defs.Resources {
		rr.byID[r.LogicalID] = r
	}
	rr.ev = &evaluator{defs: a.defs, file: a.defs.fileOf(a.defs.mainFile()), region: region, account: a.opts.AccountID, stack: a.opts.StackName,
		params: params, conds: map[string]bool{}, busy: map[string]bool{}, attr: rr.attr}
	ordered, err := a.order()
	if err != nil {
		return nil, err
	}
	// The main template first: the later ones may take its outputs.
	sort.SliceStable(ordered, func(i, j int) bool { return !a.secondary(ordered[i].File) && a.secondary(ordered[j].File) })
	for _, r := range ordered {
		if err := rr.apply(ctx, r); err != nil {
			if a.secondary(r.File) {
				a.warn(fmt.Sprintf("%s: %s (%s) not created locally: %v", r.File, r.LogicalID, r.Type, err))
				rr.absent[r.LogicalID] = true
				continue
			}
			return nil, fmt.Errorf("%s (%s): %w", r.LogicalID, r.Type, err)
		}
	}
	if err := rr.collect(ctx); err != nil {
		return nil, err
	}
	return rr.out, nil
}

// attr resolves Ref / Fn::GetAtt against what this region created, computing
// placeholders on demand.
func (rr *regionRun) attr(id, at string) (any, error) {
	c, ok := rr.created[id]
	if !ok {
		r, known := rr.byID[id]
		if !known {
			return nil, fmt.Errorf("unknown resource or parameter %s", id)
		}
		if rr.absent[id] {
			return nil, fmt.Errorf("resource %s is not created in %s (condition %s is false)", id, rr.region, r.Condition)
		}
		if supported(r.Type) && !rr.dryRun {
			return nil, fmt.Errorf("resource %s referenced before it was created", id)
		}
		if rr.ev.busy["res:"+id] {
			return nil, fmt.Errorf("resource %s refers to itself", id)
		}
		rr.ev.busy["res:"+id] = true
		c = rr.placeholder(r)
		delete(rr.ev.busy, "res:"+id)
		rr.created[id] = c
	}
	if at == "" {
		return c.Ref, nil
	}
	if v, ok := c.Attrs[at]; ok {
		return v, nil
	}
	if c.Placeholder {
		return fmt.Sprintf("%s-%s", c.Ref, at), nil
	}
	return nil, fmt.Errorf("resource %s has no attribute %s locally", id, at)
}

func (rr *regionRun) arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, rr.region, rr.opts.AccountID, resource)
}

// name is the physical name: the template's name property when set, else
// "<stack>-<LogicalId>".
func (rr *regionRun) name(r Resource, props map[string]any, key string) string {
	if key != "" {
		if s, err := scalarString(props[key]); err == nil && s != "" {
			return s
		}
	}
	return rr.opts.StackName + "-" + r.LogicalID
}

// placeholder gives a resource moto does not host a deterministic identity.
func (rr *regionRun) placeholder(r Resource) Created {
	nameKey := map[string]string{
		"AWS::Serverless::Function": "FunctionName", "AWS::Lambda::Function": "FunctionName",
		"AWS::IAM::Role": "RoleName", "AWS::SNS::Topic": "TopicName", "AWS::Logs::LogGroup": "LogGroupName",
	}[r.Type]
	name := rr.opts.StackName + "-" + r.LogicalID
	if nameKey != "" {
		if v, ok := r.Properties[nameKey]; ok {
			if s, err := rr.evFor(r.File).evalString(v); err == nil && s != "" {
				name = s
			}
		}
	}
	c := Created{Type: r.Type, Ref: name, Attrs: map[string]string{}, Placeholder: true}
	switch r.Type {
	case "AWS::Serverless::Function", "AWS::Lambda::Function":
		c.Attrs["Arn"] = rr.arn("lambda", "function:"+name)
	case "AWS::IAM::Role":
		c.Attrs["Arn"] = fmt.Sprintf("arn:aws:iam::%s:role/%s", rr.opts.AccountID, name)
	case "AWS::SNS::Topic":
		c.Ref = rr.arn("sns", name)
		c.Attrs["TopicArn"] = c.Ref
		c.Attrs["TopicName"] = name
	case "AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api":
		id := strings.ToLower(r.LogicalID)
		if len(id) > 10 {
			id = id[:10]
		}
		c.Ref = id
		c.Attrs["ApiId"] = id
		c.Attrs["ApiEndpoint"] = fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com", id, rr.region)
	default:
		svc := strings.ToLower(strings.Split(r.Type, "::")[1])
		c.Attrs["Arn"] = rr.arn(svc, name)
	}
	return c
}

// supported reports whether a type is created in moto.
func supported(t string) bool {
	switch t {
	case "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::SQS::Queue",
		"AWS::KMS::Key", "AWS::KMS::ReplicaKey", "AWS::KMS::Alias",
		"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
		"AWS::CloudWatch::Alarm", "AWS::Route53::HealthCheck",
		"AWS::ECS::Cluster", "AWS::ECS::TaskDefinition", "AWS::ECS::Service":
		return true
	}
	return false
}

// apply evaluates and creates one resource in this region.
func (rr *regionRun) apply(ctx context.Context, r Resource) error {
	ev := rr.evFor(r.File)
	on := true
	if r.Condition != "" {
		var err error
		if on, err = ev.condition(r.Condition); err != nil {
			return err
		}
	}
	multiRegionKey := r.Type == "AWS::KMS::Key" && rr.isMultiRegionKey(r)
	switch {
	case r.Type == "AWS::DynamoDB::GlobalTable":
		// moto does not replicate: the table exists in every local region.
		on = true
	case multiRegionKey:
		// Created in the registry region, replicated to the others.
		on = true
	case r.Type == "AWS::KMS::ReplicaKey":
		if rr.region == rr.opts.RegistryRegion {
			on = false
		}
	}
	if !on {
		rr.absent[r.LogicalID] = true
		return nil
	}
	if !supported(r.Type) {
		if _, ok := rr.created[r.LogicalID]; !ok {
			rr.created[r.LogicalID] = rr.placeholder(r)
		}
		return rr.function(r)
	}
	pv, err := ev.eval(r.Properties)
	if err != nil {
		return fmt.Errorf("evaluate properties: %w", err)
	}
	props, _ := pv.(map[string]any)
	var c Created
	switch r.Type {
	case "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable":
		c, err = rr.table(ctx, r, props)
	case "AWS::SQS::Queue":
		c, err = rr.queue(ctx, r, props)
	case "AWS::KMS::Key":
		c, err = rr.key(ctx, r, props, multiRegionKey)
	case "AWS::KMS::ReplicaKey":
		c, err = rr.replicaKey(ctx, r, props)
	case "AWS::KMS::Alias":
		c, err = rr.alias(ctx, r, props)
	case "AWS::Cognito::UserPool":
		c, err = rr.userPool(ctx, r, props)
	case "AWS::Cognito::UserPoolClient":
		c, err = rr.userPoolClient(ctx, r, props)
	case "AWS::CloudWatch::Alarm":
		c, err = rr.alarm(ctx, r, props)
	case "AWS::Route53::HealthCheck":
		c, err = rr.healthCheck(ctx, r, props)
	case "AWS::ECS::Cluster":
		c, err = rr.ecsCluster(ctx, r, props)
	case "AWS::ECS::TaskDefinition":
		c, err = rr.taskDefinition(ctx, r, props)
	case "AWS::ECS::Service":
		c, err = rr.ecsService(ctx, r, props)
	}
	if err != nil {
		return err
	}
	c.Type = r.Type
	rr.created[r.LogicalID] = c
	rr.out.Resources[r.LogicalID] = c
	return nil
}

// isMultiRegionKey reports whether a KMS key resource has MultiRegion: true
// (evaluated in the registry region's terms when it uses a condition).
func (rr *regionRun) isMultiRegionKey(r Resource) bool {
	v, ok := r.Properties["MultiRegion"]
	if !ok {
		return false
	}
	val, err := rr.evFor(r.File).eval(v)
	if err != nil {
		return false
	}
	b, _ := toBool(val)
	return b
}

// function records a Lambda function's resolved environment.
func (rr *regionRun) function(r Resource) error {
	if r.Type != "AWS::Serverless::Function" && r.Type != "AWS::Lambda::Function" {
		return nil
	}
	c := rr.created[r.LogicalID]
	f := Function{LogicalID: r.LogicalID, Name: c.Ref, ARN: c.Attrs["Arn"], Env: map[string]string{}}
	// SAM Globals are not merged here: the contract's variables are per function.
	envv, ok := r.Properties["Environment"].(map[string]any)
	if ok {
		vars, err := rr.evFor(r.File).eval(envv["Variables"])
		if err != nil {
			return fmt.Errorf("environment: %w", err)
		}
		vm, _ := vars.(map[string]any)
		for k, v := range vm {
			s, err := scalarString(v)
			if err != nil {
				return fmt.Errorf("environment %s: %w", k, err)
			}
			f.Env[k] = s
		}
	}
	f.Action = f.Env["ACTION"]
	rr.out.Functions[r.LogicalID] = f
	return nil
}

// collect picks out the well-known resources and makes sure the ECS services
// the alarm functions act on exist.
func (rr *regionRun) collect(ctx context.Context) error {
	out := rr.out
	envAny := func(key string) string {
		ids := make([]string, 0, len(out.Functions))
		for id := range out.Functions {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if v := out.Functions[id].Env[key]; v != "" {
				return v
			}
		}
		return ""
	}
	byID := func(id string) string {
		if c, ok := out.Resources[id]; ok {
			return c.Ref
		}
		return ""
	}
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	out.RegistryTable = first(envAny("RESIDENCY_TABLE"), byID("RegistryTable"))
	out.OrdersTable = first(envAny("ORDERS_TABLE"), byID("OrdersTable"))
	out.ControlTable = first(envAny("CONTROL_TABLE"), byID("ControlTable"))
	out.OrdersQueueURL = first(envAny("ORDERS_QUEUE_URL"), byID("OrdersQueue"))
	out.PiiKeyID = first(envAny("PII_KEY_ID"), byID("PiiKey"), byID("PiiReplicaKey"))
	out.HealthCheckID = envAny("HEALTH_CHECK_ID")
	for _, id := range sortedIDs(out.Resources) {
		c := out.Resources[id]
		switch c.Type {
		case "AWS::DynamoDB::GlobalTable":
			if out.RegistryTable == "" {
				out.RegistryTable = c.Ref
			}
		case "AWS::Cognito::UserPool":
			if out.UserPoolID == "" {
				out.UserPoolID = c.Ref
			}
		case "AWS::Cognito::UserPoolClient":
			if out.ClientID == "" {
				out.ClientID = c.Ref
			}
		case "AWS::Route53::HealthCheck":
			if out.HealthCheckID == "" {
				out.HealthCheckID = c.Ref
			}
		case "AWS::KMS::Key", "AWS::KMS::ReplicaKey":
			if out.PiiKeyID == "" {
				out.PiiKeyID = c.Ref
			}
		}
	}
	// The orders DLQ is the orders queue's redrive target.
	for _, c := range out.Resources {
		if c.Type == "AWS::SQS::Queue" && c.Ref == out.OrdersQueueURL && c.Attrs["DeadLetterTargetArn"] != "" {
			for _, d := range out.Resources {
				if d.Type == "AWS::SQS::Queue" && d.Attrs["Arn"] == c.Attrs["DeadLetterTargetArn"] {
					out.OrdersDLQURL = d.Ref
				}
			}
		}
	}
	if out.OrdersDLQURL == "" {
		out.OrdersDLQURL = byID("OrdersDeadLetterQueue")
	}
	// Alarm actions -> the function's ACTION.
	arnToFn := map[string]Function{}
	for _, f := range out.Functions {
		arnToFn[f.ARN] = f
		arnToFn[f.Name] = f
	}
	for i, al := range out.Alarms {
		for _, act := range append(append([]string{}, al.AlarmActions...), al.OKActions...) {
			if f, ok := arnToFn[strings.TrimSuffix(act, ":$LATEST")]; ok {
				out.Alarms[i].Action, out.Alarms[i].Function = f.Action, f.LogicalID
				break
			}
		}
	}
	// ECS sites the alarm functions act on: the scale target is the primary
	// site, the promote target the standby. The services an on-prem template
	// (onprem.yaml) defines are those sites: the functions are pointed at
	// them, as a deployment passes that stack's outputs to the regional
	// stack's parameters. Otherwise the services the functions name are
	// created here.
	scale, hasScale := out.FunctionByAction("scale")
	promote, hasPromote := out.FunctionByAction("promote")
	if hasScale {
		out.EcsCluster, out.PrimaryService = scale.Env["ECS_CLUSTER"], scale.Env["ECS_SERVICE"]
	}
	if hasPromote {
		out.StandbyCluster, out.StandbyService = promote.Env["STANDBY_ECS_CLUSTER"], promote.Env["STANDBY_ECS_SERVICE"]
	}
	var sitePrimary, siteStandby *Created
	for _, id := range sortedIDs(out.Resources) {
		c := out.Resources[id]
		if c.Type != "AWS::ECS::Service" {
			continue
		}
		if strings.Contains(strings.ToLower(id), "standby") {
			if siteStandby == nil {
				siteStandby = &c
			}
		} else if sitePrimary == nil {
			sitePrimary = &c
		}
	}
	repoint := func(f Function, ok bool, clusterVar, serviceVar string, c *Created) {
		if !ok || c == nil {
			return
		}
		if f.Env[clusterVar] != c.Attrs["Cluster"] || f.Env[serviceVar] != c.Attrs["Name"] {
			rr.note(fmt.Sprintf("%s: %s %s=%s %s=%s (the on-prem template's service; template default %s/%s)", rr.region, f.LogicalID,
				clusterVar, c.Attrs["Cluster"], serviceVar, c.Attrs["Name"], f.Env[clusterVar], f.Env[serviceVar]))
		}
		f.Env[clusterVar], f.Env[serviceVar] = c.Attrs["Cluster"], c.Attrs["Name"]
		out.Functions[f.LogicalID] = f
	}
	repoint(scale, hasScale, "ECS_CLUSTER", "ECS_SERVICE", sitePrimary)
	repoint(promote, hasPromote, "STANDBY_ECS_CLUSTER", "STANDBY_ECS_SERVICE", siteStandby)
	if sitePrimary != nil && (hasScale || out.PrimaryService == "") {
		out.EcsCluster, out.PrimaryService = sitePrimary.Attrs["Cluster"], sitePrimary.Attrs["Name"]
	}
	if siteStandby != nil && (hasPromote || out.StandbyService == "") {
		out.StandbyCluster, out.StandbyService = siteStandby.Attrs["Cluster"], siteStandby.Attrs["Name"]
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

func sortedIDs(m map[string]Created) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// FunctionEnv evaluates, without creating anything, the environment of every
// function the definitions give region: parameters, conditions and mappings
// resolve exactly as in Apply; references to resources resolve to
// placeholders (so only values such as STANDBY_TASKS or BACKLOG_PER_TASK are
// meaningful). Tools such as cmd/demo use it to learn the alarm actions'
// settings.
func FunctionEnv(defs *Definitions, opts Options, region string) (map[string]Function, error) {
	if defs == nil {
		return nil, errors.New("provision: no definitions")
	}
	if opts.RegistryRegion == "" {
		opts.RegistryRegion = region
	}
	if opts.StackName == "" {
		opts.StackName = DefaultStackName
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	a := &applier{defs: defs, opts: opts, primary: map[string]string{}}
	params, err := a.params(region)
	if err != nil {
		return nil, err
	}
	rr := &regionRun{applier: a, region: region, dryRun: true,
		created: map[string]Created{}, absent: map[string]bool{}, byID: map[string]Resource{},
		out: &Region{Region: region, Functions: map[string]Function{}, Resources: map[string]Created{}}}
	for _, r := range defs.Resources {
		rr.byID[r.LogicalID] = r
	}
	rr.ev = &evaluator{defs: defs, file: defs.fileOf(defs.mainFile()), region: region, account: opts.AccountID, stack: opts.StackName,
		params: params, conds: map[string]bool{}, busy: map[string]bool{}, attr: rr.attr}
	for _, r := range defs.Resources {
		if r.Type != "AWS::Serverless::Function" && r.Type != "AWS::Lambda::Function" {
			continue
		}
		if r.Condition != "" {
			on, err := rr.evFor(r.File).condition(r.Condition)
			if err != nil {
				return nil, err
			}
			if !on {
				continue
			}
		}
		if _, err := rr.attr(r.LogicalID, ""); err != nil {
			return nil, err
		}
		if err := rr.function(r); err != nil {
			return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
		}
	}
	return rr.out.Functions, nil
}
