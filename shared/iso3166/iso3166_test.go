package iso3166

import (
	"sort"
	"strings"
	"testing"
)

func TestAssigned(t *testing.T) {
	for cc, want := range map[string]bool{
		"DE": true, "US": true, "AD": true, "ZW": true, "AE": true, "GB": true, "XK": false, "UK": false, "EU": false,
		"de": false, "": false, "D": false, "DEU": false, "D ": false, " D": false, "Dé": false,
	} {
		t.Run(cc, func(t *testing.T) {
			if got := Assigned(cc); got != want {
				t.Errorf("Assigned(%q) = %v, want %v", cc, got, want)
			}
		})
	}
}

// TestCodes keeps the list well-formed: 249 sorted, distinct two-letter codes
// each followed by one space (Assigned's scan depends on it).
func TestCodes(t *testing.T) {
	f := strings.Fields(codes)
	if len(f) != 249 {
		t.Errorf("%d codes, want 249", len(f))
	}
	if strings.Join(f, " ")+" " != codes {
		t.Error("codes is not two-letter codes each followed by one space")
	}
	if !sort.StringsAreSorted(f) {
		t.Error("codes are not sorted")
	}
	for i := 1; i < len(f); i++ {
		if f[i] == f[i-1] {
			t.Errorf("%s listed twice", f[i])
		}
	}
	for _, c := range f {
		if !Assigned(c) {
			t.Errorf("Assigned(%q) = false for a listed code", c)
		}
	}
}
