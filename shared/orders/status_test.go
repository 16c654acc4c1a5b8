package orders

import "testing"

func TestStatusOrder(t *testing.T) {
	tests := []struct {
		from, to Status
		want     bool
	}{
		{StatusAccepted, StatusCompleted, true},
		{StatusCompleted, StatusAccepted, false},
		{StatusAccepted, StatusAccepted, false},
		{"", StatusAccepted, false},
		{StatusAccepted, "SHIPPED", false},
		{StatusAccepted, StatusFailed, true},
		{StatusFailed, StatusCompleted, false},
		{StatusCompleted, StatusFailed, false},
		{StatusFailed, StatusAccepted, false},
	}
	for _, tt := range tests {
		if got := tt.from.Before(tt.to); got != tt.want {
			t.Errorf("%q.Before(%q) = %t, want %t", tt.from, tt.to, got, tt.want)
		}
	}
}
