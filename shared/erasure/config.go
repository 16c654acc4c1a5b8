package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/awsclient/dynamodbops"
	"github.com/homeregion/homeregion/shared/awsclient/kmsops"
	"github.com/homeregion/homeregion/shared/awsclient/sqsops"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// Config is the erasure function's configuration, read by ParseEnv.
type Config struct {
	Region         string           // AWS_REGION: this region
	Table          string           // ORDERS_TABLE: the orders table
	QueueURL       string           // ORDERS_QUEUE_URL: the orders queue (site messages)
	DLQURL         string           // ORDERS_DLQ_URL: its dead-letter queue (swept)
	PoolID         string           // USER_POOL_ID: the home user pool
	RegistryTable  string           // RESIDENCY_TABLE: the registry global table
	RegistryRegion string           // REGISTRY_REGION: where claims are released
	PIIKeyID       string           // PII_KEY_ID: the identity keys' KMS HMAC key
	SiteKey        sealed.PublicKey // SITE_PUBLIC_KEY: site messages are sealed to it
	Pair           zonepair.Pair    // PAIR_REGION: the zone pair (no Partner without one)
	PairDLQURL     string           // PAIR_DLQ_URL: the partner's dead-letter queue (swept too), with PAIR_REGION
}

// SDKOptions bound the worker's SDK calls (awsconfig's defaults: three
// attempts, 1 s to connect, 2 s for response headers: more than the
// dead-letter sweep's 1 s wait).
var SDKOptions = awsconfig.Options{}

var poolID = regexp.MustCompile(`^[\w-]+_[0-9a-zA-Z]+$`)

// ParseEnv reads the erasure function's configuration through getenv and
// is the one home of its rules; the error names the first missing or
// malformed variable (never a value that could be long or secret).
// PAIR_REGION (checked by zonepair.FromEnv) and PAIR_DLQ_URL are both set,
// in a zone pair, or neither.
func ParseEnv(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := Config{
		Region:         get("AWS_REGION"),
		Table:          get("ORDERS_TABLE"),
		QueueURL:       get("ORDERS_QUEUE_URL"),
		DLQURL:         get("ORDERS_DLQ_URL"),
		PoolID:         get("USER_POOL_ID"),
		RegistryTable:  get("RESIDENCY_TABLE"),
		RegistryRegion: get("REGISTRY_REGION"),
		PIIKeyID:       get("PII_KEY_ID"),
	}
	pub := get("SITE_PUBLIC_KEY")
	for _, v := range []struct{ name, val string }{
		{"AWS_REGION", c.Region}, {"ORDERS_TABLE", c.Table}, {"ORDERS_QUEUE_URL", c.QueueURL},
		{"ORDERS_DLQ_URL", c.DLQURL}, {"USER_POOL_ID", c.PoolID}, {"RESIDENCY_TABLE", c.RegistryTable},
		{"REGISTRY_REGION", c.RegistryRegion}, {"PII_KEY_ID", c.PIIKeyID}, {"SITE_PUBLIC_KEY", pub},
	} {
		if v.val == "" {
			return Config{}, fmt.Errorf("%s is not set", v.name)
		}
	}
	switch {
	case !awsname.Region(c.Region):
		return Config{}, fmt.Errorf("AWS_REGION %q is not a region name", c.Region)
	case !awsname.Table(c.Table):
		return Config{}, fmt.Errorf("ORDERS_TABLE %q is not a DynamoDB table name", c.Table)
	case !awsname.QueueURL(c.QueueURL):
		return Config{}, fmt.Errorf("ORDERS_QUEUE_URL %q is not an SQS queue URL", c.QueueURL)
	case !awsname.FIFOQueueURL(c.QueueURL):
		// Site messages carry a message group and deduplication id.
		return Config{}, fmt.Errorf("ORDERS_QUEUE_URL %q is not a FIFO queue's URL (its name must end in .fifo)", c.QueueURL)
	case !awsname.QueueURL(c.DLQURL):
		return Config{}, fmt.Errorf("ORDERS_DLQ_URL %q is not an SQS queue URL", c.DLQURL)
	case !poolID.MatchString(c.PoolID) || len(c.PoolID) > 55:
		return Config{}, fmt.Errorf("USER_POOL_ID %q is not a user pool id (<region>_<id>)", c.PoolID)
	case !awsname.Table(c.RegistryTable):
		return Config{}, fmt.Errorf("RESIDENCY_TABLE %q is not a DynamoDB table name", c.RegistryTable)
	case !awsname.Region(c.RegistryRegion):
		return Config{}, fmt.Errorf("REGISTRY_REGION %q is not a region name", c.RegistryRegion)
	case strings.ContainsAny(c.PIIKeyID, " \t\r\n"):
		return Config{}, errors.New("PII_KEY_ID contains white space: want a KMS key id, ARN or alias")
	}
	k, err := sealed.ParsePublicKey(pub)
	if err != nil {
		return Config{}, fmt.Errorf("SITE_PUBLIC_KEY is malformed (want the line processor keygen prints): %w", err)
	}
	c.SiteKey = k
	if c.Pair, err = zonepair.FromEnv(getenv, c.Region); err != nil {
		return Config{}, err
	}
	c.PairDLQURL = get("PAIR_DLQ_URL")
	switch {
	case c.Pair.Paired() && c.PairDLQURL == "":
		return Config{}, errors.New("PAIR_DLQ_URL is not set: PAIR_REGION needs the partner's dead-letter queue")
	case !c.Pair.Paired() && c.PairDLQURL != "":
		return Config{}, errors.New("PAIR_DLQ_URL is set without PAIR_REGION: set both or neither")
	case c.PairDLQURL != "" && !awsname.QueueURL(c.PairDLQURL):
		return Config{}, fmt.Errorf("PAIR_DLQ_URL %q is not an SQS queue URL", c.PairDLQURL)
	case c.PairDLQURL != "" && awsname.QueueRegion(c.PairDLQURL) != "" && awsname.QueueRegion(c.PairDLQURL) != c.Pair.Partner:
		return Config{}, fmt.Errorf("PAIR_DLQ_URL %q is a queue of %s, not of PAIR_REGION %s", c.PairDLQURL, awsname.QueueRegion(c.PairDLQURL), c.Pair.Partner)
	}
	return c, nil
}

// NewFromAWS builds the Worker for c with its SDK clients made from awscfg
// (awsconfig.Load: one config, instrumented in one place; the registry
// region's client as registry.Clients builds it; in a zone pair, an SQS
// client in the partner region for its dead-letter queue). It makes no
// network call.
func NewFromAWS(c Config, awscfg aws.Config, log *slog.Logger) *Worker {
	_, home := registry.Clients(awscfg, c.RegistryRegion)
	homeOps := dynamodbops.NewItemReadWriter(home)
	reg := registry.New(c.RegistryTable, c.Region, c.RegistryRegion, homeOps, homeOps, "")
	reg.Deleter = deleteItemFunc(home.DeleteItem)
	pool := cip.NewFromConfig(awscfg)
	q := sqs.NewFromConfig(awscfg)
	db := dynamodb.NewFromConfig(awscfg)
	var pairDLQ DeadLetters
	if c.Pair.Paired() {
		pq := sqs.NewFromConfig(awscfg, func(o *sqs.Options) { o.Region = c.Pair.Partner })
		pairDLQ = dlqOps{receive: pq.ReceiveMessage, del: pq.DeleteMessage, visibility: pq.ChangeMessageVisibilityBatch}
	}
	// Method values, not the clients, keep the binary to the operations
	// used (see package awsclient).
	return New(Worker{
		Region: c.Region, Table: c.Table, QueueURL: c.QueueURL, DLQURL: c.DLQURL, PoolID: c.PoolID, SiteKey: c.SiteKey,
		Partner: c.Pair.Partner, PairDLQURL: c.PairDLQURL, PairDLQ: pairDLQ,
		Pool:     poolOps{list: pool.ListUsers, disable: pool.AdminDisableUser, del: pool.AdminDeleteUser},
		Keys:     identity.New(kmsops.New(kms.NewFromConfig(awscfg)), c.PIIKeyID),
		Registry: reg,
		DB:       tableOps{get: db.GetItem, put: db.PutItem, update: db.UpdateItem, del: db.DeleteItem, query: db.Query},
		Queue:    sqsops.NewSender(q),
		DLQ:      dlqOps{receive: q.ReceiveMessage, del: q.DeleteMessage, visibility: q.ChangeMessageVisibilityBatch},
		Log:      log,
	})
}

// Setup is the erasure function's cold start, the same on Lambda
// (functions/erasure) and in the local stack: ParseEnv, awsconfig.Load,
// NewFromAWS. It makes no network call; an error names the function and the
// variable or part at fault.
func Setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Handler, error) {
	c, err := ParseEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("erasure configuration: %w", err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, SDKOptions)
	if err != nil {
		return nil, fmt.Errorf("erasure configuration: %w", err)
	}
	return NewHandler(NewFromAWS(c, awscfg, log)), nil
}

type poolOps struct {
	list    func(context.Context, *cip.ListUsersInput, ...func(*cip.Options)) (*cip.ListUsersOutput, error)
	disable func(context.Context, *cip.AdminDisableUserInput, ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error)
	del     func(context.Context, *cip.AdminDeleteUserInput, ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
}

func (o poolOps) ListUsers(ctx context.Context, in *cip.ListUsersInput, f ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	return o.list(ctx, in, f...)
}

func (o poolOps) AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, f ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error) {
	return o.disable(ctx, in, f...)
}

func (o poolOps) AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, f ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	return o.del(ctx, in, f...)
}

type tableOps struct {
	get    func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	put    func(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	update func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	del    func(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	query  func(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

func (o tableOps) GetItem(ctx context.Context, in *dynamodb.GetItemInput, f ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return o.get(ctx, in, f...)
}

func (o tableOps) PutItem(ctx context.Context, in *dynamodb.PutItemInput, f ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return o.put(ctx, in, f...)
}

func (o tableOps) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, f ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return o.update(ctx, in, f...)
}

func (o tableOps) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, f ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return o.del(ctx, in, f...)
}

func (o tableOps) Query(ctx context.Context, in *dynamodb.QueryInput, f ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return o.query(ctx, in, f...)
}

type dlqOps struct {
	receive    func(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	del        func(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	visibility func(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

func (o dlqOps) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, f ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return o.receive(ctx, in, f...)
}

func (o dlqOps) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, f ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return o.del(ctx, in, f...)
}

func (o dlqOps) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, f ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return o.visibility(ctx, in, f...)
}

type deleteItemFunc func(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)

func (f deleteItemFunc) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return f(ctx, in, o...)
}
