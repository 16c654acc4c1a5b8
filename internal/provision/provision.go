package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/homeregion/homeregion/internal/provision/cfn"
	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/awsconfig/cwquery"
)

// DefaultStackName is the stack name ${AWS::StackName} evaluates to locally.
const DefaultStackName = cfn.DefaultStackName

// DefaultAccountID is moto's default account.
const DefaultAccountID = cfn.DefaultAccountID

// OnPremFile is the name of the on-prem site definitions Load also reads when
// the file exists next to the template.
const OnPremFile = "onprem.yaml"

// Load reads templatePath and, if it exists in the same directory, onprem.yaml
// (the on-prem ECS definitions, a stack deployed after the regional one).
func Load(templatePath string) (*cfn.Definitions, error) {
	paths := []string{templatePath}
	onprem := filepath.Join(filepath.Dir(templatePath), OnPremFile)
	if filepath.Clean(onprem) != filepath.Clean(templatePath) {
		if _, err := os.Stat(onprem); err == nil {
			paths = append(paths, onprem)
		}
	}
	return LoadFiles(paths...)
}

// LoadFiles reads the given templates, the main (regional) one first.
func LoadFiles(paths ...string) (*cfn.Definitions, error) {
	d, err := cfn.LoadFiles(paths...)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	return d, nil
}

// Options say where and what to provision.
type Options struct {
	// Endpoint is moto_server's URL, e.g. http://127.0.0.1:5000.
	Endpoint string
	// Regions to provision; the first region is used when RegistryRegion is empty.
	Regions []string
	// RegistryRegion owns the registry table's claims and the primary PII
	// key; it is the RegistryRegion parameter's value unless Parameters say
	// otherwise.
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
	// Pairs are the zone pairs among Regions: Apply gives both regions of
	// each the template's pair parameters (PairParameters), the partner's
	// from the partner's outputs (PartnerOutputs).
	Pairs []Pair
}

// Pair is a zone pair of the local stack (docs/zone-pairs.md): two regions
// of one residency zone that serve each other's users and share one orders
// table with multi-Region strong consistency.
type Pair struct {
	// Regions are the pair's two regions; both must be in Options.Regions.
	Regions [2]string
	// TableRegion is the region whose stack creates the pair table, the one
	// moto table both regions use (default Regions[0]).
	TableRegion string
	// Witness is the table's witness region (PairWitnessRegion), in the
	// pair's zone and MRSC region set; nothing is created there locally.
	Witness string
	// TableName is the pair table's name (default "<stack>-pair-<Regions[0]>").
	TableName string
}

// The template parameters that make a region one of a zone pair.
const (
	pairRegionParameter  = "ZonePairRegion"
	pairTableParameter   = "PairTableName"
	pairTableRegionParam = "PairTableRegion"
	pairWitnessParameter = "PairWitnessRegion"
)

// PartnerOutputs says which output of the partner's stack each pair
// parameter of a region takes (template.yaml's parameters and onprem.yaml's
// alike): the deploy steps of docs/zone-pairs.md pass the same.
var PartnerOutputs = map[string]string{
	"ZonePairUserPoolId":         "UserPoolId",
	"ZonePairAppClientId":        "UserPoolClientId",
	"ZonePairDeadLetterQueueUrl": "OrdersDeadLetterQueueUrl",
	"ZonePairDeadLetterQueueArn": "OrdersDeadLetterQueueArn",
	"ZonePairQueueUrl":           "OrdersQueueUrl",
	"ZonePairQueueArn":           "OrdersQueueArn",
}

// PairParameters returns the parameters that make region one of p, given
// the partner's stack outputs (nil before the partner is deployed: then
// only the pair's own values).
func (p Pair) PairParameters(region string, partnerOutputs map[string]string) map[string]string {
	out := map[string]string{pairRegionParameter: p.Partner(region), pairTableParameter: p.TableName,
		pairTableRegionParam: p.TableRegion, pairWitnessParameter: p.Witness}
	for param, output := range PartnerOutputs {
		if v, ok := partnerOutputs[output]; ok {
			out[param] = v
		}
	}
	return out
}

// Partner returns the other region of the pair ("" when region is not in it).
func (p Pair) Partner(region string) string {
	switch region {
	case p.Regions[0]:
		return p.Regions[1]
	case p.Regions[1]:
		return p.Regions[0]
	}
	return ""
}

// pairs checks o.Pairs and returns each paired region's pair, defaults
// filled in.
func (o Options) pairs() (map[string]Pair, error) {
	in := map[string]bool{}
	for _, r := range o.Regions {
		in[r] = true
	}
	out := map[string]Pair{}
	for _, p := range o.Pairs {
		if p.TableRegion == "" {
			p.TableRegion = p.Regions[0]
		}
		if p.TableName == "" {
			stack := o.StackName
			if stack == "" {
				stack = DefaultStackName
			}
			p.TableName = stack + "-pair-" + p.Regions[0]
		}
		switch {
		case p.Regions[0] == "" || p.Regions[0] == p.Regions[1]:
			return nil, fmt.Errorf("pair %v: want two regions", p.Regions)
		case p.Partner(p.TableRegion) == "":
			return nil, fmt.Errorf("pair %v: table region %q is not one of the pair", p.Regions, p.TableRegion)
		case p.Witness == "" || p.Partner(p.Witness) != "":
			return nil, fmt.Errorf("pair %v: the witness %q must be a third region", p.Regions, p.Witness)
		}
		for _, r := range p.Regions {
			if !in[r] {
				return nil, fmt.Errorf("pair %v: %s is not provisioned (Options.Regions)", p.Regions, r)
			}
			if _, dup := out[r]; dup {
				return nil, fmt.Errorf("%s is in two pairs (a pool has one replica)", r)
			}
			out[r] = p
		}
	}
	return out, nil
}

// SitePublicKeyParameter is the template parameter holding the public key of
// the region's on-prem sites, which the orders API function's
// SITE_PUBLIC_KEY comes from; the local stack gives each region its own
// (Options.RegionParameters).
const SitePublicKeyParameter = "SitePublicKey"

// registryRegionParameter is the template parameter naming the registry region.
const registryRegionParameter = "RegistryRegion"

// deployer is the generic evaluator configured for homeregion.
func (o Options) deployer(defs *cfn.Definitions) (*cfn.Deployer, error) {
	params := map[string]string{registryRegionParameter: o.RegistryRegion}
	for k, v := range o.Parameters {
		params[k] = v
	}
	return cfn.New(defs, cfn.Options{Endpoint: o.Endpoint, PrimaryRegion: o.RegistryRegion, StackName: o.StackName,
		AccountID: o.AccountID, Parameters: params, RegionParameters: o.RegionParameters, Config: o.Config})
}

// CloudWatchQueryProtocol is a cloudwatch client option that speaks the
// awsQuery protocol instead of the SDK's default Smithy RPC v2 CBOR, which
// moto_server 5.2.1 does not serve (it answers 404). Real CloudWatch accepts
// both: cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol).
func CloudWatchQueryProtocol(o *cloudwatch.Options) { cwquery.Protocol(o) }

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
	StandbyCluster string `json:"standbyCluster,omitempty"`
	StandbyService string `json:"standbyService,omitempty"`
	HealthCheckID  string `json:"healthCheckId,omitempty"`
	// Partner is the other region of the region's zone pair ("" unpaired).
	Partner string `json:"partner,omitempty"`
	// PairTable is the pair's orders table (the ORDERS_TABLE of the
	// region's functions instead of OrdersTable when set); in moto it
	// exists only in the pair's table region.
	PairTable string `json:"pairTable,omitempty"`
	// PairTableRegion is the region whose moto holds PairTable.
	PairTableRegion string `json:"pairTableRegion,omitempty"`
	// PairQueueURL is the partner's orders queue, which this region's site
	// drains too (the processor's PAIR_QUEUE_URL).
	PairQueueURL string `json:"pairQueueUrl,omitempty"`
	// HTTPAPIs are the HTTP APIs the template defines as raw
	// AWS::ApiGatewayV2 resources (a zone pair's PairHttpApi), by logical
	// id, evaluated in this region: what a local emulation serves. SAM's
	// AWS::Serverless::HttpApi (OrdersHttpApi) is not among them.
	HTTPAPIs map[string]HTTPAPI `json:"httpApis,omitempty"`
	Alarms   []AlarmDef         `json:"alarms,omitempty"`
	// Functions by logical id, with their resolved environment.
	Functions map[string]Function `json:"functions,omitempty"`
	// Resources by logical id: everything evaluated in this region.
	Resources map[string]cfn.Created `json:"resources,omitempty"`
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
	// Only in a zone pair.
	{"PairTableName", false, func(r *Region) *string { return &r.PairTable }},
}

// HTTPAPI is an HTTP API of raw AWS::ApiGatewayV2 resources: its routes,
// each behind a JWT authorizer, integrated with one function.
type HTTPAPI struct {
	// Routes are the route keys ("POST /orders", "$default"), sorted.
	Routes []string `json:"routes"`
	// Issuer and Audience are the routes' JWT authorizer's (every route of
	// the API must use the same one locally).
	Issuer   string   `json:"issuer"`
	Audience []string `json:"audience"`
	// Function is the logical id of the function the routes integrate.
	Function string `json:"function"`
}

// httpAPIs evaluates the template's raw HTTP APIs created in this region.
func (m *mapping) httpAPIs() (map[string]HTTPAPI, error) {
	t := m.main()
	out := map[string]HTTPAPI{}
	for _, api := range t.IDs("AWS::ApiGatewayV2::Api") {
		if _, ok := m.dep.Resources[api]; !ok {
			continue // its condition is false here
		}
		var a HTTPAPI
		for _, typ := range []string{"AWS::ApiGatewayV2::Authorizer", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route"} {
			for _, id := range t.IDs(typ) {
				r := t.Resource(id)
				if ref, _ := r.Properties["ApiId"].(map[string]any); ref["Ref"] != api {
					continue
				}
				switch typ {
				case "AWS::ApiGatewayV2::Authorizer":
					v, err := m.dep.Eval(t, r.Properties["JwtConfiguration"])
					if err != nil {
						return nil, fmt.Errorf("%s: %w", id, err)
					}
					jc, _ := v.(map[string]any)
					if a.Issuer != "" {
						return nil, fmt.Errorf("%s: a second authorizer of %s is not emulated locally", id, api)
					}
					a.Issuer, a.Audience = template.Field(jc, "Issuer"), template.Strings(jc["Audience"])
				case "AWS::ApiGatewayV2::Integration":
					for _, fn := range template.Refs(r.Properties["IntegrationUri"]) {
						if _, ok := m.dep.Resources[fn]; ok {
							a.Function = fn
						}
					}
				default:
					if r.Properties["AuthorizationType"] != "JWT" {
						return nil, fmt.Errorf("%s: a route without a JWT authorizer is not emulated locally", id)
					}
					a.Routes = append(a.Routes, template.Field(r.Properties, "RouteKey"))
				}
			}
		}
		sort.Strings(a.Routes)
		out[api] = a
	}
	return out, nil
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
	// Queries are a metric math alarm's Metrics, in template order: the
	// metrics it reads and the expressions over them (the one with
	// ReturnData is what the threshold applies to).
	Queries []MetricQuery `json:"queries,omitempty"`
	// Action is the ACTION (failover, promote, scale) of the function the
	// alarm's actions invoke; Function is that function's logical id.
	Action   string `json:"action,omitempty"`
	Function string `json:"function,omitempty"`
	// AlarmActions, OKActions are the resolved action ARNs.
	AlarmActions []string `json:"alarmActions,omitempty"`
	OKActions    []string `json:"okActions,omitempty"`
}

// MetricQuery is one entry of a metric math alarm's Metrics: a metric
// (Namespace, MetricName, Dimensions, Period, Stat) or an Expression over
// the other entries' ids.
type MetricQuery struct {
	ID         string            `json:"id"`
	Expression string            `json:"expression,omitempty"`
	ReturnData bool              `json:"returnData"`
	Namespace  string            `json:"namespace,omitempty"`
	MetricName string            `json:"metricName,omitempty"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	Period     int               `json:"period,omitempty"`
	Stat       string            `json:"stat,omitempty"`
}

// Apply creates the definitions in every region of opts against moto at
// opts.Endpoint, the registry region first (it is provisioned too when it is
// not one of opts.Regions: the multi-Region key's primary lives there), and
// returns what it created.
func Apply(ctx context.Context, defs *cfn.Definitions, opts Options) (*Stack, error) {
	if len(opts.Regions) == 0 {
		return nil, errors.New("provision: no regions")
	}
	if opts.RegistryRegion == "" {
		opts.RegistryRegion = opts.Regions[0]
	}
	d, err := opts.deployer(defs)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	// Registry region first: the primary keys must exist before replicas.
	order := []string{opts.RegistryRegion}
	for _, r := range opts.Regions {
		if r != opts.RegistryRegion {
			order = append(order, r)
		}
	}
	pairs, err := opts.pairs()
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	st := &Stack{Endpoint: opts.Endpoint, RegistryRegion: opts.RegistryRegion}
	deps := map[string]*cfn.Deployment{}
	outputs := map[string]map[string]string{}
	for _, region := range order {
		// A paired region takes its partner's outputs when the partner is
		// deployed already; otherwise it is evaluated again below.
		var params map[string]string
		if p, ok := pairs[region]; ok {
			params = p.PairParameters(region, outputs[p.Partner(region)])
		}
		dep, err := d.DeployWith(ctx, region, params)
		if err != nil {
			return nil, fmt.Errorf("provision %s: %w", region, err)
		}
		if outputs[region], err = dep.Outputs(defs.Templates[0]); err != nil {
			return nil, fmt.Errorf("provision %s: %w", region, err)
		}
		deps[region] = dep
	}
	byName := map[string]*Region{}
	for _, region := range order {
		dep := deps[region]
		p, paired := pairs[region]
		if paired {
			// Nothing moto holds depends on the partner's outputs (the pair
			// parameters reach functions, permissions and APIs only), so
			// evaluating again is what a second stack update would change.
			if dep, err = dep.WithParameters(p.PairParameters(region, outputs[p.Partner(region)])); err != nil {
				return nil, fmt.Errorf("provision %s: %w", region, err)
			}
		}
		m := &mapping{defs: defs, dep: dep, stack: st}
		r, err := m.region(ctx)
		if err != nil {
			return nil, fmt.Errorf("provision %s: %w", region, err)
		}
		if paired {
			r.Partner, r.PairTableRegion, r.PairQueueURL = p.Partner(region), p.TableRegion, outputs[p.Partner(region)]["OrdersQueueUrl"]
			if r.PairTable == "" {
				return nil, fmt.Errorf("provision %s: paired with %s, but the template's PairTableName output is missing", region, r.Partner)
			}
		}
		byName[region] = r
	}
	for _, region := range opts.Regions {
		st.Regions = append(st.Regions, byName[region])
	}
	st.Warnings = append(d.Warnings(), st.Warnings...)
	if st.Region(opts.RegistryRegion) == nil {
		st.Regions = append(st.Regions, byName[opts.RegistryRegion])
	}
	return st, nil
}

// mapping reads one region of homeregion out of its deployment.
type mapping struct {
	defs  *cfn.Definitions
	dep   *cfn.Deployment
	stack *Stack // collects notes and warnings
}

func (m *mapping) main() *template.Template { return m.defs.Templates[0] }

// region maps what the deployment created.
func (m *mapping) region(ctx context.Context) (*Region, error) {
	out := &Region{Region: m.dep.Region, Resources: m.dep.Resources}
	var err error
	if out.Functions, err = m.functions(); err != nil {
		return nil, err
	}
	if out.Outputs, err = m.dep.Outputs(m.main()); err != nil {
		return nil, err
	}
	for _, o := range regionOutputs {
		_, declared := m.main().Outputs[o.output]
		if o.required && !declared {
			return nil, fmt.Errorf("%s declares no Output %s (the local stack reads the region's resources from the Outputs)", m.main().Path, o.output)
		}
		*o.field(out) = out.Outputs[o.output]
	}
	out.Alarms = alarms(m.dep.Resources, out.Functions)
	if out.HTTPAPIs, err = m.httpAPIs(); err != nil {
		return nil, err
	}
	if err := m.sites(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// functions evaluates the environment of every function created in this
// region.
func (m *mapping) functions() (map[string]Function, error) {
	out := map[string]Function{}
	for _, t := range m.defs.Templates {
		for _, r := range t.Resources {
			if r.Type != "AWS::Serverless::Function" && r.Type != "AWS::Lambda::Function" {
				continue
			}
			c, ok := m.dep.Resources[r.LogicalID]
			if !ok {
				continue
			}
			f, err := m.function(t, r, c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
			}
			out[r.LogicalID] = f
		}
	}
	return out, nil
}

// function reads a function's environment.
func (m *mapping) function(t *template.Template, r *template.Resource, c cfn.Created) (Function, error) {
	f := Function{LogicalID: r.LogicalID, Name: c.Ref, ARN: c.Attrs["Arn"], Env: map[string]string{}}
	// SAM Globals are not merged here: the contract's variables are per function.
	if envv, ok := r.Properties["Environment"].(map[string]any); ok {
		vars, err := m.dep.Eval(t, envv["Variables"])
		if err != nil {
			return f, fmt.Errorf("environment: %w", err)
		}
		vm, _ := vars.(map[string]any)
		for k, v := range vm {
			s, err := template.ScalarString(v)
			if err != nil {
				return f, fmt.Errorf("environment %s: %w", k, err)
			}
			f.Env[k] = s
		}
	}
	f.Action = f.Env["ACTION"]
	return f, nil
}

// alarms describes the alarms created in this region, each with the ACTION
// of the function its actions invoke.
func alarms(resources map[string]cfn.Created, fns map[string]Function) []AlarmDef {
	arnToFn := map[string]Function{}
	for _, f := range fns {
		arnToFn[f.ARN] = f
		arnToFn[f.Name] = f
	}
	var out []AlarmDef
	for id, c := range resources {
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
func alarmDef(id string, c cfn.Created) AlarmDef {
	p := c.Properties
	a := AlarmDef{LogicalID: id, Name: c.Ref, ARN: c.Attrs["Arn"], Dimensions: map[string]string{},
		ComparisonOperator: template.Field(p, "ComparisonOperator"), TreatMissingData: template.Field(p, "TreatMissingData"),
		AlarmActions: template.Strings(p["AlarmActions"]), OKActions: template.Strings(p["OKActions"])}
	a.Threshold, _ = template.Float(p["Threshold"])
	a.EvaluationPeriods, _ = template.Int(p["EvaluationPeriods"])
	a.DatapointsToAlarm = a.EvaluationPeriods
	if n, ok := template.Int(p["DatapointsToAlarm"]); ok {
		a.DatapointsToAlarm = n
	}
	a.Period, _ = template.Int(p["Period"])
	dims := func(v any) {
		for _, d := range template.Maps(v) {
			a.Dimensions[template.Field(d, "Name")] = template.Field(d, "Value")
		}
	}
	if v := template.Field(p, "MetricName"); v != "" {
		a.MetricName, a.Namespace, a.Statistic = v, template.Field(p, "Namespace"), template.Field(p, "Statistic")
		dims(p["Dimensions"])
	}
	for _, m := range template.Maps(p["Metrics"]) {
		if template.Field(m, "Expression") != "" {
			a.MetricMath = true
		}
		a.Queries = append(a.Queries, metricQuery(m))
		ms, ok := m["MetricStat"].(map[string]any)
		if !ok || a.MetricName != "" {
			continue
		}
		mm, _ := ms["Metric"].(map[string]any)
		a.MetricName, a.Namespace, a.Statistic = template.Field(mm, "MetricName"), template.Field(mm, "Namespace"), template.Field(ms, "Stat")
		dims(mm["Dimensions"])
		if n, ok := template.Int(ms["Period"]); ok {
			a.Period = n
		}
	}
	return a
}

// metricQuery reads one entry of an alarm's Metrics (ReturnData defaults to
// true, as CloudWatch's does).
func metricQuery(m map[string]any) MetricQuery {
	q := MetricQuery{ID: template.Field(m, "Id"), Expression: template.Field(m, "Expression"), ReturnData: true}
	if b, ok := template.Bool(m["ReturnData"]); ok {
		q.ReturnData = b
	}
	if ms, ok := m["MetricStat"].(map[string]any); ok {
		mm, _ := ms["Metric"].(map[string]any)
		q.Namespace, q.MetricName, q.Stat = template.Field(mm, "Namespace"), template.Field(mm, "MetricName"), template.Field(ms, "Stat")
		q.Period, _ = template.Int(ms["Period"])
		for _, d := range template.Maps(mm["Dimensions"]) {
			if q.Dimensions == nil {
				q.Dimensions = map[string]string{}
			}
			q.Dimensions[template.Field(d, "Name")] = template.Field(d, "Value")
		}
	}
	return q
}

// sites finds the ECS sites the alarm functions act on: the scale target is
// the primary site, the promote target the standby. The services an on-prem
// template (onprem.yaml) names in its Outputs are those sites: the functions
// are pointed at them, as a deployment passes that stack's outputs to the
// regional stack's parameters. Otherwise the services the functions name
// are created here (the alarm actions need them to exist).
func (m *mapping) sites(ctx context.Context, out *Region) error {
	scale, hasScale := out.FunctionByAction("scale")
	promote, hasPromote := out.FunctionByAction("promote")
	if hasScale {
		out.EcsCluster, out.PrimaryService = scale.Env["ECS_CLUSTER"], scale.Env["ECS_SERVICE"]
	}
	if hasPromote {
		out.StandbyCluster, out.StandbyService = promote.Env["STANDBY_ECS_CLUSTER"], promote.Env["STANDBY_ECS_SERVICE"]
	}
	for _, t := range m.defs.Templates[1:] {
		if _, ok := t.Outputs[siteClusterOutput]; !ok {
			continue
		}
		outs, err := m.dep.Outputs(t)
		if err != nil {
			m.stack.Warnings = append(m.stack.Warnings, fmt.Sprintf("%s: %s: %v", m.dep.Region, t.Path, err))
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
				m.stack.Notes = append(m.stack.Notes, fmt.Sprintf("%s: %s %s=%s %s=%s (the on-prem template's service; template default %s/%s)", m.dep.Region, f.LogicalID,
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
		if n, ok := template.Int(scale.Env["MIN_TASKS"]); ok {
			min = n
		}
		if err := m.dep.EnsureService(ctx, out.EcsCluster, out.PrimaryService, min); err != nil {
			return fmt.Errorf("primary site service: %w", err)
		}
	}
	if out.StandbyService != "" {
		if out.StandbyCluster == "" {
			out.StandbyCluster = out.EcsCluster
		}
		if err := m.dep.EnsureService(ctx, out.StandbyCluster, out.StandbyService, 0); err != nil {
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
// settings. A region of opts.Pairs gets the pair's parameters (the
// partner's resources, unknown here, are left at their defaults).
func FunctionEnv(defs *cfn.Definitions, opts Options, region string) (map[string]Function, error) {
	if opts.RegistryRegion == "" {
		opts.RegistryRegion = region
	}
	d, err := opts.deployer(defs)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	if len(opts.Regions) == 0 {
		opts.Regions = []string{region}
		for _, p := range opts.Pairs {
			opts.Regions = append(opts.Regions, p.Regions[:]...)
		}
	}
	pairs, err := opts.pairs()
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	var params map[string]string
	if p, ok := pairs[region]; ok {
		params = p.PairParameters(region, nil)
	}
	dep, err := d.EvaluateWith(region, params)
	if err != nil {
		return nil, err
	}
	return (&mapping{defs: defs, dep: dep, stack: &Stack{}}).functions()
}
