// Package registry is the residency registry: which home region each identity
// key (see package identity) belongs to. It lives in one DynamoDB global table
// with a replica in every region.
//
// Global tables resolve concurrent writes last-writer-wins and evaluate
// conditions only in the replica that takes the write, so two regions could
// both "win" the same claim. Claims are therefore written only in the registry
// region, with attribute_not_exists: the first claim wins everywhere. Reads go
// to the local replica first and, on a miss, to the registry region with a
// strongly consistent read, which covers replication lag right after a
// sign-up elsewhere. The price: sign-ups need the registry region; sign-ins
// (local hits) do not.
//
// An item holds only the identity key (an HMAC, not the e-mail), the home
// region, the creation time and the residency policy version it was claimed
// under.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
)

// Item attribute names. template.yaml's RegistryTable has AttrKey as its only
// key (a string partition key).
const (
	AttrKey           = "idKey"         // partition key: the identity key (base64url HMAC)
	AttrHomeRegion    = "homeRegion"    // the region that owns the identity
	AttrCreatedAt     = "createdAt"     // RFC 3339, UTC
	AttrPolicyVersion = "policyVersion" // residency policy version at claim time
)

// Record is one claim.
type Record struct {
	Key           string
	HomeRegion    string
	CreatedAt     time.Time
	PolicyVersion string
}

// DynamoDBAPI is the part of the DynamoDB client the registry uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// DeleteItemAPI is the part of the DynamoDB client Release uses: a client
// for the registry region. It is apart from DynamoDBAPI so that only the
// erasure worker needs (and is granted) DeleteItem.
type DeleteItemAPI interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Registry reads and writes claims. The zero value is not usable: set every
// field (New does).
type Registry struct {
	// Table is the global table's name (the same in every region).
	Table string
	// Region is this process's region: Local talks to its replica.
	Region string
	// RegistryRegion takes every claim: Home talks to its replica.
	RegistryRegion string
	// Local and Home are DynamoDB clients for Region and RegistryRegion (the
	// same client when they are equal).
	Local, Home DynamoDBAPI
	// Deleter deletes claims in RegistryRegion (Release); nil in the
	// functions that never release one (the triggers).
	Deleter DeleteItemAPI
	// PolicyVersion is recorded with new claims.
	PolicyVersion string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// New returns a Registry; local and home are clients for region and
// registryRegion.
func New(table, region, registryRegion string, local, home DynamoDBAPI, policyVersion string) *Registry {
	return &Registry{Table: table, Region: region, RegistryRegion: registryRegion, Local: local, Home: home, PolicyVersion: policyVersion}
}

// ErrCorrupt reports an item that is not a valid claim.
var ErrCorrupt = errors.New("registry: corrupt claim item")

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Claim records region as key's home region unless key already has one, with
// one conditional write in the registry region. It returns the claim that
// holds afterwards and whether this call created it; a claim that already
// exists is returned as read by the failed condition (strongly consistent),
// so the caller compares its HomeRegion. Retrying a claim for the same region
// returns the existing claim with created=false.
func (r *Registry) Claim(ctx context.Context, key, region string) (rec Record, created bool, err error) {
	now := r.now().UTC()
	item := map[string]types.AttributeValue{
		AttrKey:           ddbattr.S(key),
		AttrHomeRegion:    ddbattr.S(region),
		AttrCreatedAt:     ddbattr.Time(now),
		AttrPolicyVersion: ddbattr.S(r.PolicyVersion),
	}
	_, err = r.Home.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(r.Table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames:            map[string]string{"#k": AttrKey},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return Record{Key: key, HomeRegion: region, CreatedAt: now, PolicyVersion: r.PolicyVersion}, true, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return Record{}, false, fmt.Errorf("claim in %s: %w", r.RegistryRegion, err)
	}
	if len(ccf.Item) > 0 {
		rec, err := decode(ccf.Item)
		if err != nil {
			return Record{}, false, fmt.Errorf("claim in %s: %w", r.RegistryRegion, err)
		}
		return rec, false, nil
	}
	// An endpoint that does not return the old item: read it, consistently.
	rec, ok, err := r.get(ctx, r.Home, true, key)
	if err != nil {
		return Record{}, false, fmt.Errorf("claim in %s: %w", r.RegistryRegion, err)
	}
	if !ok {
		return Record{}, false, fmt.Errorf("claim in %s: condition failed but no claim found", r.RegistryRegion)
	}
	return rec, false, nil
}

// LookupLocal reads key's claim from this region's replica: one round trip,
// eventually consistent (strongly consistent when this is the registry region).
func (r *Registry) LookupLocal(ctx context.Context, key string) (Record, bool, error) {
	rec, ok, err := r.get(ctx, r.Local, r.Region == r.RegistryRegion, key)
	if err != nil {
		return Record{}, false, fmt.Errorf("lookup in %s: %w", r.Region, err)
	}
	return rec, ok, nil
}

// Lookup reads key's claim from the local replica and, on a miss, from the
// registry region with a strongly consistent read (replication lag).
func (r *Registry) Lookup(ctx context.Context, key string) (Record, bool, error) {
	rec, ok, err := r.LookupLocal(ctx, key)
	if err != nil || ok || r.Region == r.RegistryRegion {
		return rec, ok, err
	}
	rec, ok, err = r.get(ctx, r.Home, true, key)
	if err != nil {
		return Record{}, false, fmt.Errorf("lookup in %s: %w", r.RegistryRegion, err)
	}
	return rec, ok, nil
}

// LookupRegistry reads key's claim in the registry region with a strongly
// consistent read: the claim Release may delete, as it stands now.
func (r *Registry) LookupRegistry(ctx context.Context, key string) (Record, bool, error) {
	rec, ok, err := r.get(ctx, r.Home, true, key)
	if err != nil {
		return Record{}, false, fmt.Errorf("lookup in %s: %w", r.RegistryRegion, err)
	}
	return rec, ok, nil
}

// Release deletes key's claim in the registry region if it is still the
// claim observed: home region region, created at createdAt (as
// LookupRegistry read it). One conditional DeleteItem; a claim made again
// since (a new sign-up of the same address, here or elsewhere, after the
// observed claim was released) has another createdAt or home region and is
// kept. released reports whether this call deleted the claim; false with a
// nil error means the claim is no longer the observed one (another owner's,
// or gone), which is not an error for an erasure.
func (r *Registry) Release(ctx context.Context, key, region string, createdAt time.Time) (released bool, err error) {
	if r.Deleter == nil {
		return false, fmt.Errorf("release in %s: registry built without a deleter", r.RegistryRegion)
	}
	_, err = r.Deleter.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(r.Table),
		Key:                      ddbattr.Key(AttrKey, key),
		ConditionExpression:      aws.String("#home = :region AND #created = :created"),
		ExpressionAttributeNames: map[string]string{"#home": AttrHomeRegion, "#created": AttrCreatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":region": ddbattr.S(region), ":created": ddbattr.Time(createdAt),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	}
	return false, fmt.Errorf("release in %s: %w", r.RegistryRegion, err)
}

func (r *Registry) get(ctx context.Context, db DynamoDBAPI, consistent bool, key string) (Record, bool, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(r.Table),
		Key:            ddbattr.Key(AttrKey, key),
		ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return Record{}, false, err
	}
	if len(out.Item) == 0 {
		return Record{}, false, nil
	}
	rec, err := decode(out.Item)
	return rec, err == nil, err
}

func decode(item map[string]types.AttributeValue) (Record, error) {
	r := ddbattr.NewReader(item)
	rec := Record{Key: r.S(AttrKey), HomeRegion: r.S(AttrHomeRegion), CreatedAt: r.Time(AttrCreatedAt), PolicyVersion: r.S(AttrPolicyVersion)}
	if err := r.Err(); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if rec.Key == "" || rec.HomeRegion == "" {
		return Record{}, fmt.Errorf("%w: missing %s or %s", ErrCorrupt, AttrKey, AttrHomeRegion)
	}
	return rec, nil
}
