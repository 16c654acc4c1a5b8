package cfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	idp "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	idptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/homeregion/homeregion/internal/template"
)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func i32(m map[string]any, k string) *int32 {
	if n, ok := template.Int(m[k]); ok {
		return aws.Int32(int32(n))
	}
	return nil
}

// TableInput translates the properties of an AWS::DynamoDB::Table or
// AWS::DynamoDB::GlobalTable resource into the table named name, on demand:
// its attribute definitions, key schema, global secondary indexes and stream.
// ttl is the time to live to enable once the table exists, nil when the
// template enables none. It is the one reading of a table's layout, shared by
// the local provisioner and the tests that create the product's tables.
func TableInput(name string, p map[string]any) (in *dynamodb.CreateTableInput, ttl *ddbtypes.TimeToLiveSpecification, err error) {
	in = &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest}
	for _, a := range template.Maps(p["AttributeDefinitions"]) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(template.Field(a, "AttributeName")), AttributeType: ddbtypes.ScalarAttributeType(template.Field(a, "AttributeType"))})
	}
	keys := func(v any) []ddbtypes.KeySchemaElement {
		var ks []ddbtypes.KeySchemaElement
		for _, k := range template.Maps(v) {
			ks = append(ks, ddbtypes.KeySchemaElement{AttributeName: aws.String(template.Field(k, "AttributeName")), KeyType: ddbtypes.KeyType(template.Field(k, "KeyType"))})
		}
		return ks
	}
	in.KeySchema = keys(p["KeySchema"])
	if len(in.KeySchema) == 0 {
		return nil, nil, errors.New("no KeySchema")
	}
	for _, g := range template.Maps(p["GlobalSecondaryIndexes"]) {
		gsi := ddbtypes.GlobalSecondaryIndex{IndexName: aws.String(template.Field(g, "IndexName")), KeySchema: keys(g["KeySchema"])}
		proj, _ := g["Projection"].(map[string]any)
		gsi.Projection = &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(template.Field(proj, "ProjectionType"))}
		if gsi.Projection.ProjectionType == "" {
			gsi.Projection.ProjectionType = ddbtypes.ProjectionTypeAll
		}
		gsi.Projection.NonKeyAttributes = template.Strings(proj["NonKeyAttributes"])
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	if ss, ok := p["StreamSpecification"].(map[string]any); ok && template.Field(ss, "StreamViewType") != "" {
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(template.Field(ss, "StreamViewType"))}
	}
	if t, ok := p["TimeToLiveSpecification"].(map[string]any); ok {
		if on, _ := template.Bool(t["Enabled"]); on && template.Field(t, "AttributeName") != "" {
			ttl = &ddbtypes.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String(template.Field(t, "AttributeName"))}
		}
	}
	return in, ttl, nil
}

// table creates a DynamoDB table (or a global table's local replica).
func (rr *regionRun) table(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	name := rr.name(r, p, "TableName")
	in, ttl, err := TableInput(name, p)
	if err != nil {
		return Created{}, err
	}
	out, err := rr.c.ddb.CreateTable(ctx, in)
	var desc *ddbtypes.TableDescription
	if err != nil {
		if apiCode(err) != "ResourceInUseException" {
			return Created{}, fmt.Errorf("create table %s: %w", name, err)
		}
		d, derr := rr.c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if derr != nil {
			return Created{}, fmt.Errorf("describe existing table %s: %w", name, derr)
		}
		desc = d.Table
	} else {
		desc = out.TableDescription
	}
	if ttl != nil {
		_, err := rr.c.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name), TimeToLiveSpecification: ttl})
		if err != nil && !strings.Contains(err.Error(), "already enabled") {
			return Created{}, fmt.Errorf("ttl on %s: %w", name, err)
		}
	}
	c := Created{Ref: name, Attrs: map[string]string{"Arn": aws.ToString(desc.TableArn)}}
	if desc.LatestStreamArn != nil {
		c.Attrs["StreamArn"] = *desc.LatestStreamArn
	}
	if c.Attrs["Arn"] == "" {
		c.Attrs["Arn"] = rr.arn("dynamodb", "table/"+name)
	}
	return c, nil
}

// queue creates an SQS queue with the template's attributes.
func (rr *regionRun) queue(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	in, err := QueueInput(rr.name(r, p, "QueueName"), p)
	if err != nil {
		return Created{}, err
	}
	name, attrs := aws.ToString(in.QueueName), in.Attributes
	out, err := rr.c.sqs.CreateQueue(ctx, in)
	if err != nil {
		return Created{}, fmt.Errorf("create queue %s: %w", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	c := Created{Ref: url, Attrs: map[string]string{"Arn": rr.arn("sqs", name), "QueueName": name, "QueueUrl": url}}
	if rp := attrs["RedrivePolicy"]; rp != "" {
		var pol struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		}
		if json.Unmarshal([]byte(rp), &pol) == nil {
			c.Attrs["DeadLetterTargetArn"] = pol.DeadLetterTargetArn
		}
	}
	return c, nil
}

func keyCreated(md *kmstypes.KeyMetadata) Created {
	return Created{Ref: aws.ToString(md.KeyId), Attrs: map[string]string{"Arn": aws.ToString(md.Arn), "KeyId": aws.ToString(md.KeyId)}}
}

// key creates a KMS key; a multi-Region key is created in the primary region
// and replicated into every other region.
func (rr *regionRun) key(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	multiRegion, _ := template.Bool(p["MultiRegion"])
	if multiRegion && rr.region != rr.opts.PrimaryRegion {
		return rr.replicate(ctx, r.LogicalID)
	}
	in := &kms.CreateKeyInput{
		KeySpec:     kmstypes.KeySpec(template.Field(p, "KeySpec")),
		KeyUsage:    kmstypes.KeyUsageType(template.Field(p, "KeyUsage")),
		MultiRegion: aws.Bool(multiRegion),
		Description: aws.String(template.Field(p, "Description")),
	}
	// KeyPolicy is not applied: moto would check it against its fake
	// principal; its default policy allows the local callers.
	out, err := rr.c.kms.CreateKey(ctx, in)
	if err != nil {
		return Created{}, fmt.Errorf("create key: %w", err)
	}
	if multiRegion {
		rr.primary[r.LogicalID] = aws.ToString(out.KeyMetadata.KeyId)
	}
	return keyCreated(out.KeyMetadata), nil
}

// replicate replicates the multi-Region key logicalID (created in the
// primary region) into this region.
func (rr *regionRun) replicate(ctx context.Context, logicalID string) (Created, error) {
	arn := rr.primary[logicalID]
	if arn == "" {
		for _, v := range rr.primary { // a ReplicaKey naming its primary by parameter
			arn = v
			break
		}
	}
	if arn == "" {
		return Created{}, fmt.Errorf("no multi-Region primary key in %s to replicate (is the primary region deployed first?)", rr.opts.PrimaryRegion)
	}
	if rr.replica != nil { // the key and its ReplicaKey resource name the same replica
		return *rr.replica, nil
	}
	// The primary lives in the primary region: call ReplicateKey there.
	src := newClients(rr.base, rr.opts.Endpoint, rr.opts.PrimaryRegion)
	out, err := src.kms.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(arn), ReplicaRegion: aws.String(rr.region)})
	if err != nil {
		return Created{}, fmt.Errorf("replicate key to %s: %w", rr.region, err)
	}
	c := keyCreated(out.ReplicaKeyMetadata)
	rr.replica = &c
	return c, nil
}

func (rr *regionRun) replicaKey(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	return rr.replicate(ctx, "")
}

func (rr *regionRun) alias(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	name := template.Field(p, "AliasName")
	_, err := rr.c.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(template.Field(p, "TargetKeyId"))})
	if err != nil && apiCode(err) != "AlreadyExistsException" {
		return Created{}, fmt.Errorf("create alias %s: %w", name, err)
	}
	return Created{Ref: name, Attrs: map[string]string{}}, nil
}

// userPool creates a user pool with the template's username attributes,
// schema (immutable custom attributes), attribute update settings and
// password policy. Lambda triggers
// are not configured in moto: the local Cognito endpoint invokes them.
func (rr *regionRun) userPool(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	name := rr.name(r, p, "UserPoolName")
	in := &idp.CreateUserPoolInput{PoolName: aws.String(name)}
	for _, s := range template.Strings(p["UsernameAttributes"]) {
		in.UsernameAttributes = append(in.UsernameAttributes, idptypes.UsernameAttributeType(s))
	}
	for _, s := range template.Strings(p["AliasAttributes"]) {
		in.AliasAttributes = append(in.AliasAttributes, idptypes.AliasAttributeType(s))
	}
	for _, s := range template.Strings(p["AutoVerifiedAttributes"]) {
		in.AutoVerifiedAttributes = append(in.AutoVerifiedAttributes, idptypes.VerifiedAttributeType(s))
	}
	if us, ok := p["UserAttributeUpdateSettings"].(map[string]any); ok {
		// moto stores it and DescribeUserPool echoes it: the local Cognito
		// endpoint reads it there and keeps unverified changes pending.
		in.UserAttributeUpdateSettings = &idptypes.UserAttributeUpdateSettingsType{}
		for _, s := range template.Strings(us["AttributesRequireVerificationBeforeUpdate"]) {
			in.UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate = append(in.UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate, idptypes.VerifiedAttributeType(s))
		}
	}
	for _, s := range template.Maps(p["Schema"]) {
		a := idptypes.SchemaAttributeType{Name: aws.String(template.Field(s, "Name")), AttributeDataType: idptypes.AttributeDataType(template.Field(s, "AttributeDataType"))}
		if a.AttributeDataType == "" {
			a.AttributeDataType = idptypes.AttributeDataTypeString
		}
		if b, ok := template.Bool(s["Mutable"]); ok {
			a.Mutable = aws.Bool(b)
		}
		if b, ok := template.Bool(s["Required"]); ok {
			a.Required = aws.Bool(b)
		}
		if sc, ok := s["StringAttributeConstraints"].(map[string]any); ok {
			a.StringAttributeConstraints = &idptypes.StringAttributeConstraintsType{}
			if v := template.Field(sc, "MinLength"); v != "" {
				a.StringAttributeConstraints.MinLength = aws.String(v)
			}
			if v := template.Field(sc, "MaxLength"); v != "" {
				a.StringAttributeConstraints.MaxLength = aws.String(v)
			}
		}
		in.Schema = append(in.Schema, a)
	}
	if pol, ok := p["Policies"].(map[string]any); ok {
		if pp, ok := pol["PasswordPolicy"].(map[string]any); ok {
			ppt := &idptypes.PasswordPolicyType{MinimumLength: i32(pp, "MinimumLength"), TemporaryPasswordValidityDays: derefI32(i32(pp, "TemporaryPasswordValidityDays"))}
			ppt.RequireLowercase, _ = template.Bool(pp["RequireLowercase"])
			ppt.RequireUppercase, _ = template.Bool(pp["RequireUppercase"])
			ppt.RequireNumbers, _ = template.Bool(pp["RequireNumbers"])
			ppt.RequireSymbols, _ = template.Bool(pp["RequireSymbols"])
			in.Policies = &idptypes.UserPoolPolicyType{PasswordPolicy: ppt}
		}
	}
	if uc, ok := p["UsernameConfiguration"].(map[string]any); ok {
		if b, ok := template.Bool(uc["CaseSensitive"]); ok {
			in.UsernameConfiguration = &idptypes.UsernameConfigurationType{CaseSensitive: aws.Bool(b)}
		}
	}
	if m := template.Field(p, "MfaConfiguration"); m != "" {
		in.MfaConfiguration = idptypes.UserPoolMfaType(m)
	}
	out, err := rr.c.idp.CreateUserPool(ctx, in)
	if err != nil {
		return Created{}, fmt.Errorf("create user pool %s: %w", name, err)
	}
	id := aws.ToString(out.UserPool.Id)
	return Created{Ref: id, Attrs: map[string]string{
		"Arn": aws.ToString(out.UserPool.Arn), "UserPoolId": id, "ProviderName": fmt.Sprintf("cognito-idp.%s.amazonaws.com/%s", rr.region, id),
		"ProviderURL": fmt.Sprintf("https://cognito-idp.%s.amazonaws.com/%s", rr.region, id),
	}}, nil
}

func derefI32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// userPoolClient creates an app client with the template's ExplicitAuthFlows
// as they are: the local Cognito endpoint enforces them as Cognito does.
func (rr *regionRun) userPoolClient(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	name := rr.name(r, p, "ClientName")
	in := &idp.CreateUserPoolClientInput{ClientName: aws.String(name), UserPoolId: aws.String(template.Field(p, "UserPoolId"))}
	for _, f := range template.Strings(p["ExplicitAuthFlows"]) {
		in.ExplicitAuthFlows = append(in.ExplicitAuthFlows, idptypes.ExplicitAuthFlowsType(f))
	}
	in.GenerateSecret, _ = template.Bool(p["GenerateSecret"])
	in.ReadAttributes = template.Strings(p["ReadAttributes"])
	in.WriteAttributes = template.Strings(p["WriteAttributes"])
	if v := template.Field(p, "PreventUserExistenceErrors"); v != "" {
		in.PreventUserExistenceErrors = idptypes.PreventUserExistenceErrorTypes(v)
	}
	out, err := rr.c.idp.CreateUserPoolClient(ctx, in)
	if err != nil {
		return Created{}, fmt.Errorf("create user pool client %s: %w", name, err)
	}
	id := aws.ToString(out.UserPoolClient.ClientId)
	return Created{Ref: id, Attrs: map[string]string{"ClientId": id, "Name": name}}, nil
}

// alarm creates a CloudWatch alarm with the template's rule.
func (rr *regionRun) alarm(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	name := rr.name(r, p, "AlarmName")
	in := &cloudwatch.PutMetricAlarmInput{
		AlarmName:               aws.String(name),
		ComparisonOperator:      cwtypes.ComparisonOperator(template.Field(p, "ComparisonOperator")),
		EvaluationPeriods:       i32(p, "EvaluationPeriods"),
		DatapointsToAlarm:       i32(p, "DatapointsToAlarm"),
		Period:                  i32(p, "Period"),
		AlarmActions:            template.Strings(p["AlarmActions"]),
		OKActions:               template.Strings(p["OKActions"]),
		InsufficientDataActions: template.Strings(p["InsufficientDataActions"]),
		AlarmDescription:        optString(template.Field(p, "AlarmDescription")),
		TreatMissingData:        optString(template.Field(p, "TreatMissingData")),
	}
	if in.EvaluationPeriods == nil {
		return Created{}, errors.New("no EvaluationPeriods")
	}
	if f, ok := template.Float(p["Threshold"]); ok {
		in.Threshold = aws.Float64(f)
	}
	if v := template.Field(p, "MetricName"); v != "" {
		in.MetricName, in.Namespace = aws.String(v), aws.String(template.Field(p, "Namespace"))
		in.Statistic = cwtypes.Statistic(template.Field(p, "Statistic"))
		in.ExtendedStatistic = optString(template.Field(p, "ExtendedStatistic"))
		in.Unit = cwtypes.StandardUnit(template.Field(p, "Unit"))
		in.Dimensions = dimensions(p["Dimensions"])
	}
	for _, m := range template.Maps(p["Metrics"]) {
		q := cwtypes.MetricDataQuery{Id: aws.String(template.Field(m, "Id")), Expression: optString(template.Field(m, "Expression")), Label: optString(template.Field(m, "Label"))}
		if b, ok := template.Bool(m["ReturnData"]); ok {
			q.ReturnData = aws.Bool(b)
		}
		if ms, ok := m["MetricStat"].(map[string]any); ok {
			mm, _ := ms["Metric"].(map[string]any)
			q.MetricStat = &cwtypes.MetricStat{Metric: &cwtypes.Metric{MetricName: aws.String(template.Field(mm, "MetricName")), Namespace: aws.String(template.Field(mm, "Namespace")),
				Dimensions: dimensions(mm["Dimensions"])}, Period: i32(ms, "Period"), Stat: aws.String(template.Field(ms, "Stat"))}
		}
		in.Metrics = append(in.Metrics, q)
	}
	if _, err := rr.c.cw.PutMetricAlarm(ctx, in); err != nil {
		return Created{}, fmt.Errorf("put metric alarm %s: %w", name, err)
	}
	return Created{Ref: name, Attrs: map[string]string{"Arn": rr.arn("cloudwatch", "alarm:"+name)}}, nil
}

func dimensions(v any) []cwtypes.Dimension {
	var out []cwtypes.Dimension
	for _, d := range template.Maps(v) {
		out = append(out, cwtypes.Dimension{Name: aws.String(template.Field(d, "Name")), Value: aws.String(template.Field(d, "Value"))})
	}
	return out
}

// healthCheck creates a Route 53 health check.
func (rr *regionRun) healthCheck(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	hc, _ := p["HealthCheckConfig"].(map[string]any)
	cfg := &r53types.HealthCheckConfig{
		Type:                     r53types.HealthCheckType(template.Field(hc, "Type")),
		FullyQualifiedDomainName: optString(template.Field(hc, "FullyQualifiedDomainName")),
		IPAddress:                optString(template.Field(hc, "IPAddress")),
		ResourcePath:             optString(template.Field(hc, "ResourcePath")),
		SearchString:             optString(template.Field(hc, "SearchString")),
		Port:                     i32(hc, "Port"),
		RequestInterval:          i32(hc, "RequestInterval"),
		FailureThreshold:         i32(hc, "FailureThreshold"),
		HealthThreshold:          i32(hc, "HealthThreshold"),
		// RECOVERY_CONTROL: the ARC routing control whose state it reports.
		RoutingControlArn: optString(template.Field(hc, "RoutingControlArn")),
	}
	cfg.ChildHealthChecks = append(cfg.ChildHealthChecks, template.Strings(hc["ChildHealthChecks"])...)
	if b, ok := template.Bool(hc["Inverted"]); ok {
		cfg.Inverted = aws.Bool(b)
	}
	if b, ok := template.Bool(hc["Disabled"]); ok {
		cfg.Disabled = aws.Bool(b)
	}
	if b, ok := template.Bool(hc["EnableSNI"]); ok {
		cfg.EnableSNI = aws.Bool(b)
	}
	if b, ok := template.Bool(hc["MeasureLatency"]); ok {
		cfg.MeasureLatency = aws.Bool(b)
	}
	if cfg.Type == "" {
		return Created{}, errors.New("HealthCheckConfig has no Type")
	}
	ref := fmt.Sprintf("%s-%s-%s-%s", rr.opts.StackName, r.LogicalID, rr.region, rr.runID)
	out, err := rr.c.r53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{CallerReference: aws.String(ref), HealthCheckConfig: cfg})
	if err != nil {
		return Created{}, fmt.Errorf("create health check: %w", err)
	}
	id := aws.ToString(out.HealthCheck.Id)
	return Created{Ref: id, Attrs: map[string]string{"HealthCheckId": id}}, nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func (rr *regionRun) ecsCluster(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	name := rr.name(r, p, "ClusterName")
	out, err := rr.c.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)})
	if err != nil {
		return Created{}, fmt.Errorf("create cluster %s: %w", name, err)
	}
	return Created{Ref: name, Attrs: map[string]string{"Arn": aws.ToString(out.Cluster.ClusterArn)}}, nil
}

// taskDefinition registers a task definition without requiresCompatibilities
// (moto does not host EXTERNAL capacity).
func (rr *regionRun) taskDefinition(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	family := rr.name(r, p, "Family")
	in := &ecs.RegisterTaskDefinitionInput{Family: aws.String(family)}
	if v := template.Field(p, "Cpu"); v != "" {
		in.Cpu = aws.String(v)
	}
	if v := template.Field(p, "Memory"); v != "" {
		in.Memory = aws.String(v)
	}
	if v := template.Field(p, "NetworkMode"); v != "" {
		in.NetworkMode = ecstypes.NetworkMode(v)
	}
	for _, cd := range template.Maps(p["ContainerDefinitions"]) {
		d := ecstypes.ContainerDefinition{Name: aws.String(template.Field(cd, "Name")), Image: aws.String(template.Field(cd, "Image"))}
		if n, ok := template.Int(cd["Memory"]); ok {
			d.Memory = aws.Int32(int32(n))
		}
		if n, ok := template.Int(cd["MemoryReservation"]); ok {
			d.MemoryReservation = aws.Int32(int32(n))
		}
		if d.Memory == nil && d.MemoryReservation == nil {
			// moto wants a container-level limit; EXTERNAL tasks may set
			// only the task's.
			n, ok := template.Int(p["Memory"])
			if !ok {
				n = 512
			}
			d.Memory = aws.Int32(int32(n))
		}
		if n, ok := template.Int(cd["Cpu"]); ok {
			d.Cpu = int32(n)
		}
		if b, ok := template.Bool(cd["Essential"]); ok {
			d.Essential = aws.Bool(b)
		}
		for _, e := range template.Maps(cd["Environment"]) {
			d.Environment = append(d.Environment, ecstypes.KeyValuePair{Name: aws.String(template.Field(e, "Name")), Value: aws.String(template.Field(e, "Value"))})
		}
		in.ContainerDefinitions = append(in.ContainerDefinitions, d)
	}
	if len(in.ContainerDefinitions) == 0 {
		in.ContainerDefinitions = []ecstypes.ContainerDefinition{{Name: aws.String("processor"), Image: aws.String("homeregion/processor:local"), Memory: aws.Int32(512)}}
	}
	out, err := rr.c.ecs.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return Created{}, fmt.Errorf("register task definition %s: %w", family, err)
	}
	arn := aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	return Created{Ref: arn, Attrs: map[string]string{"TaskDefinitionArn": arn}}, nil
}

// ecsService creates a service WITHOUT a launch type (moto rejects EXTERNAL).
func (rr *regionRun) ecsService(ctx context.Context, r *template.Resource, p map[string]any) (Created, error) {
	name := rr.name(r, p, "ServiceName")
	cluster := template.Field(p, "Cluster")
	if cluster == "" {
		cluster = "default"
	}
	desired := 0
	if n, ok := template.Int(p["DesiredCount"]); ok {
		desired = n
	}
	arn, err := rr.createService(ctx, cluster, name, template.Field(p, "TaskDefinition"), desired)
	if err != nil {
		return Created{}, err
	}
	return Created{Ref: arn, Attrs: map[string]string{"Name": name, "ServiceArn": arn, "Cluster": clusterName(cluster)}}, nil
}

// clusterName turns a cluster ARN into its name.
func clusterName(c string) string {
	if i := strings.LastIndex(c, "/"); i >= 0 && strings.HasPrefix(c, "arn:") {
		return c[i+1:]
	}
	return c
}

func (rr *regionRun) createService(ctx context.Context, cluster, name, taskDef string, desired int) (string, error) {
	if _, err := rr.c.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(clusterName(cluster))}); err != nil {
		return "", fmt.Errorf("create cluster %s: %w", cluster, err)
	}
	ds, err := rr.c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}})
	if err == nil {
		for _, s := range ds.Services {
			if aws.ToString(s.Status) == "ACTIVE" {
				return aws.ToString(s.ServiceArn), nil
			}
		}
	}
	if taskDef == "" {
		out, err := rr.c.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String(rr.opts.StackName + "-processor"),
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("processor"),
				Image: aws.String("homeregion/processor:local"), Memory: aws.Int32(512)}},
		})
		if err != nil {
			return "", fmt.Errorf("register task definition: %w", err)
		}
		taskDef = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	out, err := rr.c.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(cluster), ServiceName: aws.String(name), TaskDefinition: aws.String(taskDef),
		DesiredCount: aws.Int32(int32(desired)),
	})
	if err != nil {
		return "", fmt.Errorf("create service %s/%s: %w", cluster, name, err)
	}
	return aws.ToString(out.Service.ServiceArn), nil
}

// ensureService makes sure cluster/name exists (created by an ECS definition
// or here, with desired tasks).
func (rr *regionRun) ensureService(ctx context.Context, cluster, name string, desired int) error {
	if cluster == "" || name == "" {
		return fmt.Errorf("need a cluster and a service name (got %q/%q)", cluster, name)
	}
	_, err := rr.createService(ctx, cluster, name, "", desired)
	return err
}

// QueueInput is the CreateQueue input of queue name with the template's
// properties p (intrinsics resolved): every property but QueueName and Tags
// as a queue attribute, the redrive policies as JSON, and the ".fifo" suffix
// SQS requires of a FIFO queue's name. It is the one reading of a queue's
// properties, shared by the local provisioner and the tests that create the
// product's queues.
func QueueInput(name string, p map[string]any) (*sqs.CreateQueueInput, error) {
	attrs := map[string]string{}
	for k, v := range p {
		switch k {
		case "QueueName", "Tags":
			continue
		case "RedrivePolicy", "RedriveAllowPolicy":
			if s, ok := v.(string); ok {
				attrs[k] = s
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			attrs[k] = string(b)
		default:
			s, err := template.ScalarString(v)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", k, err)
			}
			attrs[k] = s
		}
	}
	if fifo, _ := template.Bool(attrs["FifoQueue"]); fifo && !strings.HasSuffix(name, ".fifo") {
		name += ".fifo"
	}
	return &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs}, nil
}
