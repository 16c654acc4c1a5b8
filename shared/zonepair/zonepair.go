// Package zonepair is the one home of the zone-pair rule: which regions serve
// a home region's users.
//
// A zone pair is two regions of one residency zone whose user pools are
// replicated into each other (Amazon Cognito multi-Region replication) and
// which share one orders table (a DynamoDB global table with multi-Region
// strong consistency, MRSC). Each region of a pair serves its own users and
// its partner's, always, and no other region serves either: a token's home
// region (its immutable custom:region) must be this region or its partner.
//
// A pair is valid only when both regions are in one residency zone and in one
// MRSC region set that has a third region of the same zone for the table's
// witness (MRSC needs three members of one set). Both are checked by Parse,
// at every cold start that reads PAIR_REGION, so no configuration can serve a
// user outside their zone.
package zonepair

import (
	"fmt"
	"slices"
	"strings"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/residency"
)

// EnvPartner is the environment variable naming this region's partner.
const EnvPartner = "PAIR_REGION"

// RegionSets are DynamoDB's multi-Region strong consistency region sets: an
// MRSC table's replicas and witness must all be in one set.
var RegionSets = [][]string{
	{"us-east-1", "us-east-2", "us-west-2"},
	{"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"},
	{"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"},
}

// Pair is this region and its partner. The zero Partner means no pair: the
// region serves only its own users.
type Pair struct {
	Region  string // AWS_REGION
	Partner string // PAIR_REGION, or "" without a pair
	Witness string // the pair table's witness region ("" without a pair)
}

// Parse checks partner ("" or "none": no pair) as the partner of region
// under policy and returns the pair. The error names what is wrong.
func Parse(policy *residency.Policy, region, partner string) (Pair, error) {
	partner = strings.TrimSpace(partner)
	if partner == "" || partner == "none" {
		return Pair{Region: region}, nil
	}
	switch {
	case region == "":
		return Pair{}, fmt.Errorf("%s %q needs AWS_REGION, which is not set", EnvPartner, partner)
	case !awsname.Region(partner):
		return Pair{}, fmt.Errorf("%s %q is not an AWS region name", EnvPartner, partner)
	case partner == region:
		return Pair{}, fmt.Errorf("%s %q is this region; a pair needs two regions", EnvPartner, partner)
	case !policy.SameZone(region, partner):
		return Pair{}, fmt.Errorf("%s %q is not in the residency zone of %s", EnvPartner, partner, region)
	}
	w, ok := Witness(policy, region, partner)
	if !ok {
		return Pair{}, fmt.Errorf("%s %q: %s and %s are not in one DynamoDB multi-Region strong consistency region set with a third region of their zone", EnvPartner, partner, region, partner)
	}
	return Pair{Region: region, Partner: partner, Witness: w}, nil
}

// FromEnv reads PAIR_REGION through getenv for region under the compiled-in
// residency policy.
func FromEnv(getenv func(string) string, region string) (Pair, error) {
	policy, err := residency.Default()
	if err != nil {
		return Pair{}, fmt.Errorf("residency policy: %w", err)
	}
	return Parse(policy, region, getenv(EnvPartner))
}

// Witness returns the witness region for a pair of a and b: the first other
// region of their MRSC region set that is in their residency zone.
func Witness(policy *residency.Policy, a, b string) (string, bool) {
	for _, set := range RegionSets {
		if !slices.Contains(set, a) || !slices.Contains(set, b) {
			continue
		}
		for _, w := range set {
			if w != a && w != b && policy.SameZone(a, w) {
				return w, true
			}
		}
	}
	return "", false
}

// Paired reports whether the pair has a partner.
func (p Pair) Paired() bool { return p.Partner != "" }

// Serves reports whether a user whose home region is home may be served
// here: home is this region or its partner.
func (p Pair) Serves(home string) bool {
	return home != "" && (home == p.Region || (p.Partner != "" && home == p.Partner))
}

// Regions returns the regions of the pair: this region first.
func (p Pair) Regions() []string {
	if p.Partner == "" {
		return []string{p.Region}
	}
	return []string{p.Region, p.Partner}
}

// PoolRegion returns the region encoded in a Cognito user pool id
// ("<region>_<id>"): the pool's primary region, which a replica keeps.
func PoolRegion(poolID string) (string, bool) {
	r, rest, ok := strings.Cut(poolID, "_")
	if !ok || rest == "" || !awsname.Region(r) {
		return "", false
	}
	return r, true
}
