package templatecheck

import (
	"fmt"
	"sort"
	"strings"
)

// Finding is one violated property.
type Finding struct {
	// Check names the property: "iam", "encryption", "residency-attributes",
	// "async-failure-destination" or "lambda-permission".
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
func Check(t *Template) []Finding {
	var fs []Finding
	fs = append(fs, CheckIAM(t)...)
	fs = append(fs, CheckEncryption(t)...)
	fs = append(fs, CheckResidencyAttributes(t)...)
	fs = append(fs, CheckAsyncFailureDestinations(t)...)
	fs = append(fs, CheckLambdaPermissions(t)...)
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
func CheckIAM(t *Template) []Finding {
	var fs []Finding
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := t.Resources[id]
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
func CheckEncryption(t *Template) []Finding {
	var fs []Finding
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::Serverless::SimpleTable"} {
		for _, id := range t.IDs(typ) {
			sse, _ := t.Resources[id].Properties["SSESpecification"].(map[string]any)
			if sse == nil || !isTrue(sse["SSEEnabled"]) {
				fs = append(fs, Finding{"encryption", id, typ + " without SSESpecification.SSEEnabled: true"})
			}
		}
	}
	for _, id := range t.IDs("AWS::SQS::Queue") {
		p := t.Resources[id].Properties
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
func CheckResidencyAttributes(t *Template) []Finding {
	var fs []Finding
	immutable := map[string]bool{}
	pools := t.IDs("AWS::Cognito::UserPool")
	for _, id := range pools {
		schema := map[string]map[string]any{}
		for _, a := range list(t.Resources[id].Properties["Schema"]) {
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
		p := t.Resources[id].Properties
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
func CheckAsyncFailureDestinations(t *Template) []Finding {
	var fs []Finding
	fns := append(t.IDs("AWS::Serverless::Function"), t.IDs("AWS::Lambda::Function")...)
	sort.Strings(fns)
	for _, fn := range fns {
		p := t.Resources[fn].Properties
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
			ep := t.Resources[eic].Properties
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

func invokedAsync(t *Template, fn string) bool {
	if evs, ok := t.Resources[fn].Properties["Events"].(map[string]any); ok {
		for _, ev := range evs {
			if m, ok := ev.(map[string]any); ok {
				if typ, _ := m["Type"].(string); asyncEventTypes[typ] {
					return true
				}
			}
		}
	}
	for _, id := range t.IDs("AWS::Lambda::Permission") {
		p := t.Resources[id].Properties
		if pr, _ := p["Principal"].(string); asyncPrincipals[pr] && mentions(p["FunctionName"], fn) {
			return true
		}
	}
	for _, id := range t.IDs("AWS::CloudWatch::Alarm") {
		p := t.Resources[id].Properties
		for _, k := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
			if mentions(p[k], fn) {
				return true
			}
		}
	}
	for _, id := range t.IDs("AWS::SNS::Subscription") {
		p := t.Resources[id].Properties
		if pr, _ := p["Protocol"].(string); pr == "lambda" && mentions(p["Endpoint"], fn) {
			return true
		}
	}
	return false
}

// CheckLambdaPermissions finds permissions that let an AWS service invoke a
// function without SourceArn or SourceAccount (the confused-deputy problem:
// any account's resource of that service could invoke it).
func CheckLambdaPermissions(t *Template) []Finding {
	var fs []Finding
	for _, id := range t.IDs("AWS::Lambda::Permission") {
		p := t.Resources[id].Properties
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
