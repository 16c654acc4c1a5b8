package templatecheck

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/alarmaction"
)

// Finding is one violated property.
type Finding struct {
	// Check names the property: "iam", "encryption", "residency-attributes",
	// "async-failure-destination", "lambda-permission", "log-retention",
	// "deletion-policy", "kms-create-grant", "task-definition",
	// "trigger-grants", "user-pool-triggers", "alarm-claim-lease", "rules",
	// "site-database", "lambda-env-size", "erasure-grants", "erasure-runs",
	// "erasure-records", "zone-pair" or "arc-safety-rule".
	Check string
	// Resource is the logical id of the offending resource.
	Resource string
	// Message says what is wrong.
	Message string
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.Check, f.Resource, f.Message) }

// NoResourceLevelActions are the IAM actions that may be granted on Resource
// "*": AWS offers no resource-level permission for them (the IAM service
// authorization reference lists no resource type), so "*" is the only
// resource a policy can name. Each entry says why it is needed.
var NoResourceLevelActions = map[string]string{
	"xray:PutTraceSegments":          "X-Ray: no resource types; SDK subsegments are sent through the Lambda X-Ray daemon",
	"xray:PutTelemetryRecords":       "X-Ray: no resource types; daemon telemetry",
	"xray:GetSamplingRules":          "X-Ray: no resource types; the SDK reads sampling rules",
	"xray:GetSamplingTargets":        "X-Ray: no resource types; the SDK reads sampling targets",
	"cloudwatch:PutMetricData":       "CloudWatch metrics: no resource types (scope with the cloudwatch:namespace condition key)",
	"cloudwatch:GetMetricData":       "CloudWatch metrics: no resource types",
	"cloudwatch:ListMetrics":         "CloudWatch metrics: no resource types",
	"ecs:DiscoverPollEndpoint":       "ECS agent (on-prem ECS Anywhere instance role): no resource types",
	"ecs:RegisterTaskDefinition":     "ECS: no resource types for registering a task definition",
	"ecs:DescribeTaskDefinition":     "ECS: no resource types",
	"ecr:GetAuthorizationToken":      "ECR: the registry token is not scoped to a repository",
	"ssm:DescribeInstanceProperties": "SSM agent on ECS Anywhere hosts: no resource types",
	"sts:GetCallerIdentity":          "STS: no resource types, and never needs permission",
}

// ScopedSAMPolicyTemplates are the SAM policy templates that take the
// resource they grant on as a parameter (they never expand to Resource "*").
var ScopedSAMPolicyTemplates = map[string]bool{
	"DynamoDBCrudPolicy": true, "DynamoDBReadPolicy": true, "DynamoDBWritePolicy": true,
	"DynamoDBStreamReadPolicy": true, "SQSSendMessagePolicy": true, "SQSPollerPolicy": true,
	"KMSDecryptPolicy": true, "KMSEncryptPolicy": true, "LambdaInvokePolicy": true,
	"SNSPublishMessagePolicy": true, "SSMParameterReadPolicy": true,
	"SecretsManagerGetSecretValuePolicy": true, "S3ReadPolicy": true, "S3WritePolicy": true,
	"S3CrudPolicy": true, "EventBridgePutEventsPolicy": true, "StepFunctionsExecutionPolicy": true,
}

// AllowedManagedPolicies are AWS managed policies (by name or ARN suffix)
// the templates may attach although they grant on "*", with the reason.
var AllowedManagedPolicies = map[string]string{
	"AWSXrayWriteOnlyAccess":   "X-Ray write actions only, which have no resource-level permissions",
	"AWSXRayDaemonWriteAccess": "X-Ray write actions only, which have no resource-level permissions",
}

// ResidencyAttributes are the user pool custom attributes that pin a user to
// a home region (schema names, without the "custom:" prefix).
var ResidencyAttributes = []string{"region", "country"}

// Check runs every check on t and returns the findings, sorted.
func Check(t *template.Template) []Finding {
	var fs []Finding
	fs = append(fs, CheckIAM(t)...)
	fs = append(fs, CheckEncryption(t)...)
	fs = append(fs, CheckResidencyAttributes(t)...)
	fs = append(fs, CheckAsyncFailureDestinations(t)...)
	fs = append(fs, CheckLambdaPermissions(t)...)
	fs = append(fs, CheckLogRetention(t)...)
	fs = append(fs, CheckDeletionPolicies(t)...)
	fs = append(fs, CheckKMSCreateGrant(t)...)
	fs = append(fs, CheckTaskDefinitions(t)...)
	fs = append(fs, CheckTriggerGrants(t)...)
	fs = append(fs, CheckUserPoolTriggers(t)...)
	fs = append(fs, CheckAlarmClaimLease(t)...)
	fs = append(fs, CheckRules(t)...)
	fs = append(fs, CheckSiteDatabase(t)...)
	fs = append(fs, CheckFunctionEnvSize(t)...)
	fs = append(fs, CheckErasureGrants(t)...)
	fs = append(fs, CheckErasureRuns(t)...)
	fs = append(fs, CheckNoErasureRecordWrites(t)...)
	fs = append(fs, CheckZonePair(t)...)
	fs = append(fs, CheckArcSafetyRule(t)...)
	fs = append(fs, CheckOrdersQueue(t)...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].String() < fs[j].String() })
	return fs
}

// CheckIAM finds "*" actions (including service:* and wildcards in action
// names), Allow statements with NotAction or NotResource, Resource "*" for an
// action outside NoResourceLevelActions, and unreviewed SAM policy templates
// or managed policies. In resource policies (KMS key policies) Resource "*"
// means the resource itself and is not flagged, and a kms:* grant to the
// account root (the default key policy that keeps the key manageable) is
// accepted.
func CheckIAM(t *template.Template) []Finding {
	var fs []Finding
	rs := append([]*template.Resource(nil), t.Resources...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].LogicalID < rs[j].LogicalID })
	for _, r := range rs {
		id := r.LogicalID
		p := r.Properties
		switch r.Type {
		case "AWS::IAM::Role":
			for _, pol := range list(p["Policies"]) {
				if m, ok := pol.(map[string]any); ok {
					fs = append(fs, checkDocument(id, m["PolicyDocument"], false)...)
				}
			}
			for _, arn := range list(p["ManagedPolicyArns"]) {
				fs = append(fs, checkManaged(id, arn)...)
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy":
			fs = append(fs, checkDocument(id, p["PolicyDocument"], false)...)
		case "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
			fs = append(fs, checkDocument(id, p["PolicyDocument"], false)...)
		case "AWS::KMS::Key", "AWS::KMS::ReplicaKey":
			fs = append(fs, checkDocument(id, p["KeyPolicy"], true)...)
		case "AWS::Serverless::Function", "AWS::Serverless::StateMachine":
			for _, pol := range list(p["Policies"]) {
				switch x := pol.(type) {
				case string:
					fs = append(fs, checkManaged(id, x)...)
				case map[string]any:
					if _, ok := x["Statement"]; ok {
						fs = append(fs, checkDocument(id, x, false)...)
						continue
					}
					for name := range x {
						if !ScopedSAMPolicyTemplates[name] && AllowedManagedPolicies[name] == "" {
							fs = append(fs, Finding{"iam", id, fmt.Sprintf("SAM policy template %s is not in the reviewed list of resource-scoped templates", name)})
						}
					}
				}
			}
		}
	}
	return fs
}

func checkManaged(id string, arn any) []Finding {
	s, ok := arn.(string)
	if !ok {
		return nil // a Ref/Sub to a policy defined in the template is checked there
	}
	name := s[strings.LastIndexByte(s, '/')+1:]
	if AllowedManagedPolicies[name] != "" {
		return nil
	}
	return []Finding{{"iam", id, fmt.Sprintf("managed policy %s is not in the reviewed allow-list", s)}}
}

func checkDocument(id string, doc any, resourcePolicy bool) []Finding {
	d, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	var fs []Finding
	for i, st := range list(d["Statement"]) {
		s, ok := st.(map[string]any)
		if !ok {
			continue
		}
		if e, _ := s["Effect"].(string); e != "Allow" {
			continue // Deny statements may be as broad as they like
		}
		where := fmt.Sprintf("statement %d", i)
		if sid, ok := s["Sid"].(string); ok {
			where = "statement " + sid
		}
		if _, ok := s["NotAction"]; ok {
			fs = append(fs, Finding{"iam", id, where + ": Allow with NotAction grants everything else"})
		}
		if _, ok := s["NotResource"]; ok {
			fs = append(fs, Finding{"iam", id, where + ": Allow with NotResource grants everything else"})
		}
		rootOnly := resourcePolicy && principalIsAccountRoot(s["Principal"])
		var actions []string
		for _, a := range list(s["Action"]) {
			as, ok := a.(string)
			if !ok {
				continue
			}
			actions = append(actions, as)
			if strings.Contains(as, "*") && !(rootOnly && as == "kms:*") {
				fs = append(fs, Finding{"iam", id, fmt.Sprintf("%s: wildcard action %q", where, as)})
			}
		}
		if resourcePolicy {
			continue // Resource "*" in a key policy is the key itself
		}
		star := false
		for _, r := range list(s["Resource"]) {
			if r == "*" {
				star = true
			}
		}
		if !star {
			continue
		}
		var bad []string
		for _, a := range actions {
			if NoResourceLevelActions[a] == "" {
				bad = append(bad, a)
			}
		}
		if len(bad) > 0 {
			fs = append(fs, Finding{"iam", id, fmt.Sprintf("%s: Resource \"*\" for %s, which support resource-level permissions (name the exact ARNs)", where, strings.Join(bad, ", "))})
		}
	}
	return fs
}

// principalIsAccountRoot reports whether p names only this account's root
// (arn:...:iam::${AWS::AccountId}:root or the bare account id).
func principalIsAccountRoot(p any) bool {
	m, ok := p.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for _, a := range list(m["AWS"]) {
		switch x := a.(type) {
		case string:
			if !strings.HasSuffix(x, ":root") {
				return false
			}
		case map[string]any:
			sub, _ := x["Fn::Sub"].(string)
			if !strings.HasSuffix(sub, ":root") && !refersTo(x, "AWS::AccountId") {
				return false
			}
		default:
			return false
		}
	}
	return len(list(m["AWS"])) > 0
}

// CheckEncryption finds tables without SSESpecification.SSEEnabled true and
// queues without SqsManagedSseEnabled true or a KmsMasterKeyId.
func CheckEncryption(t *template.Template) []Finding {
	var fs []Finding
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::Serverless::SimpleTable"} {
		for _, id := range t.IDs(typ) {
			sse, _ := t.Resource(id).Properties["SSESpecification"].(map[string]any)
			if sse == nil || !isTrue(sse["SSEEnabled"]) {
				fs = append(fs, Finding{"encryption", id, typ + " without SSESpecification.SSEEnabled: true"})
			}
		}
	}
	for _, id := range t.IDs("AWS::SQS::Queue") {
		p := t.Resource(id).Properties
		if _, kms := p["KmsMasterKeyId"]; !kms && !isTrue(p["SqsManagedSseEnabled"]) {
			fs = append(fs, Finding{"encryption", id, "AWS::SQS::Queue without SqsManagedSseEnabled: true or KmsMasterKeyId"})
		}
	}
	return fs
}

// CheckResidencyAttributes requires every user pool to define custom:region
// and custom:country with Mutable: false (so nobody, the app client included,
// can change them after sign-up), and every app client to declare its
// WriteAttributes explicitly, naming a residency attribute only when it is
// immutable. (Cognito accepts at sign-up only the attributes the app client
// may write, so a client that signs users up must list them; Mutable: false is
// what makes them unchangeable afterwards.)
func CheckResidencyAttributes(t *template.Template) []Finding {
	var fs []Finding
	immutable := map[string]bool{}
	pools := t.IDs("AWS::Cognito::UserPool")
	for _, id := range pools {
		schema := map[string]map[string]any{}
		for _, a := range list(t.Resource(id).Properties["Schema"]) {
			if m, ok := a.(map[string]any); ok {
				if n, ok := m["Name"].(string); ok {
					schema[n] = m
				}
			}
		}
		for _, name := range ResidencyAttributes {
			a, ok := schema[name]
			switch {
			case !ok:
				fs = append(fs, Finding{"residency-attributes", id, "user pool schema lacks custom:" + name})
			case !isFalse(a["Mutable"]):
				fs = append(fs, Finding{"residency-attributes", id, "custom:" + name + " must be Mutable: false (CloudFormation's default is true)"})
			default:
				immutable[id+"/"+name] = true
			}
		}
	}
	for _, id := range t.IDs("AWS::Cognito::UserPoolClient") {
		p := t.Resource(id).Properties
		wa, ok := p["WriteAttributes"]
		if !ok {
			fs = append(fs, Finding{"residency-attributes", id, "app client without an explicit WriteAttributes list"})
			continue
		}
		pool := ""
		for _, pid := range pools {
			if refersTo(p["UserPoolId"], pid) {
				pool = pid
			}
		}
		for _, a := range list(wa) {
			s, _ := a.(string)
			for _, name := range ResidencyAttributes {
				if s == "custom:"+name && !immutable[pool+"/"+name] {
					fs = append(fs, Finding{"residency-attributes", id, "app client may write custom:" + name + ", which is not immutable in its user pool"})
				}
			}
		}
	}
	return fs
}

// asyncPrincipals invoke Lambda functions asynchronously (event invocations
// that Lambda retries and then drops unless a DLQ or failure destination is set).
var asyncPrincipals = map[string]bool{
	"lambda.alarms.cloudwatch.amazonaws.com": true,
	"sns.amazonaws.com":                      true,
	"events.amazonaws.com":                   true,
	"s3.amazonaws.com":                       true,
	"scheduler.amazonaws.com":                true,
	"logs.amazonaws.com":                     true,
}

// asyncEventTypes are SAM function event sources invoked asynchronously.
var asyncEventTypes = map[string]bool{
	"SNS": true, "S3": true, "EventBridgeRule": true, "CloudWatchEvent": true,
	"Schedule": true, "ScheduleV2": true, "CloudWatchLogs": true, "IoTRule": true,
}

// CheckAsyncFailureDestinations finds functions invoked asynchronously (by
// CloudWatch alarm actions, SNS, EventBridge, S3 ...) that have neither a
// DeadLetterQueue nor an on-failure destination (SAM EventInvokeConfig or an
// AWS::Lambda::EventInvokeConfig).
func CheckAsyncFailureDestinations(t *template.Template) []Finding {
	var fs []Finding
	fns := append(t.IDs("AWS::Serverless::Function"), t.IDs("AWS::Lambda::Function")...)
	sort.Strings(fns)
	for _, fn := range fns {
		p := t.Resource(fn).Properties
		if !invokedAsync(t, fn) {
			continue
		}
		if _, ok := p["DeadLetterQueue"]; ok {
			continue
		}
		if dlc, ok := p["DeadLetterConfig"].(map[string]any); ok && dlc["TargetArn"] != nil {
			continue
		}
		if hasOnFailure(p["EventInvokeConfig"]) {
			continue
		}
		found := false
		for _, eic := range t.IDs("AWS::Lambda::EventInvokeConfig") {
			ep := t.Resource(eic).Properties
			if mentions(ep["FunctionName"], fn) && hasOnFailure(ep) {
				found = true
			}
		}
		if !found {
			fs = append(fs, Finding{"async-failure-destination", fn, "invoked asynchronously but has no DeadLetterQueue or OnFailure destination: failed events would be dropped"})
		}
	}
	return fs
}

func hasOnFailure(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	dc, _ := m["DestinationConfig"].(map[string]any)
	of, _ := dc["OnFailure"].(map[string]any)
	return of != nil && (of["Destination"] != nil || of["Type"] != nil)
}

func invokedAsync(t *template.Template, fn string) bool {
	if evs, ok := t.Resource(fn).Properties["Events"].(map[string]any); ok {
		for _, ev := range evs {
			if m, ok := ev.(map[string]any); ok {
				if typ, _ := m["Type"].(string); asyncEventTypes[typ] {
					return true
				}
			}
		}
	}
	for _, id := range t.IDs("AWS::Lambda::Permission") {
		p := t.Resource(id).Properties
		if pr, _ := p["Principal"].(string); asyncPrincipals[pr] && mentions(p["FunctionName"], fn) {
			return true
		}
	}
	for _, id := range t.IDs("AWS::CloudWatch::Alarm") {
		p := t.Resource(id).Properties
		for _, k := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
			if mentions(p[k], fn) {
				return true
			}
		}
	}
	for _, id := range t.IDs("AWS::SNS::Subscription") {
		p := t.Resource(id).Properties
		if pr, _ := p["Protocol"].(string); pr == "lambda" && mentions(p["Endpoint"], fn) {
			return true
		}
	}
	return false
}

// LambdaFirstAsyncRetry is about when Lambda retries a failed asynchronous
// invocation the first time (one minute; the second retry comes two minutes
// after that).
const LambdaFirstAsyncRetry = time.Minute

// CheckAlarmClaimLease finds alarm action functions (those with an ACTION
// variable) whose Timeout is not shorter than alarmaction.ClaimLease, the
// lease an invocation holds on the event it handles: a live invocation's
// claim could then be taken over by a duplicate delivery. It also reports a
// ClaimLease not shorter than Lambda's first asynchronous retry, which would
// turn away the retry of an invocation that died at its timeout.
func CheckAlarmClaimLease(t *template.Template) []Finding {
	var fs []Finding
	if alarmaction.ClaimLease >= LambdaFirstAsyncRetry {
		fs = append(fs, Finding{"alarm-claim-lease", "alarmaction.ClaimLease", fmt.Sprintf("%s is not shorter than Lambda's first asynchronous retry (%s): a retry after a timeout would be turned away", alarmaction.ClaimLease, LambdaFirstAsyncRetry)})
	}
	for _, fn := range append(t.IDs("AWS::Serverless::Function"), t.IDs("AWS::Lambda::Function")...) {
		p := t.Resource(fn).Properties
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if _, ok := vars["ACTION"]; !ok {
			continue
		}
		timeout := p["Timeout"]
		if timeout == nil {
			if g, ok := t.Globals["Function"].(map[string]any); ok {
				timeout = g["Timeout"]
			}
		}
		secs, ok := 3, true // Lambda's default
		if timeout != nil {
			secs, ok = template.Int(timeout)
		}
		if !ok {
			fs = append(fs, Finding{"alarm-claim-lease", fn, fmt.Sprintf("Timeout %v is not a literal: it cannot be checked against alarmaction.ClaimLease", timeout)})
			continue
		}
		if d := time.Duration(secs) * time.Second; d >= alarmaction.ClaimLease {
			fs = append(fs, Finding{"alarm-claim-lease", fn, fmt.Sprintf("Timeout %s is not shorter than alarmaction.ClaimLease (%s): a duplicate delivery could take over a live invocation's event", d, alarmaction.ClaimLease)})
		}
	}
	return fs
}

// CheckLambdaPermissions finds permissions that let an AWS service invoke a
// function without SourceArn or SourceAccount (the confused-deputy problem:
// any account's resource of that service could invoke it).
func CheckLambdaPermissions(t *template.Template) []Finding {
	var fs []Finding
	for _, id := range t.IDs("AWS::Lambda::Permission") {
		p := t.Resource(id).Properties
		pr, _ := p["Principal"].(string)
		if !strings.HasSuffix(pr, ".amazonaws.com") {
			continue
		}
		if p["SourceArn"] == nil && p["SourceAccount"] == nil {
			fs = append(fs, Finding{"lambda-permission", id, "service principal " + pr + " without SourceArn or SourceAccount"})
		}
	}
	return fs
}

// LogRetentionDays are the values CloudWatch Logs accepts for RetentionInDays.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// MinDefaultLogRetentionDays is the least default retention of a log group:
// regulated operators keep logs a year or more (AWS Control Tower's
// CT.CLOUDWATCH.PR.2 asks for 365 days).
const MinDefaultLogRetentionDays = 365

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case float64:
		return int(x), x == float64(int(x))
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

// CheckLogRetention requires every log group's RetentionInDays to be absent
// (never expire) or a !Ref to a parameter whose AllowedValues are valid
// CloudWatch Logs retention days and whose Default is at least
// MinDefaultLogRetentionDays, so that operators who must keep logs longer can
// without editing the template.
func CheckLogRetention(t *template.Template) []Finding {
	valid := map[int]bool{}
	for _, d := range LogRetentionDays {
		valid[d] = true
	}
	var fs []Finding
	for _, id := range t.IDs("AWS::Logs::LogGroup") {
		v, ok := t.Resource(id).Properties["RetentionInDays"]
		if !ok {
			continue
		}
		ref, _ := v.(map[string]any)
		name, _ := ref["Ref"].(string)
		if name == "" {
			fs = append(fs, Finding{"log-retention", id, fmt.Sprintf("RetentionInDays %v is not a !Ref to a parameter (operators must be able to keep logs longer)", v)})
			continue
		}
		p, ok := t.Parameters[name]
		if !ok {
			fs = append(fs, Finding{"log-retention", id, "RetentionInDays refers to " + name + ", which is not a parameter"})
			continue
		}
		def, ok := asInt(p.Properties["Default"])
		if !ok || !valid[def] || def < MinDefaultLogRetentionDays {
			fs = append(fs, Finding{"log-retention", id, fmt.Sprintf("parameter %s: Default %v is not a valid retention of at least %d days", name, p.Properties["Default"], MinDefaultLogRetentionDays)})
		}
		allowed := list(p.Properties["AllowedValues"])
		if len(allowed) == 0 {
			fs = append(fs, Finding{"log-retention", id, "parameter " + name + " has no AllowedValues (the valid CloudWatch Logs retention days)"})
		}
		for _, a := range allowed {
			if n, ok := asInt(a); !ok || !valid[n] {
				fs = append(fs, Finding{"log-retention", id, fmt.Sprintf("parameter %s: AllowedValues has %v, not a valid CloudWatch Logs retention", name, a)})
			}
		}
	}
	return fs
}

// StatefulTypes are the resource types that hold data (or keys, or logs) and
// must say what happens to it on stack deletion and replacement.
var StatefulTypes = []string{
	"AWS::Logs::LogGroup", "AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable",
	"AWS::KMS::Key", "AWS::KMS::ReplicaKey", "AWS::Cognito::UserPool",
}

// CheckDeletionPolicies requires an explicit DeletionPolicy and
// UpdateReplacePolicy (Retain, Delete or Snapshot: a deliberate choice, not
// CloudFormation's default delete) on every resource of StatefulTypes.
func CheckDeletionPolicies(t *template.Template) []Finding {
	var fs []Finding
	for _, typ := range StatefulTypes {
		for _, id := range t.IDs(typ) {
			r := t.Resource(id)
			if r.DeletionPolicy == "" {
				fs = append(fs, Finding{"deletion-policy", id, typ + " without an explicit DeletionPolicy"})
			}
			if r.UpdateReplacePolicy == "" {
				fs = append(fs, Finding{"deletion-policy", id, typ + " without an explicit UpdateReplacePolicy"})
			}
		}
	}
	return fs
}

// CheckKMSCreateGrant requires every KMS key policy to deny kms:CreateGrant
// to every principal unless the grant is for an AWS resource or the caller
// is an AWS service (BoolIfExists kms:GrantIsForAWSResource and
// aws:PrincipalIsAWSService both "false", AWS Control Tower's
// CT.KMS.PR.3): the account-root statement delegates kms:* to IAM, so
// without it any principal of the account with kms:* in its IAM policy
// could grant the key's use to anyone.
func CheckKMSCreateGrant(t *template.Template) []Finding {
	var fs []Finding
	for _, typ := range []string{"AWS::KMS::Key", "AWS::KMS::ReplicaKey"} {
		for _, id := range t.IDs(typ) {
			pol, _ := t.Resource(id).Properties["KeyPolicy"].(map[string]any)
			ok := false
			for _, st := range list(pol["Statement"]) {
				if denyCreateGrantUnlessAWS(st) {
					ok = true
				}
			}
			if !ok {
				fs = append(fs, Finding{"kms-create-grant", id, "key policy does not deny kms:CreateGrant to principals other than AWS services (Deny, Principal *, BoolIfExists kms:GrantIsForAWSResource and aws:PrincipalIsAWSService \"false\")"})
			}
		}
	}
	return fs
}

func denyCreateGrantUnlessAWS(st any) bool {
	s, _ := st.(map[string]any)
	if s["Effect"] != "Deny" {
		return false
	}
	grant := false
	for _, a := range list(s["Action"]) {
		if as, _ := a.(string); strings.EqualFold(as, "kms:CreateGrant") || as == "kms:*" || as == "*" {
			grant = true
		}
	}
	if !grant {
		return false
	}
	everyone := s["Principal"] == "*"
	if m, ok := s["Principal"].(map[string]any); ok && len(m) == 1 {
		everyone = m["AWS"] == "*"
	}
	if !everyone {
		return false
	}
	cond, _ := s["Condition"].(map[string]any)
	if len(cond) != 1 {
		return false
	}
	b, _ := cond["BoolIfExists"].(map[string]any)
	want := map[string]bool{"kms:grantisforawsresource": false, "aws:principalisawsservice": false}
	for k, v := range b {
		lk := strings.ToLower(k)
		if _, known := want[lk]; !known || fmt.Sprint(v) != "false" {
			return false
		}
		want[lk] = true
	}
	return want["kms:grantisforawsresource"] && want["aws:principalisawsservice"]
}

// CheckTaskDefinitions requires every ECS container to run as a non-root
// User, with ReadonlyRootFilesystem true and a container Memory hard limit
// (AWS Control Tower's CT.ECS.PR.3, PR.6 and PR.7).
func CheckTaskDefinitions(t *template.Template) []Finding {
	var fs []Finding
	for _, id := range t.IDs("AWS::ECS::TaskDefinition") {
		for i, c := range list(t.Resource(id).Properties["ContainerDefinitions"]) {
			m, _ := c.(map[string]any)
			name := fmt.Sprint(m["Name"])
			if name == "<nil>" {
				name = fmt.Sprintf("#%d", i)
			}
			user, _ := m["User"].(string)
			if n, isNum := m["User"].(int); isNum {
				user = strconv.Itoa(n)
			}
			if user == "" || isRootUser(user) {
				fs = append(fs, Finding{"task-definition", id, fmt.Sprintf("container %s: no non-root User (got %q)", name, user)})
			}
			if !isTrue(m["ReadonlyRootFilesystem"]) {
				fs = append(fs, Finding{"task-definition", id, "container " + name + ": ReadonlyRootFilesystem is not true"})
			}
			if n, ok := asInt(m["Memory"]); !ok || n < 4 {
				fs = append(fs, Finding{"task-definition", id, fmt.Sprintf("container %s: no container Memory hard limit (got %v)", name, m["Memory"])})
			}
		}
	}
	return fs
}

func isRootUser(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "0" || name == "root"
}
