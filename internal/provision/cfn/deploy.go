package cfn

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

	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/awsconfig/cwquery"
)

// DefaultStackName is the stack name ${AWS::StackName} evaluates to locally.
const DefaultStackName = "homeregion"

// DefaultAccountID is moto's default account.
const DefaultAccountID = "123456789012"

// Definitions are the templates one Deployer deploys: the main template
// first, then the templates of the stacks deployed after it, whose
// parameters without a value take the main template's outputs of the same
// name.
type Definitions struct {
	Templates []*template.Template
}

// LoadFiles reads the given templates; the first is the main one. A logical
// id defined in two files is an error. Resources of the later files are
// optional locally: what cannot be created from them is a warning
// (Deployer.Warnings), not a failure.
func LoadFiles(paths ...string) (*Definitions, error) {
	d := &Definitions{}
	seen := map[string]string{}
	for _, p := range paths {
		t, err := template.Load(p)
		if err != nil {
			return nil, err
		}
		for _, r := range t.Resources {
			if prev, dup := seen[r.LogicalID]; dup {
				return nil, fmt.Errorf("resource %s defined in %s and %s", r.LogicalID, prev, p)
			}
			seen[r.LogicalID] = p
		}
		d.Templates = append(d.Templates, t)
	}
	return d, nil
}

// main is the main template.
func (d *Definitions) main() *template.Template { return d.Templates[0] }

// resource is a template resource with the template it belongs to.
type resource struct {
	*template.Resource
	tpl *template.Template
}

// resources lists every file's resources, in file order.
func (d *Definitions) resources() []resource {
	var out []resource
	for _, t := range d.Templates {
		for _, r := range t.Resources {
			out = append(out, resource{r, t})
		}
	}
	return out
}

// Options say where and how to deploy.
type Options struct {
	// Endpoint is moto_server's URL, e.g. http://127.0.0.1:5000.
	Endpoint string
	// PrimaryRegion holds the primaries of multi-Region keys (replicated to
	// the other regions, where AWS::KMS::ReplicaKey resources stand for
	// them); it must be deployed first.
	PrimaryRegion string
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

// withDefaults fills the defaults in.
func (o Options) withDefaults() Options {
	if o.StackName == "" {
		o.StackName = DefaultStackName
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	return o
}

// Created is one evaluated resource: Ref is what !Ref returns, Attrs what
// !GetAtt returns. Placeholder is true for types moto does not host.
type Created struct {
	Type        string            `json:"type"`
	Ref         string            `json:"ref"`
	Attrs       map[string]string `json:"attrs,omitempty"`
	Placeholder bool              `json:"placeholder,omitempty"`
	// Properties are the evaluated properties it was created with (nil for
	// placeholders).
	Properties map[string]any `json:"-"`
}

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
		idp: cognitoidentityprovider.NewFromConfig(c), cw: cloudwatch.NewFromConfig(c, cwquery.Protocol),
		r53: route53.NewFromConfig(c), ecs: ecs.NewFromConfig(c),
	}
}

// creator creates one resource of a type in moto from its evaluated properties.
type creator func(rr *regionRun, ctx context.Context, r *template.Resource, props map[string]any) (Created, error)

// creators are the resource types created in moto, the one list of them;
// every other type gets a placeholder identity (placeholder).
var creators = map[string]creator{
	"AWS::DynamoDB::Table":         (*regionRun).table,
	"AWS::DynamoDB::GlobalTable":   (*regionRun).table,
	"AWS::SQS::Queue":              (*regionRun).queue,
	"AWS::KMS::Key":                (*regionRun).key,
	"AWS::KMS::ReplicaKey":         (*regionRun).replicaKey,
	"AWS::KMS::Alias":              (*regionRun).alias,
	"AWS::Cognito::UserPool":       (*regionRun).userPool,
	"AWS::Cognito::UserPoolClient": (*regionRun).userPoolClient,
	"AWS::CloudWatch::Alarm":       (*regionRun).alarm,
	"AWS::Route53::HealthCheck":    (*regionRun).healthCheck,
	"AWS::ECS::Cluster":            (*regionRun).ecsCluster,
	"AWS::ECS::TaskDefinition":     (*regionRun).taskDefinition,
	"AWS::ECS::Service":            (*regionRun).ecsService,
}

// Deployer deploys definitions region by region; it carries what regions
// share (the primary multi-Region keys, the warnings).
type Deployer struct {
	defs     *Definitions
	opts     Options
	base     aws.Config
	warnings []string
	primary  map[string]string // logical id of a multi-Region key -> primary key id (moto replicates by id, not ARN)
	runID    string
}

// New returns a Deployer of defs.
func New(defs *Definitions, opts Options) (*Deployer, error) {
	if defs == nil || len(defs.Templates) == 0 {
		return nil, errors.New("cfn: no definitions")
	}
	opts = opts.withDefaults()
	base := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	if opts.Config != nil {
		base = opts.Config.Copy()
	}
	return &Deployer{defs: defs, opts: opts, base: base, primary: map[string]string{},
		runID: fmt.Sprintf("%d", time.Now().UnixNano())}, nil
}

// Warnings name what the later templates define that could not be created
// locally, and parameters that got a local placeholder value.
func (d *Deployer) Warnings() []string { return d.warnings }

// Deployment is the definitions evaluated, and created unless evaluated
// only, in one region.
type Deployment struct {
	Region string
	// Resources by logical id: every resource that exists in the region
	// (its condition true), created in moto or a placeholder.
	Resources map[string]Created
	rr        *regionRun
}

// Deploy creates the definitions' resources in region against moto, in
// dependency order; the main template's resources fail it, the later
// templates' are warnings.
func (d *Deployer) Deploy(ctx context.Context, region string) (*Deployment, error) {
	return d.DeployWith(ctx, region, nil)
}

// DeployWith is Deploy with params overriding Options' parameter values in
// this region (every template's parameter of that name): values the caller
// learns only while deploying, such as another region's outputs.
func (d *Deployer) DeployWith(ctx context.Context, region string, params map[string]string) (*Deployment, error) {
	if d.opts.Endpoint == "" {
		return nil, errors.New("cfn: no moto endpoint")
	}
	return d.deploy(ctx, region, false, params)
}

// Evaluate evaluates the definitions in region without creating anything:
// every resource is a placeholder, so only values that do not come from a
// created resource (parameters, mappings, conditions) are meaningful.
func (d *Deployer) Evaluate(region string) (*Deployment, error) {
	return d.EvaluateWith(region, nil)
}

// EvaluateWith is Evaluate with params overriding Options' parameter values
// in this region, as DeployWith.
func (d *Deployer) EvaluateWith(region string, params map[string]string) (*Deployment, error) {
	return d.deploy(context.Background(), region, true, params)
}

func (d *Deployer) deploy(ctx context.Context, region string, dryRun bool, overrides map[string]string) (*Deployment, error) {
	rr, err := d.newRegionRun(region, dryRun, overrides)
	if err != nil {
		return nil, err
	}
	if err := rr.deploy(ctx); err != nil {
		return nil, err
	}
	return &Deployment{Region: region, Resources: rr.applied, rr: rr}, nil
}

// WithParameters returns the deployment evaluated again with params
// overriding its parameter values: what it created stays as it is (nothing
// is created or changed in moto); Eval and Outputs see the new values. It is
// for values known only once a later region is deployed (a zone pair's
// partner outputs), which a real deployment passes on a second stack update.
func (d *Deployment) WithParameters(params map[string]string) (*Deployment, error) {
	rr := *d.rr
	rr.overrides = map[string]string{}
	for k, v := range d.rr.overrides {
		rr.overrides[k] = v
	}
	for k, v := range params {
		rr.overrides[k] = v
	}
	main, err := rr.paramsFor(rr.region, rr.defs.main(), nil)
	if err != nil {
		return nil, err
	}
	rr.busy = map[string]bool{}
	rr.evs = map[*template.Template]*evaluator{}
	rr.evs[rr.defs.main()] = rr.newEvaluator(rr.defs.main(), main)
	return &Deployment{Region: d.Region, Resources: d.Resources, rr: &rr}, nil
}

// Eval evaluates v, an expression of t, in the deployment's region.
func (d *Deployment) Eval(t *template.Template, v any) (any, error) { return d.rr.ev(t).eval(v) }

// Outputs evaluates t's outputs in the deployment's region; an output whose
// condition is false is left out.
func (d *Deployment) Outputs(t *template.Template) (map[string]string, error) { return d.rr.outputs(t) }

// EnsureService makes sure the ECS service cluster/name exists (created by
// the templates or here, with desired tasks and a placeholder task
// definition).
func (d *Deployment) EnsureService(ctx context.Context, cluster, name string, desired int) error {
	return d.rr.ensureService(ctx, cluster, name, desired)
}

// params resolves the main template's parameters in region, with
// overrides over Options' values.
func (d *Deployer) params(region string, overrides map[string]string) (map[string]string, error) {
	return (&regionRun{Deployer: d, region: region, overrides: overrides}).paramsFor(region, d.defs.main(), nil)
}

// paramsFor resolves t's parameters in this region: the run's overrides
// (DeployWith), Options.RegionParameters, Options.Parameters, the default;
// for a later file then the main template's output of the same name (main
// evaluates it), else a local placeholder (reported).
func (rr *regionRun) paramsFor(region string, t *template.Template, main *evaluator) (map[string]string, error) {
	d := rr.Deployer
	out := map[string]string{}
	var missing []string
	for name, p := range t.Parameters {
		v, ok := rr.overrides[name]
		if !ok {
			v, ok = d.opts.RegionParameters[region][name]
		}
		if !ok {
			v, ok = d.opts.Parameters[name]
		}
		if !ok && p.Default != nil {
			v, ok = *p.Default, true
		}
		if !ok && d.secondary(t) {
			if o, has := d.defs.main().Outputs[name]; has && main != nil {
				if s, err := main.evalString(o.Value); err == nil {
					v, ok = s, true
				}
			}
			if !ok {
				v, ok = "local-"+name, true
				d.warn(fmt.Sprintf("%s: parameter %s has no value locally: using %q", t.Path, name, v))
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

// secondary reports whether t is not the main template.
func (d *Deployer) secondary(t *template.Template) bool { return t != d.defs.main() }

func (d *Deployer) warn(w string) {
	for _, x := range d.warnings {
		if x == w {
			return
		}
	}
	d.warnings = append(d.warnings, w)
}

// order sorts the resources so each comes after the resources it refers to,
// the main template's first (the later ones may take its outputs).
func (d *Deployer) order() []resource {
	all := d.defs.resources()
	byID := map[string]resource{}
	for _, r := range all {
		byID[r.LogicalID] = r
	}
	var out []resource
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(id string)
	visit = func(id string) {
		r, ok := byID[id]
		if !ok || state[id] != 0 {
			// Cycles through placeholders (permissions <-> functions) are
			// harmless: placeholders never need their dependencies created.
			return
		}
		state[id] = 1
		for _, d := range append(template.Refs(r.Properties), r.DependsOn...) {
			visit(d)
		}
		state[id] = 2
		out = append(out, r)
	}
	for _, r := range all {
		visit(r.LogicalID)
	}
	sort.SliceStable(out, func(i, j int) bool { return !d.secondary(out[i].tpl) && d.secondary(out[j].tpl) })
	return out
}

// regionRun is the evaluation state of one region.
type regionRun struct {
	*Deployer
	region  string
	c       clients
	created map[string]Created
	absent  map[string]bool
	byID    map[string]resource
	// applied are the resources created in moto or given a placeholder, by
	// logical id (absent ones excluded).
	applied map[string]Created
	// dryRun evaluates without creating anything: every resource is a placeholder.
	dryRun bool
	// replica is the multi-Region key's replica in this region, once made.
	replica *Created
	// evs are the evaluators per template; the main one is made first, the
	// later ones on first use (after the main template's resources: their
	// parameters may take its outputs).
	evs  map[*template.Template]*evaluator
	busy map[string]bool
	// overrides are parameter values over Options' (DeployWith).
	overrides map[string]string
}

func (d *Deployer) newRegionRun(region string, dryRun bool, overrides map[string]string) (*regionRun, error) {
	params, err := d.params(region, overrides)
	if err != nil {
		return nil, err
	}
	rr := &regionRun{Deployer: d, region: region, dryRun: dryRun, overrides: overrides,
		created: map[string]Created{}, absent: map[string]bool{}, byID: map[string]resource{}, applied: map[string]Created{},
		evs: map[*template.Template]*evaluator{}, busy: map[string]bool{}}
	if !dryRun {
		rr.c = newClients(d.base, d.opts.Endpoint, region)
	}
	for _, r := range d.defs.resources() {
		rr.byID[r.LogicalID] = r
	}
	rr.evs[d.defs.main()] = rr.newEvaluator(d.defs.main(), params)
	return rr, nil
}

func (rr *regionRun) newEvaluator(t *template.Template, params map[string]string) *evaluator {
	return &evaluator{tpl: t, region: rr.region, account: rr.opts.AccountID, stack: rr.opts.StackName,
		params: params, conds: map[string]bool{}, busy: rr.busy, attr: rr.attr}
}

// ev is the evaluator for t's resources and outputs.
func (rr *regionRun) ev(t *template.Template) *evaluator {
	if e, ok := rr.evs[t]; ok {
		return e
	}
	params, _ := rr.paramsFor(rr.region, t, rr.evs[rr.defs.main()]) // never fails for a later file
	e := rr.newEvaluator(t, params)
	rr.evs[t] = e
	return e
}

// deploy creates every resource in this region, in dependency order.
func (rr *regionRun) deploy(ctx context.Context) error {
	for _, r := range rr.order() {
		if err := rr.apply(ctx, r); err != nil {
			if rr.secondary(r.tpl) {
				rr.warn(fmt.Sprintf("%s: %s (%s) not created locally: %v", r.tpl.Path, r.LogicalID, r.Type, err))
				rr.absent[r.LogicalID] = true
				continue
			}
			return fmt.Errorf("%s (%s): %w", r.LogicalID, r.Type, err)
		}
	}
	return nil
}

// outputs evaluates t's outputs in this region; an output whose condition is
// false is left out.
func (rr *regionRun) outputs(t *template.Template) (map[string]string, error) {
	ev := rr.ev(t)
	out := map[string]string{}
	for name, o := range t.Outputs {
		if o.Condition != "" {
			on, err := ev.condition(o.Condition)
			if err != nil {
				return nil, fmt.Errorf("output %s: %w", name, err)
			}
			if !on {
				continue
			}
		}
		s, err := ev.evalString(o.Value)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
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
		if creators[r.Type] != nil && !rr.dryRun {
			return nil, fmt.Errorf("resource %s referenced before it was created", id)
		}
		if rr.busy["res:"+id] {
			return nil, fmt.Errorf("resource %s refers to itself", id)
		}
		rr.busy["res:"+id] = true
		c = rr.placeholder(r)
		delete(rr.busy, "res:"+id)
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
func (rr *regionRun) name(r *template.Resource, props map[string]any, key string) string {
	if key != "" {
		if s, err := template.ScalarString(props[key]); err == nil && s != "" {
			return s
		}
	}
	return rr.opts.StackName + "-" + r.LogicalID
}

// placeholder gives a resource moto does not host a deterministic identity.
func (rr *regionRun) placeholder(r resource) Created {
	nameKey := map[string]string{
		"AWS::Serverless::Function": "FunctionName", "AWS::Lambda::Function": "FunctionName",
		"AWS::IAM::Role": "RoleName", "AWS::SNS::Topic": "TopicName", "AWS::Logs::LogGroup": "LogGroupName",
	}[r.Type]
	name := rr.opts.StackName + "-" + r.LogicalID
	if nameKey != "" {
		if v, ok := r.Properties[nameKey]; ok {
			if s, err := rr.ev(r.tpl).evalString(v); err == nil && s != "" {
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

// on evaluates whether r exists in this region: its condition, except that
// global tables with eventual consistency and multi-Region keys exist in
// every local region (moto does not replicate) and replica keys only outside
// the primary region. A global table with multi-Region strong consistency
// keeps its condition: it is created once, by the stack that creates it, and
// the other regions reach that one table through a local MRSC emulation
// (internal/pairlocal), as AWS serves every replica the same items.
func (rr *regionRun) on(r resource) (bool, error) {
	switch {
	case r.Type == "AWS::DynamoDB::GlobalTable" && !rr.isStronglyConsistent(r):
		return true, nil
	case r.Type == "AWS::KMS::Key" && rr.isMultiRegionKey(r):
		return true, nil
	case r.Type == "AWS::KMS::ReplicaKey" && rr.region == rr.opts.PrimaryRegion:
		return false, nil
	case r.Condition == "":
		return true, nil
	}
	return rr.ev(r.tpl).condition(r.Condition)
}

// apply evaluates and creates one resource in this region.
func (rr *regionRun) apply(ctx context.Context, r resource) error {
	on, err := rr.on(r)
	if err != nil {
		return err
	}
	if !on {
		rr.absent[r.LogicalID] = true
		return nil
	}
	create := creators[r.Type]
	if create == nil || rr.dryRun {
		if _, ok := rr.created[r.LogicalID]; !ok {
			rr.created[r.LogicalID] = rr.placeholder(r)
		}
		rr.applied[r.LogicalID] = rr.created[r.LogicalID]
		return nil
	}
	pv, err := rr.ev(r.tpl).eval(r.Properties)
	if err != nil {
		return fmt.Errorf("evaluate properties: %w", err)
	}
	props, _ := pv.(map[string]any)
	c, err := create(rr, ctx, r.Resource, props)
	if err != nil {
		return err
	}
	c.Type, c.Properties = r.Type, props
	rr.created[r.LogicalID] = c
	rr.applied[r.LogicalID] = c
	return nil
}

// isStronglyConsistent reports whether a global table resource has
// MultiRegionConsistency STRONG.
func (rr *regionRun) isStronglyConsistent(r resource) bool {
	v, ok := r.Properties["MultiRegionConsistency"]
	if !ok {
		return false
	}
	s, err := rr.ev(r.tpl).evalString(v)
	return err == nil && s == "STRONG"
}

// isMultiRegionKey reports whether a KMS key resource has MultiRegion: true.
func (rr *regionRun) isMultiRegionKey(r resource) bool {
	v, ok := r.Properties["MultiRegion"]
	if !ok {
		return false
	}
	val, err := rr.ev(r.tpl).eval(v)
	if err != nil {
		return false
	}
	b, _ := template.Bool(val)
	return b
}
