package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ordertable"
)

// pairDB is a hand-written in-memory DynamoDB table with one string
// partition key (ordertable.AttrPK) and no transactions, as a pair's MRSC
// table: GetItem, PutItem and UpdateItem, with the condition and update
// expressions packages lease and ordertable write (comparisons,
// attribute_exists/attribute_not_exists, AND, OR, parentheses; SET and
// REMOVE). Any Transact* call fails the test. Every call goes through the
// shared plan, which can fail it (a crash) or apply it and lose its answer.
type pairDB struct {
	t     *testing.T
	mu    sync.Mutex
	items map[string]map[string]types.AttributeValue
	plan  *callPlan
}

func newPairDB(t *testing.T, plan *callPlan) *pairDB {
	return &pairDB{t: t, items: map[string]map[string]types.AttributeValue{}, plan: plan}
}

// callPlan logs the AWS calls of the store and the queue, in order, and
// decides their fate: from call number failFrom on (1-based; 0 never) every
// call fails unapplied (the invocation died before it); call number lose is
// applied but answers an error, and every later one fails (died right
// after it).
type callPlan struct {
	mu       sync.Mutex
	calls    []string
	failFrom int
	lose     int
}

var errCrashed = errors.New("the invocation died")

// next logs op and returns whether to apply it and the error to answer.
func (p *callPlan) next(op string) (apply bool, err error) {
	if p == nil {
		return true, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, op)
	n := len(p.calls)
	switch {
	case p.lose > 0 && n == p.lose:
		return true, fmt.Errorf("%s: answer lost: %w", op, errCrashed)
	case p.lose > 0 && n > p.lose, p.failFrom > 0 && n >= p.failFrom:
		return false, fmt.Errorf("%s: %w", op, errCrashed)
	}
	return true, nil
}

// reset starts a new invocation that nothing fails.
func (p *callPlan) reset() {
	p.mu.Lock()
	p.calls, p.failFrom, p.lose = nil, 0, 0
	p.mu.Unlock()
}

func (p *callPlan) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.calls, " ")
}

// planQueue is a fakeQueue whose sends go through the plan.
type planQueue struct {
	fakeQueue
	plan *callPlan
}

func (q *planQueue) Send(ctx context.Context, m Message) error {
	apply, err := q.plan.next("SendMessage")
	if apply {
		q.fakeQueue.Send(ctx, m)
	}
	return err
}

func (d *pairDB) key(k map[string]types.AttributeValue) string {
	s, ok := k[ordertable.AttrPK].(*types.AttributeValueMemberS)
	if !ok || len(k) != 1 {
		d.t.Fatalf("pairDB: key %v is not the table's", k)
	}
	return s.Value
}

func (d *pairDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if !aws.ToBool(in.ConsistentRead) {
		d.t.Errorf("pairDB: GetItem %v not strongly consistent", in.Key)
	}
	if _, err := d.plan.next("GetItem"); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: maps.Clone(d.items[d.key(in.Key)])}, nil
}

func (d *pairDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	apply, err := d.plan.next("PutItem")
	if !apply {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.key(map[string]types.AttributeValue{ordertable.AttrPK: in.Item[ordertable.AttrPK]})
	old := d.items[k]
	if c := aws.ToString(in.ConditionExpression); c != "" && !d.eval(c, old, in.ExpressionAttributeNames, in.ExpressionAttributeValues) {
		return nil, d.ccf(old, in.ReturnValuesOnConditionCheckFailure)
	}
	d.items[k] = maps.Clone(in.Item)
	return &dynamodb.PutItemOutput{}, err
}

func (d *pairDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	apply, err := d.plan.next("UpdateItem")
	if !apply {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.key(in.Key)
	old := d.items[k]
	if c := aws.ToString(in.ConditionExpression); c != "" && !d.eval(c, old, in.ExpressionAttributeNames, in.ExpressionAttributeValues) {
		return nil, d.ccf(old, in.ReturnValuesOnConditionCheckFailure)
	}
	item := maps.Clone(old)
	if item == nil {
		item = map[string]types.AttributeValue{ordertable.AttrPK: in.Key[ordertable.AttrPK]}
	}
	d.update(aws.ToString(in.UpdateExpression), item, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	d.items[k] = item
	out := &dynamodb.UpdateItemOutput{}
	if in.ReturnValues == types.ReturnValueAllNew {
		out.Attributes = maps.Clone(item)
	}
	return out, err
}

// TransactWriteItems and TransactGetItems exist so that the fake could be
// handed where they are callable: a pair table refuses them, as AWS does.
func (d *pairDB) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.t.Errorf("pairDB: TransactWriteItems on a pair table")
	return nil, errors.New("ValidationException: transactions are not supported on this table")
}

func (d *pairDB) TransactGetItems(context.Context, *dynamodb.TransactGetItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	d.t.Errorf("pairDB: TransactGetItems on a pair table")
	return nil, errors.New("ValidationException: transactions are not supported on this table")
}

func (d *pairDB) ccf(old map[string]types.AttributeValue, rv types.ReturnValuesOnConditionCheckFailure) error {
	e := &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	if rv == types.ReturnValuesOnConditionCheckFailureAllOld {
		e.Item = maps.Clone(old)
	}
	return e
}

// item returns a copy of item pk (nil if none).
func (d *pairDB) item(pk string) map[string]types.AttributeValue {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.items[pk])
}

// keys returns the partition keys with prefix.
func (d *pairDB) keys(prefix string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for k := range d.items {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// put stores item as is.
func (d *pairDB) put(item map[string]types.AttributeValue) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items[item[ordertable.AttrPK].(*types.AttributeValueMemberS).Value] = maps.Clone(item)
}

// update applies "SET a = :v, ... REMOVE b, ..." to item.
func (d *pairDB) update(expr string, item map[string]types.AttributeValue, names map[string]string, values map[string]types.AttributeValue) {
	set, remove, _ := strings.Cut(expr, " REMOVE ")
	if r, ok := strings.CutPrefix(expr, "REMOVE "); ok {
		set, remove = "", r
	}
	if set != "" {
		s, ok := strings.CutPrefix(set, "SET ")
		if !ok {
			d.t.Fatalf("pairDB: update %q: only SET and REMOVE", expr)
		}
		for _, a := range strings.Split(s, ",") {
			n, v, ok := strings.Cut(a, "=")
			val, found := values[strings.TrimSpace(v)]
			if !ok || !found {
				d.t.Fatalf("pairDB: update %q: %q is not name = :value", expr, a)
			}
			item[d.name(strings.TrimSpace(n), names)] = val
		}
	}
	if remove != "" {
		for _, n := range strings.Split(remove, ",") {
			delete(item, d.name(strings.TrimSpace(n), names))
		}
	}
}

func (d *pairDB) name(n string, names map[string]string) string {
	if strings.HasPrefix(n, "#") {
		real, ok := names[n]
		if !ok {
			d.t.Fatalf("pairDB: no name for %s", n)
		}
		return real
	}
	return n
}

// eval evaluates condition c on item (nil: none).
func (d *pairDB) eval(c string, item map[string]types.AttributeValue, names map[string]string, values map[string]types.AttributeValue) bool {
	p := &condParser{d: d, toks: tokenize(c), item: item, names: names, values: values}
	v := p.or()
	if p.i != len(p.toks) {
		d.t.Fatalf("pairDB: condition %q: trailing %v", c, p.toks[p.i:])
	}
	return v
}

func tokenize(s string) []string {
	s = strings.NewReplacer("(", " ( ", ")", " ) ", "<>", " <> ", "=", " = ", "<", " < ").Replace(s)
	return strings.Fields(s)
}

// condParser is a recursive-descent evaluator:
// or := and {OR and}; and := term {AND term};
// term := ( or ) | fn ( name ) | operand op operand.
type condParser struct {
	d      *pairDB
	toks   []string
	i      int
	item   map[string]types.AttributeValue
	names  map[string]string
	values map[string]types.AttributeValue
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *condParser) take(want string) {
	if p.peek() != want {
		p.d.t.Fatalf("pairDB: condition %v: want %q at %d", p.toks, want, p.i)
	}
	p.i++
}

func (p *condParser) or() bool {
	v := p.and()
	for p.peek() == "OR" {
		p.i++
		w := p.and()
		v = v || w
	}
	return v
}

func (p *condParser) and() bool {
	v := p.term()
	for p.peek() == "AND" {
		p.i++
		w := p.term()
		v = v && w
	}
	return v
}

func (p *condParser) term() bool {
	switch t := p.peek(); t {
	case "(":
		p.i++
		v := p.or()
		p.take(")")
		return v
	case "attribute_exists", "attribute_not_exists":
		p.i++
		p.take("(")
		_, ok := p.item[p.d.name(p.peek(), p.names)]
		p.i++
		p.take(")")
		return ok == (t == "attribute_exists")
	}
	a := p.operand()
	op := p.peek()
	p.i++
	b := p.operand()
	if a == nil || b == nil {
		return false // a missing attribute compares false
	}
	sa, sb := fmt.Sprint(a), fmt.Sprint(b)
	switch op {
	case "=":
		return sa == sb
	case "<>":
		return sa != sb
	}
	p.d.t.Fatalf("pairDB: condition %v: operator %q", p.toks, op)
	return false
}

// operand is a value's or an attribute's string form (nil: absent).
func (p *condParser) operand() any {
	t := p.peek()
	p.i++
	var v types.AttributeValue
	if strings.HasPrefix(t, ":") {
		v = p.values[t]
	} else {
		v = p.item[p.d.name(t, p.names)]
	}
	switch v := v.(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	}
	p.d.t.Fatalf("pairDB: condition %v: operand %s of type %T", p.toks, t, v)
	return nil
}
