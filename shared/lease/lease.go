// Package lease records, in a DynamoDB table, that an operation identified by
// a key (an idempotency key, an alarm event) is being done or has been done,
// so that a retried request or a re-delivered event does it once.
//
// A record is claimed by one attempt at a time: Acquire writes it held by the
// attempt's claim token until a lease runs out; the holder then marks it
// done (Complete) or gives the lease back at once (Release) when it failed. A
// later attempt that finds the record held past its lease takes it over
// (TakeOver) and does the operation itself. Every write after the first is
// conditional on the holder's token, so an attempt whose lease was taken over
// can no longer change the record.
//
// The token also tells "mine" from "someone else's" when DynamoDB applied a
// write but its answer was lost: the SDK retries the call, the retry fails
// its condition against the write it already made, and the item returned
// with the failure carries this attempt's own token. Such a failure is
// reported as the success it is.
//
// A record whose TTL attribute has passed counts as absent (DynamoDB deletes
// expired items lazily). A Layout without a TTL attribute (a table without
// TTL, such as a DynamoDB global table with multi-Region strong
// consistency) has records that never expire: a key is bound for good.
//
// New serves a table through a client with transactions (AcquireWith);
// NewItems through one without, which can only make single-item writes:
// what a table that supports no transactions needs, enforced by the type.
package lease

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
)

// Layout names a record's attributes and state values in its table, so the
// protocol can serve tables whose item layouts were chosen separately.
type Layout struct {
	Key        string // the table's partition key (string)
	State      string // string: Held or Done
	Token      string // string: the claim token of the attempt holding the record
	LeaseUntil string // number, epoch milliseconds: a held record is abandoned after this
	ExpiresAt  string // number, epoch seconds: the table's TTL attribute; "": none, records never expire
	Held, Done string // the values of State
}

// State is the state of a record.
type State int

// The states of a record.
const (
	Held State = iota + 1 // an attempt is doing the operation (or died doing it)
	Done                  // the operation is done
)

// Record is a record as read from the table.
type Record struct {
	Key        string
	State      State
	Token      string    // the claim token of the attempt holding (or that finished) it
	LeaseUntil time.Time // zero once done
	ExpiresAt  time.Time
	// Item is the whole item, for the attributes the caller stored with
	// the claim (Claim.Attrs).
	Item map[string]types.AttributeValue
}

// Abandoned reports whether r is held by an attempt whose lease has run out
// at now, so another attempt may take it over.
func (r Record) Abandoned(now time.Time) bool {
	return r.State == Held && !now.Before(r.LeaseUntil)
}

// Claim is a new record, held by the attempt with Token.
type Claim struct {
	Key        string
	Token      string    // unique to the attempt (crypto/rand.Text)
	LeaseUntil time.Time // the attempt is presumed dead after this
	ExpiresAt  time.Time // the record may be deleted, and the key reused, after this (ignored without Layout.ExpiresAt)
	// Attrs are the caller's own attributes, written with the record; their
	// names must not be the Layout's.
	Attrs map[string]types.AttributeValue
}

// ItemDB is the part of the DynamoDB client a Table uses for single-item
// calls: PutItem claims a record, UpdateItem changes it, GetItem reads it.
type ItemDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// DB is ItemDB with TransactWriteItems, which claims a record together with
// other writes (AcquireWith).
type DB interface {
	ItemDB
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Errors a Table reports besides *HeldError. Any other error is a failed call
// to DynamoDB: the outcome is unknown and the caller may retry.
var (
	// ErrLost: the record is not (or no longer) held by the given token.
	ErrLost = errors.New("lease: claim lost")
	// ErrConflict: a concurrent write to the same record won (DynamoDB's
	// TransactionConflict, or the record vanished while being read).
	ErrConflict = errors.New("lease: concurrent write to the record")
	// ErrCorrupt: the stored record does not follow the Layout.
	ErrCorrupt = errors.New("lease: corrupt record")
	// ErrNoTransactions: AcquireWith on a Table made by NewItems.
	ErrNoTransactions = errors.New("lease: this table is used without transactions")
)

// OtherFailedError reports that AcquireWith wrote nothing because the
// condition of one or more of its other writes failed. Indexes are their
// positions in others, ascending (DynamoDB gives one cancellation reason per
// item, in request order, and evaluates every item's condition). It takes
// precedence over a *HeldError: the caller learns why the operation may not
// happen even where the record exists, e.g. for a replayed key. Items holds,
// by index, the item DynamoDB returned with a failure (an other write that
// asked for ReturnValuesOnConditionCheckFailure ALL_OLD and found an item).
type OtherFailedError struct {
	Indexes []int
	Items   map[int]map[string]types.AttributeValue
}

func (e *OtherFailedError) Error() string {
	return fmt.Sprintf("lease: the condition of other write(s) %v failed", e.Indexes)
}

// Has reports whether the condition of others[i] failed.
func (e *OtherFailedError) Has(i int) bool { return slices.Contains(e.Indexes, i) }

// HeldError reports that Acquire found a live record of another attempt:
// held (perhaps abandoned, see Record.Abandoned) or done.
type HeldError struct{ Record Record }

func (e *HeldError) Error() string {
	if e.Record.State == Done {
		return "lease: record exists (done)"
	}
	return "lease: record exists (held)"
}

// Table holds records in one DynamoDB table.
type Table struct {
	db     ItemDB
	tx     DB // nil: NewItems, no transactions
	name   string
	layout Layout
}

// New returns the records of table, laid out as l, using db.
func New(db DB, table string, l Layout) *Table {
	return &Table{db: db, tx: db, name: table, layout: l}
}

// NewItems returns the records of table, laid out as l, using db for
// single-item calls only: AcquireWith answers ErrNoTransactions without a
// call.
func NewItems(db ItemDB, table string, l Layout) *Table {
	return &Table{db: db, name: table, layout: l}
}

// put is c's conditional put: only where no live record exists (without a
// TTL attribute: where no record exists).
func (t *Table) put(c Claim, now time.Time) *types.Put {
	l := t.layout
	item := maps.Clone(c.Attrs)
	if item == nil {
		item = make(map[string]types.AttributeValue, 5)
	}
	item[l.Key] = ddbattr.S(c.Key)
	item[l.State] = ddbattr.S(l.Held)
	item[l.Token] = ddbattr.S(c.Token)
	item[l.LeaseUntil] = ddbattr.N(c.LeaseUntil.UnixMilli())
	p := &types.Put{
		TableName:                           aws.String(t.name),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#key)"),
		ExpressionAttributeNames:            map[string]string{"#key": l.Key},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if l.ExpiresAt != "" {
		item[l.ExpiresAt] = ddbattr.N(c.ExpiresAt.Unix())
		p.ConditionExpression = aws.String("attribute_not_exists(#key) OR #exp < :now")
		p.ExpressionAttributeNames["#exp"] = l.ExpiresAt
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":now": ddbattr.N(now.Unix())}
	}
	return p
}

// Acquire writes c unless a live record exists for c.Key, in which case it
// writes nothing and returns a *HeldError holding that record. now decides
// whether a record's TTL has passed.
func (t *Table) Acquire(ctx context.Context, c Claim, now time.Time) error {
	p := t.put(c, now)
	_, err := t.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           p.TableName,
		Item:                                p.Item,
		ConditionExpression:                 p.ConditionExpression,
		ExpressionAttributeNames:            p.ExpressionAttributeNames,
		ExpressionAttributeValues:           p.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: p.ReturnValuesOnConditionCheckFailure,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return t.taken(ctx, c, ccf.Item)
	}
	if err != nil {
		return fmt.Errorf("lease: acquire: %w", err)
	}
	return nil
}

// AcquireWith is Acquire in one transaction with others (writes to other
// items, each with its own condition): all of them are written, or none.
//
// A failed condition of another write is an *OtherFailedError, whatever
// the record's own condition did, unless the record found carries c.Token:
// then an earlier attempt of this very transaction committed (its answer was
// lost and the SDK retried), the others' failures are its own writes (or
// what changed since), and the outcome is success. Only when no other write
// failed does a live record of another attempt give a *HeldError. The
// answer costs no call beyond the one TransactWriteItems, except a
// consistent read of the record when DynamoDB did not return it.
func (t *Table) AcquireWith(ctx context.Context, c Claim, now time.Time, others ...types.TransactWriteItem) error {
	if t.tx == nil {
		return ErrNoTransactions
	}
	items := append([]types.TransactWriteItem{{Put: t.put(c, now)}}, others...)
	_, err := t.tx.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		if err != nil {
			return fmt.Errorf("lease: acquire: %w", err)
		}
		return nil
	}
	reasons := tce.CancellationReasons
	for _, r := range reasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return ErrConflict
		}
	}
	other := &OtherFailedError{}
	for i, r := range reasons {
		if i > 0 && aws.ToString(r.Code) == conditionFailed {
			other.Indexes = append(other.Indexes, i-1)
			if len(r.Item) > 0 {
				if other.Items == nil {
					other.Items = make(map[int]map[string]types.AttributeValue)
				}
				other.Items[i-1] = r.Item
			}
		}
	}
	failed := other.Indexes
	if len(reasons) > 0 && aws.ToString(reasons[0].Code) == conditionFailed {
		err := t.taken(ctx, c, reasons[0].Item)
		if err == nil || len(failed) == 0 {
			return err
		}
		// Not this transaction's own record (or not known to be): the
		// others' failure decides.
	}
	if len(failed) > 0 {
		return other
	}
	return fmt.Errorf("lease: acquire: %w", err)
}

// conditionFailed is the cancellation reason code of an item whose
// condition failed (a Put's, Update's, Delete's or ConditionCheck's alike).
const conditionFailed = "ConditionalCheckFailed"

// taken explains Acquire's failed condition from the record found (old, when
// DynamoDB returned it; read otherwise): c's own write whose answer was lost,
// or a *HeldError.
func (t *Table) taken(ctx context.Context, c Claim, old map[string]types.AttributeValue) error {
	rec, ok, err := t.record(ctx, c.Key, old)
	if err != nil {
		return err
	}
	if !ok { // deleted meanwhile
		return ErrConflict
	}
	if rec.Token == c.Token {
		return nil
	}
	return &HeldError{Record: rec}
}

// TakeOver moves the record key held by oldToken (whose lease has run out) to
// newToken until leaseUntil. ErrLost if oldToken no longer holds it.
func (t *Table) TakeOver(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error {
	return t.update(ctx, "take over", key, oldToken,
		"SET #token = :new, #lease = :lease", map[string]string{},
		map[string]types.AttributeValue{":new": ddbattr.S(newToken), ":lease": ddbattr.N(leaseUntil.UnixMilli())},
		func(r Record) bool { return r.State == Held && r.Token == newToken })
}

// Complete marks the record key held by token done, writing set (the
// caller's own attributes, may be nil) with it. ErrLost if token no longer
// holds it.
func (t *Table) Complete(ctx context.Context, key, token string, set map[string]types.AttributeValue) error {
	expr := "SET #state = :done"
	values := map[string]types.AttributeValue{":done": ddbattr.S(t.layout.Done)}
	names := map[string]string{}
	for i, name := range slices.Sorted(maps.Keys(set)) {
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		expr += ", " + n + " = " + v
		names[n], values[v] = name, set[name]
	}
	expr += " REMOVE #lease"
	return t.update(ctx, "complete", key, token, expr, names, values,
		func(r Record) bool { return r.State == Done && r.Token == token })
}

// Release ends token's lease on the record key at once (the operation
// failed), so the next attempt may take it over without waiting. ErrLost if
// token no longer holds it.
func (t *Table) Release(ctx context.Context, key, token string) error {
	return t.update(ctx, "release", key, token, "SET #lease = :zero", map[string]string{},
		map[string]types.AttributeValue{":zero": ddbattr.N(0)},
		func(Record) bool { return false }) // a retry of it meets the same condition
}

// update applies expr to the record key if token holds it. When the
// condition fails, mine tells from the record found whether this was the
// write's own retry.
func (t *Table) update(ctx context.Context, op, key, token, expr string, names map[string]string, values map[string]types.AttributeValue, mine func(Record) bool) error {
	l := t.layout
	// Every update expression names the lease (DynamoDB rejects unused names).
	names["#token"], names["#state"], names["#lease"] = l.Token, l.State, l.LeaseUntil
	values[":token"], values[":held"] = ddbattr.S(token), ddbattr.S(l.Held)
	_, err := t.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(t.name),
		Key:                                 ddbattr.Key(l.Key, key),
		UpdateExpression:                    aws.String(expr),
		ConditionExpression:                 aws.String("#token = :token AND #state = :held"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		rec, ok, err := t.record(ctx, key, ccf.Item)
		if err != nil {
			return err
		}
		if ok && mine(rec) {
			return nil
		}
		return fmt.Errorf("lease: %s: %w", op, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("lease: %s: %w", op, err)
	}
	return nil
}

// record decodes item, or reads record key (strongly consistent) when item
// is empty: an endpoint that does not return the old item, or no item.
func (t *Table) record(ctx context.Context, key string, item map[string]types.AttributeValue) (Record, bool, error) {
	if len(item) == 0 {
		out, err := t.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(t.name),
			Key:            ddbattr.Key(t.layout.Key, key),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return Record{}, false, fmt.Errorf("lease: read record: %w", err)
		}
		if len(out.Item) == 0 {
			return Record{}, false, nil
		}
		item = out.Item
	}
	rec, err := t.decode(item)
	return rec, err == nil, err
}

// Decode reads a record item of t's layout (one a caller got from DynamoDB
// itself, e.g. with an OtherFailedError).
func (t *Table) Decode(item map[string]types.AttributeValue) (Record, error) { return t.decode(item) }

// decode reads a record item.
func (t *Table) decode(item map[string]types.AttributeValue) (Record, error) {
	l := t.layout
	r := ddbattr.NewReader(item)
	rec := Record{
		Key:        r.S(l.Key),
		Token:      r.S(l.Token),
		LeaseUntil: r.UnixMilli(l.LeaseUntil),
		ExpiresAt:  r.Unix(l.ExpiresAt),
		Item:       item,
	}
	switch r.S(l.State) {
	case l.Held:
		rec.State = Held
	case l.Done:
		rec.State = Done
	}
	if err := r.Err(); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if rec.Key == "" || rec.Token == "" || rec.State == 0 {
		return Record{}, fmt.Errorf("%w: no key, token or known state", ErrCorrupt)
	}
	return rec, nil
}
