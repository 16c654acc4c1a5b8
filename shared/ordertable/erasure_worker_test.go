package ordertable

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
)

// fakeQuery answers Query with pages, in order.
type fakeQuery struct {
	pages []*dynamodb.QueryOutput
	ins   []*dynamodb.QueryInput
}

func (f *fakeQuery) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c := *in
	f.ins = append(f.ins, &c)
	if len(f.pages) == 0 {
		return nil, errAny
	}
	p := f.pages[0]
	f.pages = f.pages[1:]
	return p, nil
}

func pendingEntry(key string, at time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: ddbattr.S(key), AttrErasurePending: ddbattr.S(PendingValue), AttrRequestedAt: ddbattr.Time(at)}
}

func TestPendingErasures(t *testing.T) {
	more := map[string]types.AttributeValue{AttrPK: ddbattr.S("x")}
	q := &fakeQuery{pages: []*dynamodb.QueryOutput{
		{Items: []map[string]types.AttributeValue{pendingEntry("ERASURE#b", now.Add(time.Minute))}, LastEvaluatedKey: more},
		{Items: []map[string]types.AttributeValue{pendingEntry("ERASURE#a", now)}},
	}}
	got, err := PendingErasures(context.Background(), q, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "ERASURE#a" || got[1].Key != "ERASURE#b" || !got[0].RequestedAt.Equal(now) {
		t.Fatalf("PendingErasures = %+v, want both pages, oldest first", got)
	}
	if *q.ins[0].IndexName != PendingErasureIndex || q.ins[1].ExclusiveStartKey == nil {
		t.Errorf("queries = %+v %+v", q.ins[0], q.ins[1])
	}
	// An index entry that is not an erasure record is corrupt.
	q = &fakeQuery{pages: []*dynamodb.QueryOutput{{Items: []map[string]types.AttributeValue{pendingEntry("ORDER#1", now)}}}}
	if _, err := PendingErasures(context.Background(), q, "orders"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("PendingErasures(ORDER#1) = %v, want ErrCorrupt", err)
	}
}

func TestOwnerItems(t *testing.T) {
	items := []map[string]types.AttributeValue{{AttrPK: ddbattr.S("ORDER#1")}, {AttrPK: ddbattr.S("IDEM#2")}, {AttrPK: ddbattr.S("ORDER#3")}}
	q := &fakeQuery{pages: []*dynamodb.QueryOutput{{Items: items}}}
	got, err := OwnerItems(context.Background(), q, "orders", "sub-1", 2)
	if err != nil || !slices.Equal(got, []string{"ORDER#1", "IDEM#2"}) {
		t.Fatalf("OwnerItems(limit 2) = %v, %v", got, err)
	}
	if *q.ins[0].IndexName != OwnerIndex || q.ins[0].ExpressionAttributeValues[":o"].(*types.AttributeValueMemberS).Value != "sub-1" {
		t.Errorf("query = %+v", q.ins[0])
	}
	if _, err := OwnerItems(context.Background(), &fakeQuery{}, "orders", "sub-1", 0); !errors.Is(err, errAny) {
		t.Errorf("OwnerItems with a failing query = %v", err)
	}
}

type fakeDelete struct {
	in  *dynamodb.DeleteItemInput
	err error
}

func (f *fakeDelete) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.in = in
	return &dynamodb.DeleteItemOutput{}, f.err
}

func TestDeleteIdem(t *testing.T) {
	for _, tt := range []struct {
		name        string
		err         error
		wantDeleted bool
		wantErr     bool
	}{
		{"deleted", nil, true, false},
		{"gone already", &types.ConditionalCheckFailedException{}, false, false},
		{"throttled", errAny, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDelete{err: tt.err}
			deleted, err := DeleteIdem(context.Background(), f, "orders", "IDEM#k", "sub-1")
			if deleted != tt.wantDeleted || (err != nil) != tt.wantErr {
				t.Fatalf("DeleteIdem = %v, %v", deleted, err)
			}
			if *f.in.ConditionExpression != "#owner = :owner" || f.in.ExpressionAttributeValues[":owner"].(*types.AttributeValueMemberS).Value != "sub-1" {
				t.Errorf("delete = %+v", f.in)
			}
		})
	}
}

func TestRecordErasureStep(t *testing.T) {
	f := &fakeDB{}
	step := ErasureStep{Done: "disable", Start: true, SetS: map[string]string{AttrIDKey: "key"},
		Set: map[string]time.Time{AttrClaimCreatedAt: now}, Add: map[string]int64{AttrCountPrefix + "poolUser": 1}}
	if err := RecordErasureStep(context.Background(), f, "orders", "ERASURE#p", "e-1", step, now); err != nil {
		t.Fatal(err)
	}
	in := f.updates[0]
	expr := *in.UpdateExpression
	for _, want := range []string{"#status = :inProgress", "ADD", "#updatedAt = :now"} {
		if !strings.Contains(expr, want) {
			t.Errorf("update %q lacks %q", expr, want)
		}
	}
	names := map[string]bool{}
	for _, n := range in.ExpressionAttributeNames {
		names[n] = true
	}
	for _, n := range []string{AttrIDKey, AttrClaimCreatedAt, AttrDone, AttrCountPrefix + "poolUser"} {
		if !names[n] {
			t.Errorf("update names no %s: %v", n, in.ExpressionAttributeNames)
		}
	}
	if *in.ConditionExpression != "attribute_exists(#pk) AND #erasureId = :id AND #status <> :completed" {
		t.Errorf("condition = %s", *in.ConditionExpression)
	}
	// A record gone, of another erasure or completed: ErrNoErasure.
	f = &fakeDB{err: &types.ConditionalCheckFailedException{}}
	if err := RecordErasureStep(context.Background(), f, "orders", "ERASURE#p", "e-1", ErasureStep{Done: "user"}, now); !errors.Is(err, ErrNoErasure) {
		t.Errorf("RecordErasureStep on a failed condition = %v, want ErrNoErasure", err)
	}
}

func TestCompleteErasure(t *testing.T) {
	f := &fakeDB{}
	if err := CompleteErasure(context.Background(), f, "orders", "ERASURE#p", "e-1", map[string]int64{"poolUser": 1, "dlqMessages": 0}, now); err != nil {
		t.Fatal(err)
	}
	in := f.updates[0]
	_, removes, _ := strings.Cut(*in.UpdateExpression, "REMOVE ")
	removed := map[string]bool{}
	for _, k := range strings.Split(removes, ", ") {
		removed[in.ExpressionAttributeNames[k]] = true
	}
	for _, a := range []string{AttrSubject, AttrErasurePending, AttrIDKey, AttrClaimCreatedAt, AttrDone, AttrSentAt, AttrSends, AttrCountPrefix + "poolUser", AttrCountPrefix + "dlqMessages"} {
		if !removed[a] {
			t.Errorf("completion keeps %s (%s)", a, *in.UpdateExpression)
		}
	}
	for _, a := range []string{AttrErasureID, AttrRequestedAt, AttrVia, AttrCounts, AttrCompletedAt} {
		if removed[a] {
			t.Errorf("completion removes %s", a)
		}
	}
	c := in.ExpressionAttributeValues[":counts"].(*types.AttributeValueMemberM).Value
	if c["poolUser"].(*types.AttributeValueMemberN).Value != "1" || c["dlqMessages"].(*types.AttributeValueMemberN).Value != "0" {
		t.Errorf("counts = %v", c)
	}
}

func TestGetErasureWork(t *testing.T) {
	item := map[string]types.AttributeValue{
		AttrPK: ddbattr.S("ERASURE#p"), AttrErasureID: ddbattr.S("e-1"), AttrStatus: ddbattr.S(string(ErasureInProgress)), AttrVia: ddbattr.S(ViaUser),
		AttrSubject: ddbattr.S("sub-1"), AttrRequestedAt: ddbattr.Time(now), AttrUpdatedAt: ddbattr.Time(now),
		AttrIDKey: ddbattr.S("key"), AttrClaimCreatedAt: ddbattr.Time(now.Add(-time.Hour)), AttrSentAt: ddbattr.Time(now), AttrSends: ddbattr.N(2),
		AttrDone:                &types.AttributeValueMemberSS{Value: []string{"disable", "registry"}},
		AttrCountPrefix + "dlq": ddbattr.N(3), AttrConfirmed: &types.AttributeValueMemberSS{Value: []string{"db-1"}},
	}
	w, err := GetErasureWork(context.Background(), &fakeDB{item: item}, "orders", "ERASURE#p")
	if err != nil {
		t.Fatal(err)
	}
	if w.ID != "e-1" || w.Subject != "sub-1" || w.IDKey != "key" || !w.ClaimCreatedAt.Equal(now.Add(-time.Hour)) || w.Sends != 2 ||
		!w.Done["registry"] || w.Done["user"] || w.Counts["dlq"] != 3 || !slices.Equal(w.Confirmed, []string{"db-1"}) {
		t.Errorf("GetErasureWork = %+v", w)
	}
	if _, err := GetErasureWork(context.Background(), &fakeDB{}, "orders", "ERASURE#p"); !errors.Is(err, ErrNoErasure) {
		t.Errorf("GetErasureWork(none) = %v, want ErrNoErasure", err)
	}
	delete(item, AttrSubject)
	if _, err := GetErasureWork(context.Background(), &fakeDB{item: item}, "orders", "ERASURE#p"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("GetErasureWork(no subject, in progress) = %v, want ErrCorrupt", err)
	}
}
