package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"gopkg.in/yaml.v3"

	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/internal/motoserver"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/registry"
)

// provisionFunc creates the stack's resources in moto. It is a variable so
// the provisioning can be swapped (tests, or a template without a section yet).
var provisionFunc = provisionStack

// provisionStack provisions what template.yaml defines (internal/provision),
// then supplies, under conventional names, whatever a part of the system needs
// that the template does not define yet, so `make run` works while the
// template grows.
func provisionStack(ctx context.Context, o options, endpoint string) (*provisioned, error) {
	p := &provisioned{schedules: map[string]string{}, ordersAPI: defaultOrdersHTTPAPI()}
	if hasResources(o.template) {
		defs, err := provision.Load(o.template)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", o.template, err)
		}
		p.stack, err = provision.Apply(ctx, defs, provision.Options{Endpoint: endpoint, Regions: o.regions, RegistryRegion: o.registryRegion})
		if err != nil {
			return nil, fmt.Errorf("provision from %s: %w", o.template, err)
		}
		p.schedules = schedules(defs)
		if p.ordersAPI, err = ordersHTTPAPI(defs); err != nil {
			return nil, fmt.Errorf("%s: %w", o.template, err)
		}
	} else {
		p.stack = &provision.Stack{Endpoint: endpoint, RegistryRegion: o.registryRegion}
	}
	var err error
	p.notes, err = ensureMinimal(ctx, p.stack, o, endpoint)
	return p, err
}

// provisioned is what provisioning produced.
type provisioned struct {
	stack *provision.Stack
	// notes name what was created with local defaults.
	notes []string
	// schedules are the functions' EventBridge schedules by logical id
	// (e.g. "rate(1 minute)"), which the local stack ticks.
	schedules map[string]string
	// ordersAPI is the orders HTTP API's routes and CORS configuration.
	ordersAPI httpAPIDef
}

// schedules finds the Schedule events of the template's functions.
func schedules(defs *provision.Definitions) map[string]string {
	out := map[string]string{}
	for _, r := range defs.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		evs, _ := r.Properties["Events"].(map[string]any)
		for _, ev := range evs {
			e, _ := ev.(map[string]any)
			if e["Type"] != "Schedule" {
				continue
			}
			props, _ := e["Properties"].(map[string]any)
			if expr, ok := props["Schedule"].(string); ok {
				out[r.LogicalID] = expr
			}
		}
	}
	return out
}

// rateEvery parses an EventBridge rate expression ("rate(5 minutes)");
// ok is false for anything else (cron expressions are not ticked locally).
func rateEvery(expr string) (time.Duration, bool) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(strings.TrimSpace(expr), "rate(%d %s", &n, &unit); err != nil || n <= 0 {
		return 0, false
	}
	switch strings.TrimSuffix(strings.TrimSuffix(unit, ")"), "s") {
	case "minute":
		return time.Duration(n) * time.Minute, true
	case "hour":
		return time.Duration(n) * time.Hour, true
	case "day":
		return time.Duration(n) * 24 * time.Hour, true
	}
	return 0, false
}

// hasResources reports whether the template exists and defines resources
// (a skeleton template has an empty Resources section).
func hasResources(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var t struct {
		Resources yaml.Node `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &t); err != nil {
		return true // let provision.Load report the problem
	}
	return len(t.Resources.Content) > 0
}

// ensureMinimal creates, in every region, the resources the local stack
// needs that provisioning did not produce, and reports what it supplied.
func ensureMinimal(ctx context.Context, st *provision.Stack, o options, endpoint string) ([]string, error) {
	var notes []string
	byName := map[string]*provision.Region{}
	for _, r := range st.Regions {
		byName[r.Region] = r
	}
	// The registry region first: the multi-Region key's primary lives there.
	order := []string{o.registryRegion}
	for _, r := range o.regions {
		if r != o.registryRegion {
			order = append(order, r)
		}
	}
	var primaryKeyID, primaryKeyRegion string
	for _, name := range order {
		r := byName[name]
		if r == nil {
			r = &provision.Region{Region: name}
			byName[name] = r
			st.Regions = append(st.Regions, r)
		}
		cfg := motoserver.Config(endpoint, name)
		ddb := dynamodb.NewFromConfig(cfg)
		supplied := func(what string) { notes = append(notes, name+": "+what) }
		if r.RegistryTable == "" {
			r.RegistryTable = "homeregion-registry"
			if err := registry.CreateTable(ctx, ddb, r.RegistryTable); err != nil {
				return nil, err
			}
			supplied("registry table")
		}
		if r.OrdersTable == "" {
			r.OrdersTable = "homeregion-orders"
			if err := createPKTable(ctx, ddb, r.OrdersTable, ordertable.AttrPK, ordertable.AttrExpiresAt); err != nil {
				return nil, err
			}
			supplied("orders table")
		}
		if r.ControlTable == "" {
			r.ControlTable = "homeregion-control"
			if err := createPKTable(ctx, ddb, r.ControlTable, "pk", ""); err != nil {
				return nil, err
			}
			supplied("control table")
		}
		if r.OrdersQueueURL == "" {
			dlq, q, err := createQueues(ctx, sqs.NewFromConfig(cfg), "homeregion-orders")
			if err != nil {
				return nil, err
			}
			r.OrdersQueueURL, r.OrdersDLQURL = q, dlq
			supplied("orders queue + DLQ")
		}
		if r.PiiKeyID == "" {
			id, err := ensureKey(ctx, cfg, name == o.registryRegion, primaryKeyID, primaryKeyRegion)
			if err != nil {
				return nil, err
			}
			r.PiiKeyID = id
			if name == o.registryRegion {
				primaryKeyID, primaryKeyRegion = id, name
			}
			supplied("multi-Region HMAC key")
		} else if name == o.registryRegion {
			primaryKeyID, primaryKeyRegion = r.PiiKeyID, name
		}
		if r.UserPoolID == "" || r.ClientID == "" {
			pool, client, err := createPool(ctx, cip.NewFromConfig(cfg))
			if err != nil {
				return nil, err
			}
			r.UserPoolID, r.ClientID = pool, client
			supplied("user pool + app client")
		}
	}
	return notes, nil
}

func createPKTable(ctx context.Context, ddb *dynamodb.Client, name, pk, ttl string) error {
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(pk), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: ddbtypes.KeyTypeHash}},
	})
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if ttl != "" {
		if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(ttl), Enabled: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("enable TTL on %s: %w", name, err)
		}
	}
	return nil
}

func createQueues(ctx context.Context, c *sqs.Client, name string) (dlqURL, queueURL string, err error) {
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq"),
		Attributes: map[string]string{"MessageRetentionPeriod": "1209600"}})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s-dlq: %w", name, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", "", fmt.Errorf("read DLQ arn: %w", err)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": "60",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":"%s","maxReceiveCount":"5"}`, attrs.Attributes["QueueArn"]),
	}})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(dlq.QueueUrl), aws.ToString(q.QueueUrl), nil
}

// ensureKey creates the multi-Region HMAC key in the registry region, or
// replicates the primary key (primaryID in primaryRegion) into cfg's region.
// A multi-Region key keeps its id in every region.
func ensureKey(ctx context.Context, cfg aws.Config, primary bool, primaryID, primaryRegion string) (string, error) {
	if primary {
		out, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{
			KeySpec: kmstypes.KeySpecHmac256, KeyUsage: kmstypes.KeyUsageTypeGenerateVerifyMac, MultiRegion: aws.Bool(true),
			Description: aws.String("homeregion registry identity key (local)"),
		})
		if err != nil {
			return "", fmt.Errorf("create PII key: %w", err)
		}
		return aws.ToString(out.KeyMetadata.KeyId), nil
	}
	if primaryID == "" {
		return "", errors.New("replicate PII key: no primary key in the registry region")
	}
	src := motoserver.Config(aws.ToString(cfg.BaseEndpoint), primaryRegion)
	out, err := kms.NewFromConfig(src).ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(primaryID), ReplicaRegion: aws.String(cfg.Region)})
	if err != nil {
		return "", fmt.Errorf("replicate PII key to %s: %w", cfg.Region, err)
	}
	return aws.ToString(out.ReplicaKeyMetadata.KeyId), nil
}

// createPool creates a user pool like the template's: e-mail as user name,
// immutable custom:region and custom:country, an app client allowing
// USER_PASSWORD_AUTH.
func createPool(ctx context.Context, c *cip.Client) (poolID, clientID string, err error) {
	pool, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:               aws.String("homeregion-users"),
		UsernameAttributes:     []ciptypes.UsernameAttributeType{ciptypes.UsernameAttributeTypeEmail},
		AutoVerifiedAttributes: []ciptypes.VerifiedAttributeType{ciptypes.VerifiedAttributeTypeEmail},
		UserAttributeUpdateSettings: &ciptypes.UserAttributeUpdateSettingsType{
			AttributesRequireVerificationBeforeUpdate: []ciptypes.VerifiedAttributeType{ciptypes.VerifiedAttributeTypeEmail}},
		Schema: []ciptypes.SchemaAttributeType{
			{Name: aws.String("region"), AttributeDataType: ciptypes.AttributeDataTypeString, Mutable: aws.Bool(false)},
			{Name: aws.String("country"), AttributeDataType: ciptypes.AttributeDataTypeString, Mutable: aws.Bool(false)},
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("create user pool: %w", err)
	}
	poolID = aws.ToString(pool.UserPool.Id)
	client, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(poolID), ClientName: aws.String("homeregion-app"),
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth, ciptypes.ExplicitAuthFlowsTypeAllowRefreshTokenAuth},
		IdTokenValidity:   aws.Int32(60), TokenValidityUnits: &ciptypes.TokenValidityUnitsType{IdToken: ciptypes.TimeUnitsTypeMinutes},
	})
	if err != nil {
		return "", "", fmt.Errorf("create app client: %w", err)
	}
	return poolID, aws.ToString(client.UserPoolClient.ClientId), nil
}
