package processor

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ordertable"
)

// erasureRecords is a GetItem over the erasure records of owners: the
// erasure id of each erased owner; reading the record of owner fail fails.
type erasureRecords struct {
	owners []string
	ids    map[string]string // owner -> erasure id
	fail   string
	reads  *[]string // owners whose record was read, in order
}

func (f erasureRecords) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk := in.Key[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS).Value
	i := slices.IndexFunc(f.owners, func(o string) bool { return ordertable.ErasureKey(o) == pk })
	if i < 0 {
		return nil, fmt.Errorf("GetItem of an unknown key %s", pk)
	}
	owner := f.owners[i]
	*f.reads = append(*f.reads, owner)
	if owner == f.fail {
		return nil, errors.New("ThrottlingException: rate exceeded")
	}
	id, ok := f.ids[owner]
	if !ok {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: map[string]ddbtypes.AttributeValue{
		ordertable.AttrPK:          &ddbtypes.AttributeValueMemberS{Value: pk},
		ordertable.AttrErasureID:   &ddbtypes.AttributeValueMemberS{Value: id},
		ordertable.AttrStatus:      &ddbtypes.AttributeValueMemberS{Value: string(ordertable.ErasureCompleted)},
		ordertable.AttrRequestedAt: &ddbtypes.AttributeValueMemberS{Value: "2026-11-30T10:00:00Z"},
		ordertable.AttrUpdatedAt:   &ddbtypes.AttributeValueMemberS{Value: "2026-11-30T10:05:00Z"},
	}}, nil
}

// pagedOwners is a Store.Owners over the sorted owners, honouring after and
// limit; it counts its calls.
func pagedOwners(owners []string, calls *int) func(after string, limit int) ([]string, error) {
	sorted := slices.Clone(owners)
	sort.Strings(sorted)
	return func(after string, limit int) ([]string, error) {
		*calls++
		i := sort.SearchStrings(sorted, after)
		if i < len(sorted) && sorted[i] == after {
			i++
		}
		return slices.Clone(sorted[i:min(i+limit, len(sorted))]), nil
	}
}

func TestReconcileErasures(t *testing.T) {
	many := make([]string, 250)
	manyErased := map[string]string{}
	for i := range many {
		many[i] = fmt.Sprintf("sub-%03d", i)
		if i%7 == 0 {
			manyErased[many[i]] = fmt.Sprintf("er-%03d", i)
		}
	}
	for _, tt := range []struct {
		name       string
		owners     []string
		erased     map[string]string
		failRead   string // GetItem of this owner fails
		failErase  string // Erase of this owner fails (its error names the owner)
		wantOwners int
		wantErased []string // the owners erased, in order
		wantErr    bool
		wantCalls  int // Owners calls
	}{
		{
			name:       "an erased owner among others",
			owners:     []string{"sub-a", "sub-x", "sub-y"},
			erased:     map[string]string{"sub-x": "er-x"},
			wantOwners: 3, wantErased: []string{"sub-x"}, wantCalls: 2,
		},
		{
			name:       "no erased owner",
			owners:     []string{"sub-a", "sub-y"},
			wantOwners: 2, wantCalls: 2,
		},
		{
			name:       "empty database",
			wantOwners: 0, wantCalls: 1,
		},
		{
			name:       "a failed read stops: nothing more is erased",
			owners:     []string{"sub-a", "sub-b", "sub-c", "sub-d"},
			erased:     map[string]string{"sub-a": "er-a", "sub-d": "er-d"},
			failRead:   "sub-b",
			wantOwners: 1, wantErased: []string{"sub-a"}, wantErr: true, wantCalls: 1,
		},
		{
			name:       "a failed erasure stops",
			owners:     []string{"sub-a", "sub-b", "sub-c"},
			erased:     map[string]string{"sub-a": "er-a", "sub-c": "er-c"},
			failErase:  "sub-a",
			wantOwners: 0, wantErr: true, wantCalls: 1,
		},
		{
			name:       "more owners than one page",
			owners:     many,
			erased:     manyErased,
			wantOwners: 250, wantErased: sortedKeys(manyErased), wantCalls: 250/reconcilePage + 2,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var (
				reads, erasedOwners, eraserRan []string
				calls                          int
				buf                            bytes.Buffer
			)
			store := fakeStore{
				owners: pagedOwners(tt.owners, &calls),
				erase: func(owner, erasureID string, fn func(*sql.Tx) error) (int, error) {
					if owner == tt.failErase {
						return 0, fmt.Errorf("eraser: ledger rows of %s are locked", owner)
					}
					if want := tt.erased[owner]; erasureID != want {
						t.Errorf("Erase(%s) with erasure id %q, want %q", owner, erasureID, want)
					}
					if err := fn(nil); err != nil {
						return 0, err
					}
					erasedOwners = append(erasedOwners, owner)
					return 2, nil
				},
			}
			eraser := EraserFunc(func(_ context.Context, _ *sql.Tx, owner string) error {
				eraserRan = append(eraserRan, owner)
				return nil
			})
			db := erasureRecords{owners: tt.owners, ids: tt.erased, fail: tt.failRead, reads: &reads}
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			owners, erased, err := ReconcileErasures(context.Background(), store, db, "orders", eraser, log)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if owners != tt.wantOwners || erased != len(tt.wantErased) {
				t.Errorf("owners, erased = %d, %d; want %d, %d", owners, erased, tt.wantOwners, len(tt.wantErased))
			}
			if !slices.Equal(erasedOwners, tt.wantErased) || !slices.Equal(eraserRan, erasedOwners) {
				t.Errorf("erased %q (Eraser ran for %q), want %q", erasedOwners, eraserRan, tt.wantErased)
			}
			if calls != tt.wantCalls {
				t.Errorf("Owners called %d times, want %d", calls, tt.wantCalls)
			}
			if !tt.wantErr {
				// Every owner's record read exactly once, in order.
				want := slices.Clone(tt.owners)
				sort.Strings(want)
				if !slices.Equal(reads, want) {
					t.Errorf("records read of %d owners, want each of %d once in order", len(reads), len(want))
				}
			}
			for _, o := range tt.owners {
				if strings.Contains(buf.String(), o) || (err != nil && strings.Contains(err.Error(), o)) {
					t.Errorf("log or error names an owner: %s / %v", buf.String(), err)
					break
				}
			}
			for _, o := range tt.wantErased {
				if !strings.Contains(buf.String(), `"erasureId":"`+tt.erased[o]+`"`) {
					t.Errorf("no log line of erasure %s: %s", tt.erased[o], buf.String())
				}
			}
		})
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
