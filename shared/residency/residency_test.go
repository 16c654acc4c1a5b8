package residency

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	if p.Version() == "" {
		t.Error("empty version")
	}
	tests := []struct {
		region, zone string
		ok           bool
	}{
		{"eu-central-1", "eu", true},
		{"eu-west-1", "eu", true},
		{"eu-west-3", "eu", true},
		{"eu-north-1", "eu", true},
		{"eu-south-1", "eu", true},
		{"eu-south-2", "eu", true},
		{"eu-west-2", "", false},    // London: UK is not in the EU/EEA
		{"eu-central-2", "", false}, // Zurich: Switzerland is not in the EU/EEA
		{"us-east-1", "us", true},
		{"us-east-2", "us", true},
		{"us-west-1", "us", true},
		{"us-west-2", "us", true},
		{"me-central-1", "me", true},
		{"me-south-1", "me", true},
		{"ap-southeast-1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			z, ok := p.ZoneOfRegion(tt.region)
			if z != tt.zone || ok != tt.ok {
				t.Errorf("ZoneOfRegion(%q) = %q, %v; want %q, %v", tt.region, z, ok, tt.zone, tt.ok)
			}
		})
	}
	eu := strings.Fields("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO")
	countries := map[string]string{"US": "us", "AE": "me", "BH": "me", "SA": "me", "KW": "me", "OM": "me", "QA": "me", "GB": "", "CH": "", "JP": "", "de": ""}
	for _, c := range eu {
		countries[c] = "eu"
	}
	for cc, want := range countries {
		t.Run("country "+cc, func(t *testing.T) {
			z, ok := p.ZoneOfCountry(cc)
			if z != want || ok != (want != "") {
				t.Errorf("ZoneOfCountry(%q) = %q, %v; want %q", cc, z, ok, want)
			}
		})
	}
	if got := p.RegionsOf("us"); !slices.Equal(got, []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2"}) {
		t.Errorf("RegionsOf(us) = %v", got)
	}
	if got := p.RegionsOf("nowhere"); got != nil {
		t.Errorf("RegionsOf(nowhere) = %v, want nil", got)
	}
	if got := p.Zones(); !slices.Equal(got, []string{"eu", "me", "us"}) {
		t.Errorf("Zones = %v", got)
	}
	// RegionsOf returns a copy.
	p.RegionsOf("eu")[0] = "xx-east-1"
	if p.RegionsOf("eu")[0] != "eu-central-1" {
		t.Error("RegionsOf leaked internal slice")
	}
}

func TestSameZone(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{"eu-central-1", "eu-west-1", true},
		{"eu-west-1", "eu-west-1", true},
		{"eu-central-1", "us-east-1", false},
		{"us-east-1", "me-central-1", false},
		{"eu-west-2", "eu-west-2", false}, // not in the policy at all
		{"eu-west-1", "eu-west-2", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := p.SameZone(tt.a, tt.b); got != tt.want {
				t.Errorf("SameZone(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, "unexpected EOF"},
		{"empty", ``, "EOF"},
		{"unknown field", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"]}},"extra":1}`, "unknown field"},
		{"trailing", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"]}}} {}`, "trailing data"},
		{"no version", `{"zones":{"eu":{"regions":["eu-west-1"]}}}`, "missing version"},
		{"no zones", `{"version":"1","zones":{}}`, "no zones"},
		{"empty zone", `{"version":"1","zones":{"eu":{"regions":[],"countries":["DE"]}}}`, `zone "eu" is empty`},
		{"zone without regions field", `{"version":"1","zones":{"eu":{"countries":["DE"]}}}`, `zone "eu" is empty`},
		{"bad zone name", `{"version":"1","zones":{"EU":{"regions":["eu-west-1"]}}}`, `zone name "EU"`},
		{"empty zone name", `{"version":"1","zones":{"":{"regions":["eu-west-1"]}}}`, `zone name ""`},
		{"malformed region", `{"version":"1","zones":{"eu":{"regions":["eu_west_1"]}}}`, `malformed region "eu_west_1"`},
		{"region without number", `{"version":"1","zones":{"eu":{"regions":["eu-west"]}}}`, `malformed region "eu-west"`},
		{"upper-case region", `{"version":"1","zones":{"eu":{"regions":["EU-WEST-1"]}}}`, `malformed region`},
		{"lower-case country", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["de"]}}}`, `"de" is not an ISO 3166-1 alpha-2`},
		{"alpha-3 country", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["DEU"]}}}`, `"DEU" is not`},
		{"unassigned country", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["XX"]}}}`, `"XX" is not`},
		{"country in two zones", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["DE"]},"us":{"regions":["us-east-1"],"countries":["US","DE"]}}}`, `country "DE" is in two zones`},
		{"country twice in one zone", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"],"countries":["DE","DE"]}}}`, `country "DE" is in two zones`},
		{"region in two zones", `{"version":"1","zones":{"eu":{"regions":["eu-west-1"]},"us":{"regions":["us-east-1","eu-west-1"]}}}`, `region "eu-west-1" is in two zones`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.json))
			if err == nil {
				t.Fatalf("Parse accepted %s: %+v", tt.json, p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	p, err := Parse([]byte(`{"version":"7","zones":{"x":{"regions":["us-gov-west-1","ap-southeast-10"]}}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.Version() != "7" || !p.SameZone("us-gov-west-1", "ap-southeast-10") {
		t.Errorf("unexpected policy %+v", p)
	}
}
