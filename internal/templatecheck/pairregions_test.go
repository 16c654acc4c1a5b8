package templatecheck

import (
	"slices"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/residency"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// TestZonePairRegionListsAreTheRule: the region lists of template.yaml's
// ZonePairStaysInItsZone rule are exactly the groups the code pairs in
// (zonepair.RegionSets within one zone of the compiled-in policy, at least
// three regions), so the template and the cold start agree.
func TestZonePairRegionListsAreTheRule(t *testing.T) {
	policy, err := residency.Default()
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	for _, set := range zonepair.RegionSets {
		for _, z := range policy.Zones() {
			var g []string
			for _, r := range set {
				if zr, ok := policy.ZoneOfRegion(r); ok && zr == z {
					g = append(g, r)
				}
			}
			if len(g) >= 3 {
				slices.Sort(g)
				want = append(want, g)
			}
		}
	}
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	rule, _ := tpl.Rules["ZonePairStaysInItsZone"].(map[string]any)
	if rule == nil {
		t.Fatal("template.yaml has no ZonePairStaysInItsZone rule")
	}
	var got [][]string
	for _, a := range list(rule["Assertions"]) {
		am, _ := a.(map[string]any)
		or, _ := am["Assert"].(map[string]any)
		for _, and := range list(or["Fn::Or"]) {
			am, _ := and.(map[string]any)
			for i, c := range list(am["Fn::And"]) {
				cm, _ := c.(map[string]any)
				args := list(cm["Fn::Contains"])
				if len(args) != 2 {
					t.Fatalf("a condition of the rule is not Fn::Contains [list, value]: %v", c)
				}
				var g []string
				for _, r := range list(args[0]) {
					s, _ := r.(string)
					g = append(g, s)
				}
				slices.Sort(g)
				if i == 0 {
					got = append(got, g)
				} else if !slices.Equal(g, got[len(got)-1]) {
					t.Errorf("one alternative of the rule uses two lists: %v and %v", got[len(got)-1], g)
				}
			}
		}
	}
	slices.SortFunc(want, slices.Compare)
	slices.SortFunc(got, slices.Compare)
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("the rule's region lists %v, the code's pair groups %v", got, want)
	}
}
