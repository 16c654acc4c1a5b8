package lease

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
)

// fakeDB is a hand-written DB: each operation answers with its function
// field (an unset one fails the test) and records its input.
type fakeDB struct {
	t        *testing.T
	get      func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
	put      func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
	update   func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error)
	transact func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error)
	calls    []string
}

func (f *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.calls = append(f.calls, "GetItem")
	if f.get == nil {
		f.t.Fatal("unexpected GetItem")
	}
	return f.get(in)
}

func (f *fakeDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.calls = append(f.calls, "PutItem")
	if f.put == nil {
		f.t.Fatal("unexpected PutItem")
	}
	return f.put(in)
}

func (f *fakeDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.calls = append(f.calls, "UpdateItem")
	if f.update == nil {
		f.t.Fatal("unexpected UpdateItem")
	}
	return f.update(in)
}

func (f *fakeDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.calls = append(f.calls, "TransactWriteItems")
	if f.transact == nil {
		f.t.Fatal("unexpected TransactWriteItems")
	}
	return f.transact(in)
}

var layout = Layout{Key: "pk", State: "st", Token: "tok", LeaseUntil: "lease", ExpiresAt: "exp", Held: "held", Done: "done"}

var now = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

var claim = Claim{Key: "k", Token: "mine", LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour),
	Attrs: map[string]types.AttributeValue{"extra": ddbattr.S("x")}}

// item is a stored record held (or done) by token.
func item(state, token string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": ddbattr.S("k"), "st": ddbattr.S(state), "tok": ddbattr.S(token),
		"lease": ddbattr.N(now.Add(-time.Second).UnixMilli()), "exp": ddbattr.N(now.Add(time.Hour).Unix()), "extra": ddbattr.S("y")}
}

func ccf(item map[string]types.AttributeValue) error {
	return &types.ConditionalCheckFailedException{Message: aws.String("failed"), Item: item}
}

func getting(item map[string]types.AttributeValue, err error) func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
	return func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		if !aws.ToBool(in.ConsistentRead) {
			return nil, errors.New("read not strongly consistent")
		}
		return &dynamodb.GetItemOutput{Item: item}, err
	}
}

// check asserts err: nil, errors.Is target, a *HeldError in state held, or
// (errAny) some other error.
func check(t *testing.T, err, want error, held State) {
	t.Helper()
	var he *HeldError
	switch {
	case want == nil && held == 0:
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
	case held != 0:
		if !errors.As(err, &he) || he.Record.State != held || he.Record.Token != "other" {
			t.Fatalf("err = %v, want a *HeldError of another attempt in state %d", err, held)
		}
		if v := ddbattr.NewReader(he.Record.Item).S("extra"); v != "y" {
			t.Fatalf("HeldError item lacks the caller's attributes: extra = %q", v)
		}
	case want == errAny:
		var of *OtherFailedError
		if err == nil || errors.As(err, &he) || errors.As(err, &of) || errors.Is(err, ErrLost) || errors.Is(err, ErrConflict) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want a plain dependency error", err)
		}
	default:
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
	}
}

var errAny = errors.New("any other error")

func TestAcquire(t *testing.T) {
	tests := []struct {
		name      string
		putErr    error
		get       func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
		want      error
		wantHeld  State
		wantCalls string
	}{
		{name: "new", wantCalls: "PutItem"},
		{name: "held by another", putErr: ccf(item("held", "other")), wantHeld: Held, wantCalls: "PutItem"},
		{name: "done by another", putErr: ccf(item("done", "other")), wantHeld: Done, wantCalls: "PutItem"},
		{name: "my own write, answer lost", putErr: ccf(item("held", "mine")), wantCalls: "PutItem"},
		{name: "old item not returned: read", putErr: ccf(nil), get: getting(item("held", "other"), nil), wantHeld: Held, wantCalls: "PutItem GetItem"},
		{name: "old item not returned, mine", putErr: ccf(nil), get: getting(item("held", "mine"), nil), wantCalls: "PutItem GetItem"},
		{name: "deleted meanwhile", putErr: ccf(nil), get: getting(nil, nil), want: ErrConflict, wantCalls: "PutItem GetItem"},
		{name: "read fails", putErr: ccf(nil), get: getting(nil, errors.New("timeout")), want: errAny, wantCalls: "PutItem GetItem"},
		{name: "corrupt record", putErr: ccf(map[string]types.AttributeValue{"pk": ddbattr.S("k"), "st": ddbattr.S("weird"), "tok": ddbattr.S("t")}), want: ErrCorrupt, wantCalls: "PutItem"},
		{name: "store down", putErr: errors.New("connection refused"), want: errAny, wantCalls: "PutItem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in *dynamodb.PutItemInput
			db := &fakeDB{t: t, get: tt.get, put: func(i *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				in = i
				return &dynamodb.PutItemOutput{}, tt.putErr
			}}
			err := New(db, "tbl", layout).Acquire(context.Background(), claim, now)
			check(t, err, tt.want, tt.wantHeld)
			if got := strings.Join(db.calls, " "); got != tt.wantCalls {
				t.Errorf("calls %q, want %q", got, tt.wantCalls)
			}
			checkPut(t, aws.ToString(in.TableName), in.Item, aws.ToString(in.ConditionExpression), in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ReturnValuesOnConditionCheckFailure)
		})
	}
}

func checkPut(t *testing.T, table string, item map[string]types.AttributeValue, cond string, names map[string]string, values map[string]types.AttributeValue, rv types.ReturnValuesOnConditionCheckFailure) {
	t.Helper()
	r := ddbattr.NewReader(item)
	if table != "tbl" || r.S("pk") != "k" || r.S("st") != "held" || r.S("tok") != "mine" || r.S("extra") != "x" ||
		!r.UnixMilli("lease").Equal(claim.LeaseUntil) || !r.Unix("exp").Equal(claim.ExpiresAt) {
		t.Errorf("put %s %v", table, item)
	}
	if cond != "attribute_not_exists(#key) OR #exp < :now" || names["#key"] != "pk" || names["#exp"] != "exp" ||
		ddbattr.NewReader(values).N(":now") != now.Unix() {
		t.Errorf("condition %q %v %v", cond, names, values)
	}
	if rv != types.ReturnValuesOnConditionCheckFailureAllOld {
		t.Errorf("old item not asked for on condition failure")
	}
	if _, ok := claim.Attrs["pk"]; ok {
		t.Errorf("Acquire wrote into the caller's Attrs")
	}
}

func TestAcquireWith(t *testing.T) {
	reason := func(code string, item map[string]types.AttributeValue) types.CancellationReason {
		return types.CancellationReason{Code: aws.String(code), Item: item}
	}
	cancel := func(rs ...types.CancellationReason) error {
		return &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: rs}
	}
	ccfReason := func(it map[string]types.AttributeValue) types.CancellationReason {
		return reason("ConditionalCheckFailed", it)
	}
	none := reason("None", nil)
	tests := []struct {
		name      string
		err       error
		get       func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
		want      error
		wantHeld  State
		wantOther []int // an *OtherFailedError with these indexes
		wantCalls string
	}{
		{name: "new"},
		{name: "held by another", err: cancel(ccfReason(item("held", "other")), none, none), wantHeld: Held},
		{name: "my own transaction, answer lost", err: cancel(ccfReason(item("held", "mine")), none, none)},
		{name: "old item not returned: read", err: cancel(ccfReason(nil), none, none), get: getting(item("done", "other"), nil), wantHeld: Done, wantCalls: "TransactWriteItems GetItem"},
		{name: "concurrent transaction", err: cancel(none, reason("TransactionConflict", nil), none), want: ErrConflict},
		{name: "another write's condition", err: cancel(none, ccfReason(nil), none), wantOther: []int{0}},
		{name: "a condition check's condition", err: cancel(none, none, ccfReason(nil)), wantOther: []int{1}},
		{name: "both others' conditions", err: cancel(none, ccfReason(nil), ccfReason(nil)), wantOther: []int{0, 1}},
		// A replayed key of a held or done record: the other failure wins.
		{name: "held by another and a condition check", err: cancel(ccfReason(item("held", "other")), none, ccfReason(nil)), wantOther: []int{1}},
		{name: "done by another and a condition check", err: cancel(ccfReason(item("done", "other")), none, ccfReason(nil)), wantOther: []int{1}},
		{name: "not returned, done by another, and a condition check", err: cancel(ccfReason(nil), none, ccfReason(nil)), get: getting(item("done", "other"), nil),
			wantOther: []int{1}, wantCalls: "TransactWriteItems GetItem"},
		{name: "not returned, gone, and a condition check", err: cancel(ccfReason(nil), none, ccfReason(nil)), get: getting(nil, nil),
			wantOther: []int{1}, wantCalls: "TransactWriteItems GetItem"},
		{name: "not returned, read fails, and a condition check", err: cancel(ccfReason(nil), none, ccfReason(nil)), get: getting(nil, errors.New("timeout")),
			wantOther: []int{1}, wantCalls: "TransactWriteItems GetItem"},
		// The transaction committed on an earlier attempt: its own writes
		// fail their conditions now, and that is success.
		{name: "my own transaction, answer lost, others fail too", err: cancel(ccfReason(item("held", "mine")), ccfReason(nil), ccfReason(nil))},
		{name: "store down", err: errors.New("connection refused"), want: errAny},
	}
	other := types.TransactWriteItem{Put: &types.Put{TableName: aws.String("tbl"), Item: map[string]types.AttributeValue{"pk": ddbattr.S("ORDER#1")}}}
	check2 := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String("tbl"), Key: map[string]types.AttributeValue{"pk": ddbattr.S("GATE")},
		ConditionExpression: aws.String("attribute_not_exists(pk)")}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in *dynamodb.TransactWriteItemsInput
			db := &fakeDB{t: t, get: tt.get, transact: func(i *dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
				in = i
				return &dynamodb.TransactWriteItemsOutput{}, tt.err
			}}
			err := New(db, "tbl", layout).AcquireWith(context.Background(), claim, now, other, check2)
			var of *OtherFailedError
			if tt.wantOther != nil {
				if !errors.As(err, &of) || !slices.Equal(of.Indexes, tt.wantOther) {
					t.Fatalf("err = %v, want an *OtherFailedError of %v", err, tt.wantOther)
				}
				for i := range 3 {
					if of.Has(i) != slices.Contains(tt.wantOther, i) {
						t.Fatalf("Has(%d) = %t", i, of.Has(i))
					}
				}
			} else {
				if errors.As(err, &of) {
					t.Fatalf("err = %v, want no *OtherFailedError", err)
				}
				check(t, err, tt.want, tt.wantHeld)
			}
			if tt.wantCalls == "" {
				tt.wantCalls = "TransactWriteItems"
			}
			if got := strings.Join(db.calls, " "); got != tt.wantCalls {
				t.Errorf("calls %q, want %q", got, tt.wantCalls)
			}
			if len(in.TransactItems) != 3 || in.TransactItems[1].Put != other.Put || in.TransactItems[2].ConditionCheck != check2.ConditionCheck {
				t.Fatalf("transaction %+v, want the claim then the other writes", in.TransactItems)
			}
			p := in.TransactItems[0].Put
			checkPut(t, aws.ToString(p.TableName), p.Item, aws.ToString(p.ConditionExpression), p.ExpressionAttributeNames, p.ExpressionAttributeValues, p.ReturnValuesOnConditionCheckFailure)
		})
	}
}

// updateCase is one conditional update's answer and the expected outcome.
type updateCase struct {
	name string
	err  error
	get  func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
	want error
}

func runUpdate(t *testing.T, tests []updateCase, call func(*Table) error, checkIn func(*testing.T, *dynamodb.UpdateItemInput)) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in *dynamodb.UpdateItemInput
			db := &fakeDB{t: t, get: tt.get, update: func(i *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
				in = i
				return &dynamodb.UpdateItemOutput{}, tt.err
			}}
			check(t, call(New(db, "tbl", layout)), tt.want, 0)
			if got := ddbattr.NewReader(in.Key).S("pk"); got != "k" || len(in.Key) != 1 {
				t.Errorf("key %v", in.Key)
			}
			if aws.ToString(in.ConditionExpression) != "#token = :token AND #state = :held" ||
				in.ExpressionAttributeNames["#token"] != "tok" || in.ExpressionAttributeNames["#state"] != "st" ||
				ddbattr.NewReader(in.ExpressionAttributeValues).S(":held") != "held" {
				t.Errorf("condition %q %v", aws.ToString(in.ConditionExpression), in.ExpressionAttributeNames)
			}
			if in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld {
				t.Error("old item not asked for on condition failure")
			}
			// DynamoDB rejects names and values the expressions do not use.
			exprs := aws.ToString(in.UpdateExpression) + " " + aws.ToString(in.ConditionExpression)
			for n := range in.ExpressionAttributeNames {
				if !strings.Contains(exprs, n) {
					t.Errorf("unused name %s in %q", n, exprs)
				}
			}
			for v := range in.ExpressionAttributeValues {
				if !strings.Contains(exprs, v) {
					t.Errorf("unused value %s in %q", v, exprs)
				}
			}
			checkIn(t, in)
		})
	}
}

func TestTakeOver(t *testing.T) {
	tests := []updateCase{
		{name: "taken over"},
		{name: "my own write, answer lost", err: ccf(item("held", "new"))},
		{name: "taken over by another", err: ccf(item("held", "other")), want: ErrLost},
		{name: "done meanwhile", err: ccf(item("done", "old")), want: ErrLost},
		{name: "gone", err: ccf(nil), get: getting(nil, nil), want: ErrLost},
		{name: "store down", err: errors.New("connection refused"), want: errAny},
	}
	runUpdate(t, tests, func(tb *Table) error {
		return tb.TakeOver(context.Background(), "k", "old", "new", now.Add(time.Minute))
	}, func(t *testing.T, in *dynamodb.UpdateItemInput) {
		v := ddbattr.NewReader(in.ExpressionAttributeValues)
		if aws.ToString(in.UpdateExpression) != "SET #token = :new, #lease = :lease" || v.S(":token") != "old" || v.S(":new") != "new" ||
			!v.UnixMilli(":lease").Equal(now.Add(time.Minute)) {
			t.Errorf("update %q %v", aws.ToString(in.UpdateExpression), in.ExpressionAttributeValues)
		}
	})
}

func TestComplete(t *testing.T) {
	tests := []updateCase{
		{name: "completed"},
		{name: "my own write, answer lost", err: ccf(item("done", "mine"))},
		{name: "taken over", err: ccf(item("held", "other")), want: ErrLost},
		{name: "completed by the attempt that took over", err: ccf(item("done", "other")), want: ErrLost},
		{name: "old item not returned: read", err: ccf(nil), get: getting(item("done", "mine"), nil)},
		{name: "store down", err: errors.New("connection refused"), want: errAny},
	}
	set := map[string]types.AttributeValue{"decision": ddbattr.S("acted"), "at": ddbattr.N(7)}
	runUpdate(t, tests, func(tb *Table) error {
		return tb.Complete(context.Background(), "k", "mine", set)
	}, func(t *testing.T, in *dynamodb.UpdateItemInput) {
		n, v := in.ExpressionAttributeNames, ddbattr.NewReader(in.ExpressionAttributeValues)
		if aws.ToString(in.UpdateExpression) != "SET #state = :done, #a0 = :a0, #a1 = :a1 REMOVE #lease" ||
			n["#a0"] != "at" || v.N(":a0") != 7 || n["#a1"] != "decision" || v.S(":a1") != "acted" || v.S(":done") != "done" || v.S(":token") != "mine" {
			t.Errorf("update %q %v %v", aws.ToString(in.UpdateExpression), n, in.ExpressionAttributeValues)
		}
	})
	runUpdate(t, []updateCase{{name: "no attributes of the caller's"}}, func(tb *Table) error {
		return tb.Complete(context.Background(), "k", "mine", nil)
	}, func(t *testing.T, in *dynamodb.UpdateItemInput) {
		if got := aws.ToString(in.UpdateExpression); got != "SET #state = :done REMOVE #lease" {
			t.Errorf("update %q", got)
		}
	})
}

func TestRelease(t *testing.T) {
	tests := []updateCase{
		{name: "released"},
		{name: "taken over", err: ccf(item("held", "other")), want: ErrLost},
		{name: "done", err: ccf(item("done", "mine")), want: ErrLost},
		{name: "store down", err: errors.New("connection refused"), want: errAny},
	}
	runUpdate(t, tests, func(tb *Table) error {
		return tb.Release(context.Background(), "k", "mine")
	}, func(t *testing.T, in *dynamodb.UpdateItemInput) {
		v := ddbattr.NewReader(in.ExpressionAttributeValues)
		if aws.ToString(in.UpdateExpression) != "SET #lease = :zero" || v.N(":zero") != 0 || v.S(":token") != "mine" {
			t.Errorf("update %q %v", aws.ToString(in.UpdateExpression), in.ExpressionAttributeValues)
		}
	})
}

func TestAbandoned(t *testing.T) {
	tests := []struct {
		r    Record
		want bool
	}{
		{Record{State: Held, LeaseUntil: now.Add(time.Millisecond)}, false},
		{Record{State: Held, LeaseUntil: now}, true},
		{Record{State: Held, LeaseUntil: time.UnixMilli(0)}, true}, // released
		{Record{State: Done}, false},
	}
	for _, tt := range tests {
		if got := tt.r.Abandoned(now); got != tt.want {
			t.Errorf("%+v.Abandoned = %t, want %t", tt.r, got, tt.want)
		}
	}
}

// TestAcquireWithoutTTL: a Layout without a TTL attribute writes none and
// claims only where no record exists, so an old record never counts as
// absent (a table without TTL never deletes it).
func TestAcquireWithoutTTL(t *testing.T) {
	noTTL := layout
	noTTL.ExpiresAt = ""
	var in *dynamodb.PutItemInput
	db := &fakeDB{t: t, put: func(i *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
		in = i
		return &dynamodb.PutItemOutput{}, nil
	}}
	if err := NewItems(db, "tbl", noTTL).Acquire(context.Background(), claim, now); err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if _, ok := in.Item["exp"]; ok || len(in.Item) != 5 {
		t.Errorf("item %v, want key, state, token, lease and the caller's attribute only", in.Item)
	}
	if c := aws.ToString(in.ConditionExpression); c != "attribute_not_exists(#key)" || len(in.ExpressionAttributeNames) != 1 || in.ExpressionAttributeValues != nil {
		t.Errorf("condition %q %v %v", c, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	}
	// A record without the TTL attribute decodes, never expiring.
	db.put = func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
		old := item("done", "other")
		delete(old, "exp")
		return nil, ccf(old)
	}
	var held *HeldError
	if err := NewItems(db, "tbl", noTTL).Acquire(context.Background(), claim, now); !errors.As(err, &held) || !held.Record.ExpiresAt.IsZero() {
		t.Errorf("Acquire on a record: %v, want *HeldError without expiry", err)
	}
}

// TestNewItemsNoTransactions: a Table made by NewItems never calls
// TransactWriteItems (fakeDB fails the test on it).
func TestNewItemsNoTransactions(t *testing.T) {
	db := &fakeDB{t: t}
	if err := NewItems(db, "tbl", layout).AcquireWith(context.Background(), claim, now); !errors.Is(err, ErrNoTransactions) {
		t.Fatalf("AcquireWith: %v, want ErrNoTransactions", err)
	}
	if len(db.calls) != 0 {
		t.Errorf("calls %v, want none", db.calls)
	}
}
