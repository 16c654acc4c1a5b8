package ordertable

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
)

// The erasure worker's own items operations (package erasure drives them):
// it finds the pending erasures and an owner's items through the two
// indexes, records each finished step in the erasure record so that a later
// run resumes where one stopped, and completes the record, leaving only what
// proves the erasure.

// Attribute names the erasure worker writes in an erasure record. All of
// them but AttrCounts are temporary: CompleteErasure removes them.
const (
	AttrIDKey          = "idKey"          // the user's registry identity key, until the claim is released
	AttrClaimCreatedAt = "claimCreatedAt" // createdAt of the registry claim observed (the one to release)
	AttrDone           = "done"           // string set: the worker's finished steps
	AttrSentAt         = "sentAt"         // RFC 3339: when the site message was last sent
	AttrSends          = "sends"          // number: how many site messages were sent
	AttrCounts         = "counts"         // map kind -> number: what was erased (kept)
	// AttrCountPrefix prefixes the temporary number attributes that count,
	// per kind, what was erased so far (ADD, so a step can count in
	// several runs); CompleteErasure folds them into AttrCounts.
	AttrCountPrefix = "n_"
)

// QueryAPI is the part of the DynamoDB client the index queries use.
type QueryAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DeleteItemAPI is the part of the DynamoDB client DeleteIdem uses.
type DeleteItemAPI interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// PendingErasure is an entry of PendingErasureIndex: an erasure not yet
// completed.
type PendingErasure struct {
	Key         string    // the erasure record's partition key (ErasureKey)
	RequestedAt time.Time // when it was requested
}

// PendingErasures lists the erasures not yet completed, oldest first, by
// querying PendingErasureIndex (eventually consistent: an erasure requested
// a moment ago may show up only in the next run).
func PendingErasures(ctx context.Context, db QueryAPI, table string) ([]PendingErasure, error) {
	var out []PendingErasure
	err := query(ctx, db, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(PendingErasureIndex),
		KeyConditionExpression:    aws.String("#p = :p"),
		ExpressionAttributeNames:  map[string]string{"#p": AttrErasurePending},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": ddbattr.S(PendingValue)},
	}, func(item map[string]types.AttributeValue) error {
		r := ddbattr.NewReader(item)
		p := PendingErasure{Key: r.S(AttrPK), RequestedAt: r.Time(AttrRequestedAt)}
		if err := r.Err(); err != nil || !strings.HasPrefix(p.Key, "ERASURE#") {
			return fmt.Errorf("%w: pending erasure index entry %q: %v", ErrCorrupt, p.Key, err)
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending erasures: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RequestedAt.Before(out[j].RequestedAt) })
	return out, nil
}

// OwnerItems lists the partition keys of owner's items (status records
// ORDER#… and idempotency records IDEM#…) by querying OwnerIndex, at most
// limit of them (0: all). The index is eventually consistent.
func OwnerItems(ctx context.Context, db QueryAPI, table, owner string, limit int) ([]string, error) {
	var keys []string
	errEnough := errors.New("enough")
	err := query(ctx, db, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(OwnerIndex),
		KeyConditionExpression:    aws.String("#o = :o"),
		ExpressionAttributeNames:  map[string]string{"#o": AttrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": ddbattr.S(owner)},
	}, func(item map[string]types.AttributeValue) error {
		r := ddbattr.NewReader(item)
		k := r.S(AttrPK)
		if err := r.Err(); err != nil || k == "" {
			return fmt.Errorf("%w: owner index entry: %v", ErrCorrupt, err)
		}
		keys = append(keys, k)
		if limit > 0 && len(keys) >= limit {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("owner items: %w", err)
	}
	return keys, nil
}

// query runs in and its following pages, handing every item to each.
func query(ctx context.Context, db QueryAPI, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
	for {
		out, err := db.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			if err := each(item); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// DeleteIdem deletes the idempotency record key if it belongs to owner: one
// conditional DeleteItem. A record already gone (or not owner's) is not an
// error: it reports deleted=false.
func DeleteIdem(ctx context.Context, db DeleteItemAPI, table, key, owner string) (deleted bool, err error) {
	_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(table),
		Key:                       ddbattr.Key(AttrPK, key),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": AttrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": ddbattr.S(owner)},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	}
	return false, fmt.Errorf("delete idempotency record: %w", err)
}

// ErasureWork is an erasure record as the worker reads it: the Erasure and
// the worker's own attributes.
type ErasureWork struct {
	Erasure
	Key            string           // the record's partition key
	Subject        string           // the user's sub; empty once COMPLETED
	IDKey          string           // the registry identity key, once computed
	ClaimCreatedAt time.Time        // the registry claim observed, zero if none
	Done           map[string]bool  // finished steps
	SentAt         time.Time        // the last site message, zero if none
	Sends          int              // site messages sent
	Counts         map[string]int64 // what was erased so far, per kind
}

// GetErasureWork reads the erasure record key (an ErasureKey) with one
// strongly consistent GetItem; ErrNoErasure when there is none.
func GetErasureWork(ctx context.Context, db GetItemAPI, table, key string) (ErasureWork, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            ddbattr.Key(AttrPK, key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return ErasureWork{}, fmt.Errorf("get erasure record: %w", err)
	}
	if len(out.Item) == 0 {
		return ErasureWork{}, ErrNoErasure
	}
	e, err := DecodeErasure(out.Item)
	if err != nil {
		return ErasureWork{}, err
	}
	w := ErasureWork{Erasure: e, Key: key, Done: map[string]bool{}, Counts: map[string]int64{}}
	r := ddbattr.NewReader(out.Item)
	w.Subject = r.S(AttrSubject)
	w.IDKey = r.S(AttrIDKey)
	if _, ok := out.Item[AttrClaimCreatedAt]; ok {
		w.ClaimCreatedAt = r.Time(AttrClaimCreatedAt)
	}
	if _, ok := out.Item[AttrSentAt]; ok {
		w.SentAt = r.Time(AttrSentAt)
	}
	if _, ok := out.Item[AttrSends]; ok {
		w.Sends = int(r.N(AttrSends))
	}
	if err := r.Err(); err != nil {
		return ErasureWork{}, fmt.Errorf("%w: erasure record: %w", ErrCorrupt, err)
	}
	if ss, ok := out.Item[AttrDone].(*types.AttributeValueMemberSS); ok {
		for _, s := range ss.Value {
			w.Done[s] = true
		}
	}
	for name, v := range out.Item {
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok || !strings.HasPrefix(name, AttrCountPrefix) {
			continue
		}
		var c int64
		if _, err := fmt.Sscan(n.Value, &c); err != nil {
			return ErasureWork{}, fmt.Errorf("%w: erasure record: count %s: %v", ErrCorrupt, name, err)
		}
		w.Counts[strings.TrimPrefix(name, AttrCountPrefix)] = c
	}
	if w.Status != ErasureCompleted && w.Subject == "" {
		return ErasureWork{}, fmt.Errorf("%w: erasure record %s: no subject", ErrCorrupt, w.ID)
	}
	return w, nil
}

// ErasureStep is one update of an erasure record by the worker, applied by
// RecordErasureStep with the condition that the record is still erasure
// erasureID's and not COMPLETED.
type ErasureStep struct {
	Done   string               // a step to add to AttrDone ("" for none)
	Start  bool                 // set status IN_PROGRESS (from ACCEPTED)
	Set    map[string]time.Time // time attributes to set (AttrClaimCreatedAt, AttrSentAt)
	SetS   map[string]string    // string attributes to set (AttrIDKey)
	Add    map[string]int64     // counts to add, per kind (AttrCountPrefix + kind), and AttrSends
	Remove []string             // attributes to remove
	// Confirmed, when set, is stored as the record's AttrConfirmed: the
	// site databases that confirmed (copied from the confirmations item).
	Confirmed []string
}

// RecordErasureStep applies step to the erasure record key of erasure
// erasureID with one conditional UpdateItem, and sets updatedAt. It
// returns ErrNoErasure when the record is gone, is another erasure's or is
// COMPLETED already.
func RecordErasureStep(ctx context.Context, db UpdateItemAPI, table, key, erasureID string, step ErasureStep, now time.Time) error {
	names := map[string]string{"#pk": AttrPK, "#erasureId": AttrErasureID, "#status": AttrStatus, "#updatedAt": AttrUpdatedAt}
	values := map[string]types.AttributeValue{":id": ddbattr.S(erasureID), ":completed": ddbattr.S(string(ErasureCompleted)), ":now": ddbattr.Time(now)}
	set := []string{"#updatedAt = :now"}
	var add, remove []string
	i := 0
	name := func(n string) string {
		i++
		k := fmt.Sprintf("#a%d", i)
		names[k] = n
		return k
	}
	value := func(v types.AttributeValue) string {
		k := fmt.Sprintf(":v%d", i)
		values[k] = v
		return k
	}
	if step.Start {
		set = append(set, "#status = :inProgress")
		values[":inProgress"] = ddbattr.S(string(ErasureInProgress))
	}
	for _, n := range sortedKeys(step.Set) {
		set = append(set, name(n)+" = "+value(ddbattr.Time(step.Set[n])))
	}
	for _, n := range sortedKeys(step.SetS) {
		set = append(set, name(n)+" = "+value(ddbattr.S(step.SetS[n])))
	}
	for _, n := range sortedKeys(step.Add) {
		add = append(add, name(n)+" "+value(ddbattr.N(step.Add[n])))
	}
	if step.Done != "" {
		add = append(add, name(AttrDone)+" "+value(&types.AttributeValueMemberSS{Value: []string{step.Done}}))
	}
	for _, n := range step.Remove {
		remove = append(remove, name(n))
	}
	if len(step.Confirmed) > 0 {
		set = append(set, name(AttrConfirmed)+" = "+value(&types.AttributeValueMemberSS{Value: step.Confirmed}))
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(add) > 0 {
		expr += " ADD " + strings.Join(add, ", ")
	}
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	return updateErasure(ctx, db, table, key, erasureID, expr, names, values)
}

// CompleteErasure completes erasure erasureID (record key): status
// COMPLETED, completedAt, counts (what was erased, per kind), and removes
// every temporary attribute (the subject, the identity key, the pending
// index key and the worker's own), so the record holds no personal data.
// One conditional UpdateItem; ErrNoErasure as for RecordErasureStep.
func CompleteErasure(ctx context.Context, db UpdateItemAPI, table, key, erasureID string, counts map[string]int64, now time.Time) error {
	m := make(map[string]types.AttributeValue, len(counts))
	remove := []string{AttrSubject, AttrErasurePending, AttrIDKey, AttrClaimCreatedAt, AttrDone, AttrSentAt, AttrSends}
	for k, n := range counts {
		m[k] = ddbattr.N(n)
	}
	names := map[string]string{"#pk": AttrPK, "#erasureId": AttrErasureID, "#status": AttrStatus, "#updatedAt": AttrUpdatedAt,
		"#completedAt": AttrCompletedAt, "#counts": AttrCounts}
	var rm []string
	for i, n := range append(remove, countAttrs(counts)...) {
		k := fmt.Sprintf("#r%d", i)
		names[k] = n
		rm = append(rm, k)
	}
	values := map[string]types.AttributeValue{":id": ddbattr.S(erasureID), ":completed": ddbattr.S(string(ErasureCompleted)),
		":now": ddbattr.Time(now), ":counts": &types.AttributeValueMemberM{Value: m}}
	expr := "SET #status = :completed, #completedAt = :now, #updatedAt = :now, #counts = :counts REMOVE " + strings.Join(rm, ", ")
	return updateErasure(ctx, db, table, key, erasureID, expr, names, values)
}

// countAttrs are the temporary count attributes of counts' kinds.
func countAttrs(counts map[string]int64) []string {
	var out []string
	for _, k := range sortedKeys(counts) {
		out = append(out, AttrCountPrefix+k)
	}
	return out
}

func updateErasure(ctx context.Context, db UpdateItemAPI, table, key, erasureID, expr string, names map[string]string, values map[string]types.AttributeValue) error {
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       ddbattr.Key(AttrPK, key),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #erasureId = :id AND #status <> :completed"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("update erasure %s: %w", erasureID, ErrNoErasure)
	}
	if err != nil {
		return fmt.Errorf("update erasure %s: %w", erasureID, err)
	}
	return nil
}

// SiteDatabases reads the region's site databases (SitesKey's
// AttrDatabases) with one strongly consistent GetItem; none when the item
// does not exist.
func SiteDatabases(ctx context.Context, db GetItemAPI, table string) ([]string, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            ddbattr.Key(AttrPK, SitesKey),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("site databases: %w", err)
	}
	if ss, ok := out.Item[AttrDatabases].(*types.AttributeValueMemberSS); ok {
		dbs := append([]string(nil), ss.Value...)
		sort.Strings(dbs)
		return dbs, nil
	}
	return nil, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
