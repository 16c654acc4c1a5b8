package ordersapi

import (
	"testing"

	"github.com/homeregion/homeregion/shared/ordertable"
)

// The idempotency records' stored states are IdemState's values.
func TestIdemLayoutStates(t *testing.T) {
	if l := ordertable.IdemLayout; l.Held != string(IdemInFlight) || l.Done != string(IdemComplete) {
		t.Fatalf("ordertable.IdemLayout states %q/%q, want %q/%q", l.Held, l.Done, IdemInFlight, IdemComplete)
	}
}
