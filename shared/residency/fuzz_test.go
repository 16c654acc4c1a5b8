package residency

import (
	"errors"
	"fmt"
	"testing"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/iso3166"
)

// FuzzParse checks, for any policy file, that Parse never panics, that every
// refusal wraps ErrInvalid, and that every accepted policy keeps the residency
// invariants: each zone has at least one well-formed region, no region and no
// country belongs to two zones, countries are valid ISO codes, and SameZone
// agrees with the zone lookups.
func FuzzParse(f *testing.F) {
	f.Add(defaultPolicy)
	for _, s := range []string{
		`{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["DE"]}}}`,
		`{"version":"1","zones":{"eu":{"regions":[],"countries":["DE"]}}}`,
		`{"version":"1","zones":{"eu":{"regions":["EU-WEST-1"],"countries":["DE"]}}}`,
		`{"version":"1","zones":{"a":{"regions":["eu-west-1"],"countries":["DE"]},"b":{"regions":["us-east-1"],"countries":["DE"]}}}`,
		`{"version":"1","zones":{"a":{"regions":["eu-west-1"],"countries":["DE"]},"b":{"regions":["eu-west-1"],"countries":["US"]}}}`,
		`{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["XX"]}}}`,
		`{"version":"","zones":{}}`,
		`{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["DE"]}},"extra":1}`,
		`{}`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("refusal %v does not wrap ErrInvalid", err)
			}
			return
		}
		if problem := policyProblem(p); problem != "" {
			t.Fatal(problem)
		}
	})
}

// FuzzLookup checks the shipped policy's lookups on any input: a country is
// served only when it is a valid code, by a zone that has regions, and an
// unknown region is never in a zone.
func FuzzLookup(f *testing.F) {
	for _, s := range [][2]string{{"DE", "eu-west-1"}, {"US", "us-east-1"}, {"AE", "me-central-1"}, {"GB", "eu-west-2"}, {"de", "EU-WEST-1"}, {"", ""}, {"XX", "mars-north-1"}} {
		f.Add(s[0], s[1])
	}
	p, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, country, region string) {
		if z, ok := p.ZoneOfCountry(country); ok {
			if !iso3166.Assigned(country) {
				t.Fatalf("invalid country %q served by %s", country, z)
			}
			if len(p.RegionsOf(z)) == 0 {
				t.Fatalf("country %s served by empty zone %s", country, z)
			}
		}
		if z, ok := p.ZoneOfRegion(region); ok && !awsname.Region(region) {
			t.Fatalf("malformed region %q in zone %s", region, z)
		}
		if p.SameZone(region, region) {
			if _, ok := p.ZoneOfRegion(region); !ok {
				t.Fatalf("SameZone(%q, %q) for a region outside every zone", region, region)
			}
		}
	})
}

// policyProblem says how an accepted policy breaks the residency invariants
// ("" when it does not).
func policyProblem(p *Policy) string {
	zones := p.Zones()
	if len(zones) == 0 {
		return "accepted a policy without zones"
	}
	if p.Version() == "" {
		return "accepted a policy without a version"
	}
	seen := map[string]string{}
	for _, z := range zones {
		regions := p.RegionsOf(z)
		if len(regions) == 0 {
			return fmt.Sprintf("accepted empty zone %q", z)
		}
		for _, r := range regions {
			if !awsname.Region(r) {
				return fmt.Sprintf("accepted region %q", r)
			}
			if other, dup := seen[r]; dup {
				return fmt.Sprintf("region %s in zones %s and %s", r, other, z)
			}
			seen[r] = z
			if got, ok := p.ZoneOfRegion(r); !ok || got != z {
				return fmt.Sprintf("ZoneOfRegion(%s) = %q, %v; want %s", r, got, ok, z)
			}
		}
	}
	for r1, z1 := range seen {
		for r2, z2 := range seen {
			if p.SameZone(r1, r2) != (z1 == z2) {
				return fmt.Sprintf("SameZone(%s, %s) disagrees with zones %s, %s", r1, r2, z1, z2)
			}
		}
	}
	for cc, z := range p.zoneOfCountry {
		if !iso3166.Assigned(cc) {
			return fmt.Sprintf("accepted country %q", cc)
		}
		if len(p.RegionsOf(z)) == 0 {
			return fmt.Sprintf("country %s in zone %s, which has no regions", cc, z)
		}
	}
	return ""
}

// TestFuzzChecksCatchBrokenPolicies proves FuzzParse's checks can fail: each
// policy below (what a buggy Parse could accept) is caught.
func TestFuzzChecksCatchBrokenPolicies(t *testing.T) {
	build := func(regions map[string][]string, countries map[string]string) *Policy {
		p := &Policy{version: "1", zoneOfRegion: map[string]string{}, zoneOfCountry: countries, regions: regions}
		for z, rs := range regions {
			for _, r := range rs {
				p.zoneOfRegion[r] = z
			}
		}
		return p
	}
	good := build(map[string][]string{"eu": {"eu-west-1"}, "us": {"us-east-1"}}, map[string]string{"DE": "eu", "US": "us"})
	if p := policyProblem(good); p != "" {
		t.Fatalf("valid policy flagged: %s", p)
	}
	tests := map[string]*Policy{
		"empty zone":          build(map[string][]string{"eu": {"eu-west-1"}, "us": {}}, map[string]string{"DE": "eu"}),
		"bad region":          build(map[string][]string{"eu": {"EU_WEST_1"}}, map[string]string{"DE": "eu"}),
		"region in two zones": build(map[string][]string{"eu": {"eu-west-1"}, "us": {"eu-west-1"}}, map[string]string{"DE": "eu"}),
		"invalid country":     build(map[string][]string{"eu": {"eu-west-1"}}, map[string]string{"XX": "eu"}),
		"country in no zone":  build(map[string][]string{"eu": {"eu-west-1"}}, map[string]string{"DE": "mars"}),
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			if policyProblem(p) == "" {
				t.Error("not caught")
			}
		})
	}
}
