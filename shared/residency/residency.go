// Package residency is homeregion's residency policy: which residency zone
// serves a country, and which AWS regions make up a zone.
//
// The policy is a reviewed, versioned JSON file compiled into every binary
// (policy.json, go:embed) and validated when it is loaded: every zone has at
// least one region, regions are well-formed AWS region names, countries are
// assigned ISO 3166-1 alpha-2 codes, and no country or region belongs to two
// zones. Traffic, processing and sign-ups never leave a zone.
//
// The shipped default has three zones: eu (every commercial AWS region
// physically inside the EU/EEA; London and Zurich are outside it and are not
// listed), us and me (the Gulf).
package residency

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/iso3166"
)

//go:embed policy.json
var defaultPolicy []byte

// Policy is a validated residency policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	version       string
	zoneOfRegion  map[string]string
	zoneOfCountry map[string]string
	regions       map[string][]string // zone -> regions, in file order
}

// file is the JSON layout of a policy file.
type file struct {
	Version string          `json:"version"`
	Comment string          `json:"comment,omitempty"`
	Zones   map[string]zone `json:"zones"`
}

type zone struct {
	Regions   []string `json:"regions"`
	Countries []string `json:"countries"`
}

// ErrInvalid is wrapped by every validation error Parse returns.
var ErrInvalid = errors.New("invalid residency policy")

// validZoneName reports whether s matches ^[a-z][a-z0-9-]{0,31}$.
func validZoneName(s string) bool {
	if len(s) == 0 || len(s) > 32 || !lower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !lower(c) && !digit(c) && c != '-' {
			return false
		}
	}
	return true
}

func lower(c byte) bool { return 'a' <= c && c <= 'z' }
func digit(c byte) bool { return '0' <= c && c <= '9' }

var (
	defaultOnce sync.Once
	defaultPol  *Policy
	defaultErr  error
)

// Default returns the embedded policy, parsed and validated once per process.
func Default() (*Policy, error) {
	defaultOnce.Do(func() { defaultPol, defaultErr = Parse(defaultPolicy) })
	return defaultPol, defaultErr
}

// Parse parses and validates a policy file. Unknown fields are rejected so a
// typo cannot silently drop a rule.
func Parse(data []byte) (*Policy, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the policy object", ErrInvalid)
	}
	if f.Version == "" {
		return nil, fmt.Errorf("%w: missing version", ErrInvalid)
	}
	if len(f.Zones) == 0 {
		return nil, fmt.Errorf("%w: no zones", ErrInvalid)
	}
	p := &Policy{
		version:       f.Version,
		zoneOfRegion:  make(map[string]string),
		zoneOfCountry: make(map[string]string),
		regions:       make(map[string][]string, len(f.Zones)),
	}
	names := make([]string, 0, len(f.Zones))
	for name := range f.Zones {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic error messages
	for _, name := range names {
		z := f.Zones[name]
		if !validZoneName(name) {
			return nil, fmt.Errorf("%w: zone name %q: want lower-case letters, digits and '-'", ErrInvalid, name)
		}
		if len(z.Regions) == 0 {
			return nil, fmt.Errorf("%w: zone %q is empty: it has no regions", ErrInvalid, name)
		}
		for _, r := range z.Regions {
			if !awsname.Region(r) {
				return nil, fmt.Errorf("%w: zone %q: malformed region %q", ErrInvalid, name, r)
			}
			if other, dup := p.zoneOfRegion[r]; dup {
				return nil, fmt.Errorf("%w: region %q is in two zones (%q and %q)", ErrInvalid, r, other, name)
			}
			p.zoneOfRegion[r] = name
		}
		for _, c := range z.Countries {
			if !iso3166.Assigned(c) {
				return nil, fmt.Errorf("%w: zone %q: %q is not an ISO 3166-1 alpha-2 country code", ErrInvalid, name, c)
			}
			if other, dup := p.zoneOfCountry[c]; dup {
				return nil, fmt.Errorf("%w: country %q is in two zones (%q and %q)", ErrInvalid, c, other, name)
			}
			p.zoneOfCountry[c] = name
		}
		p.regions[name] = append([]string(nil), z.Regions...)
	}
	return p, nil
}

// Version is the policy file's version string; the registry records it with
// every claim.
func (p *Policy) Version() string { return p.version }

// ZoneOfRegion returns the zone region belongs to.
func (p *Policy) ZoneOfRegion(region string) (zone string, ok bool) {
	zone, ok = p.zoneOfRegion[region]
	return zone, ok
}

// ZoneOfCountry returns the zone that serves country cc (ISO 3166-1 alpha-2,
// upper-case).
func (p *Policy) ZoneOfCountry(cc string) (zone string, ok bool) {
	zone, ok = p.zoneOfCountry[cc]
	return zone, ok
}

// SameZone reports whether regions a and b are both in the policy and in the
// same zone.
func (p *Policy) SameZone(a, b string) bool {
	za, ok := p.zoneOfRegion[a]
	if !ok {
		return false
	}
	zb, ok := p.zoneOfRegion[b]
	return ok && za == zb
}

// RegionsOf returns a copy of zone's regions in policy-file order (the first
// one is the zone's preferred region), or nil for an unknown zone.
func (p *Policy) RegionsOf(zone string) []string {
	rs, ok := p.regions[zone]
	if !ok {
		return nil
	}
	return append([]string(nil), rs...)
}

// Zones returns the zone names, sorted.
func (p *Policy) Zones() []string {
	zs := make([]string, 0, len(p.regions))
	for z := range p.regions {
		zs = append(zs, z)
	}
	sort.Strings(zs)
	return zs
}
