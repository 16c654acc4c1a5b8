package orderstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/shared/orderstore"
)

func TestOwners(t *testing.T) {
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s, err := orderstore.Open(ctx, orderstoretest.DSN(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Owners stored out of order; sub-b has three rows, in
			// different states.
			for i, owner := range []string{"sub-c", "sub-b", "sub-a", "sub-b", "sub-d", "sub-b"} {
				id := fmt.Sprintf("o-%d", i)
				if _, err := s.Prepare(ctx, envelopeOf(id, owner)); err != nil {
					t.Fatal(err)
				}
				if i == 3 {
					if _, err := s.Handle(ctx, id, nil); err != nil {
						t.Fatal(err)
					}
					if err := s.Finish(ctx, id); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, tt := range []struct {
				after string
				limit int
				want  []string
			}{
				{"", 2, []string{"sub-a", "sub-b"}},
				{"sub-b", 2, []string{"sub-c", "sub-d"}},
				{"sub-d", 2, nil},
				{"", 10, []string{"sub-a", "sub-b", "sub-c", "sub-d"}},
				{"sub-bb", 1, []string{"sub-c"}}, // after need not be an owner
				{"sub-a", 1, []string{"sub-b"}},  // a page of distinct owners, not of rows
			} {
				got, err := s.Owners(ctx, tt.after, tt.limit)
				if err != nil || !slices.Equal(got, tt.want) {
					t.Errorf("Owners(%q, %d) = %q, %v; want %q", tt.after, tt.limit, got, err, tt.want)
				}
			}
			if _, err := s.Owners(ctx, "", 0); err == nil {
				t.Error("Owners(limit 0) succeeded, want an error")
			}
			// An erased owner holds no row, so it is listed no more.
			if _, err := s.Erase(ctx, "sub-b", "er-b", nil); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Owners(ctx, "", 10); err != nil || !slices.Equal(got, []string{"sub-a", "sub-c", "sub-d"}) {
				t.Errorf("Owners after erasing sub-b = %q, %v", got, err)
			}
		})
	}
}

// TestOwnersPages pages through more owners than one page holds, each
// owner with several rows, and finds every owner exactly once.
func TestOwnersPages(t *testing.T) {
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s, err := orderstore.Open(ctx, orderstoretest.DSN(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var want []string
			for i := range 25 {
				owner := fmt.Sprintf("sub-%03d", i)
				want = append(want, owner)
				for j := range 3 {
					if _, err := s.Prepare(ctx, envelopeOf(fmt.Sprintf("p-%03d-%d", i, j), owner)); err != nil {
						t.Fatal(err)
					}
				}
			}
			var got []string
			pages := 0
			for after := ""; ; {
				page, err := s.Owners(ctx, after, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				pages++
				got = append(got, page...)
				after = page[len(page)-1]
			}
			if !slices.Equal(got, want) || pages != 3 {
				t.Fatalf("paged owners = %q in %d pages; want %q in 3", got, pages, want)
			}
		})
	}
}
