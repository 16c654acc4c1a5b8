package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// This file is the generic evaluator: it evaluates any template per region
// (parameters, conditions, intrinsic functions, outputs) and creates the
// resources of the types in creators in moto. What a region of homeregion is
// made of is homeregion.go's business.

// DefaultStackName is the stack name ${AWS::StackName} evaluates to locally.
const DefaultStackName = "homeregion"

// DefaultAccountID is moto's default account.
const DefaultAccountID = "123456789012"

// Definitions are the templates one Apply deploys: the main template first,
// then the templates of the stacks deployed after it (onprem.yaml), whose
// parameters without a value take the main template's outputs of the same
// name.
type Definitions struct {
	Templates []*template.Template
}

// OnPremFile is the name of the on-prem site definitions Load also reads when
// the file exists next to the template.
const OnPremFile = "onprem.yaml"

// Load reads templatePath and, if it exists in the same directory, onprem.yaml
// (the on-prem ECS definitions).
func Load(templatePath string) (*Definitions, error) {
	paths := []string{templatePath}
	onprem := filepath.Join(filepath.Dir(templatePath), OnPremFile)
	if filepath.Clean(onprem) != filepath.Clean(templatePath) {
		if _, err := os.Stat(onprem); err == nil {
			paths = append(paths, onprem)
		}
	}
	return LoadFiles(paths...)
}

// LoadFiles reads the given templates; the first is the main one. A logical
// id defined in two files is an error. Resources of the later files are
// optional locally: Apply reports what it cannot create from them in
// Stack.Warnings instead of failing.
func LoadFiles(paths ...string) (*Definitions, error) {
	d := &Definitions{}
	seen := map[string]string{}
	for _, p := range paths {
		t, err := template.Load(p)
		if err != nil {
			return nil, fmt.Errorf("provision: %w", err)
		}
		for _, r := range t.Resources {
			if prev, dup := seen[r.LogicalID]; dup {
				return nil, fmt.Errorf("provision: resource %s defined in %s and %s", r.LogicalID, prev, p)
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

// withDefaults fills the defaults in; region is the registry region's default.
func (o Options) withDefaults(region string) Options {
	if o.RegistryRegion == "" {
		o.RegistryRegion = region
	}
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
	// props are the evaluated properties it was created with.
	props map[string]any
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

func newApplier(defs *Definitions, opts Options) (*applier, error) {
	if defs == nil || len(defs.Templates) == 0 {
		return nil, errors.New("provision: no definitions")
	}
	base := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	if opts.Config != nil {
		base = opts.Config.Copy()
	}
	return &applier{defs: defs, opts: opts, base: base, primary: map[string]string{},
		runID: fmt.Sprintf("%d", time.Now().UnixNano())}, nil
}

// params resolves the main template's parameters in region.
func (a *applier) params(region string) (map[string]string, error) {
	return a.paramsFor(region, a.defs.main(), nil)
}

// paramsFor resolves t's parameters in region: Options.RegionParameters,
// Options.Parameters, RegistryRegion, the default; for a later file then the
// main template's output of the same name (main evaluates it), else a local
// placeholder (reported).
func (a *applier) paramsFor(region string, t *template.Template, main *evaluator) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for name, p := range t.Parameters {
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
		if !ok && a.secondary(t) {
			if o, has := a.defs.main().Outputs[name]; has && main != nil {
				if s, err := main.evalString(o.Value); err == nil {
					v, ok = s, true
				}
			}
			if !ok {
				v, ok = "local-"+name, true
				a.warn(fmt.Sprintf("%s: parameter %s has no value locally: using %q", t.Path, name, v))
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
func (a *applier) secondary(t *template.Template) bool { return t != a.defs.main() }

func (a *applier) warn(w string) {
	for _, x := range a.warnings {
		if x == w {
			return
		}
	}
	a.warnings = append(a.warnings, w)
}

func (a *applier) note(n string) { a.notes = append(a.notes, n) }

// order sorts the resources so each comes after the resources it refers to,
// the main template's first (the later ones may take its outputs).
func (a *applier) order() []resource {
	all := a.defs.resources()
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
	sort.SliceStable(out, func(i, j int) bool { return !a.secondary(out[i].tpl) && a.secondary(out[j].tpl) })
	return out
}

// regionRun is the evaluation state of one region.
type regionRun struct {
	*applier
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
}

func (a *applier) newRegionRun(region string, dryRun bool) (*regionRun, error) {
	params, err := a.params(region)
	if err != nil {
		return nil, err
	}
	rr := &regionRun{applier: a, region: region, dryRun: dryRun,
		created: map[string]Created{}, absent: map[string]bool{}, byID: map[string]resource{}, applied: map[string]Created{},
		evs: map[*template.Template]*evaluator{}, busy: map[string]bool{}}
	if !dryRun {
		rr.c = newClients(a.base, a.opts.Endpoint, region)
	}
	for _, r := range a.defs.resources() {
		rr.byID[r.LogicalID] = r
	}
	rr.evs[a.defs.main()] = rr.newEvaluator(a.defs.main(), params)
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
// global tables and multi-Region keys exist in every local region (moto does
// not replicate) and replica keys only outside the registry region.
func (rr *regionRun) on(r resource) (bool, error) {
	switch {
	case r.Type == "AWS::DynamoDB::GlobalTable":
		return true, nil
	case r.Type == "AWS::KMS::Key" && rr.isMultiRegionKey(r):
		return true, nil
	case r.Type == "AWS::KMS::ReplicaKey" && rr.region == rr.opts.RegistryRegion:
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
	c.Type, c.props = r.Type, props
	rr.created[r.LogicalID] = c
	rr.applied[r.LogicalID] = c
	return nil
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
	b, _ := toBool(val)
	return b
}
