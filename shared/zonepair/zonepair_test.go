package zonepair

import (
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/residency"
)

func TestParse(t *testing.T) {
	policy, err := residency.Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		region, partner string
		want            Pair
		err             string
	}{
		{"eu-west-1", "", Pair{Region: "eu-west-1"}, ""},
		{"", "eu-central-1", Pair{}, "needs AWS_REGION"},
		{"", "none", Pair{}, ""},
		{"eu-west-1", "none", Pair{Region: "eu-west-1"}, ""},
		{"eu-west-1", "eu-central-1", Pair{"eu-west-1", "eu-central-1", "eu-west-3"}, ""},
		{"eu-central-1", "eu-west-1", Pair{"eu-central-1", "eu-west-1", "eu-west-3"}, ""},
		{"us-east-1", "us-west-2", Pair{"us-east-1", "us-west-2", "us-east-2"}, ""},
		{"eu-west-1", "us-east-1", Pair{}, "not in the residency zone"},
		{"eu-west-1", "eu-west-1", Pair{}, "is this region"},
		{"eu-west-1", "EU-WEST-3", Pair{}, "not an AWS region name"},
		{"us-east-1", "us-west-1", Pair{}, "region set"},     // us-west-1 has no MRSC set
		{"eu-west-1", "eu-north-1", Pair{}, "region set"},    // same zone, not one set
		{"me-central-1", "me-south-1", Pair{}, "region set"}, // zone me: no MRSC set
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.partner, func(t *testing.T) {
			got, err := Parse(policy, tt.region, tt.partner)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestServes(t *testing.T) {
	pair := Pair{Region: "eu-central-1", Partner: "eu-west-1"}
	alone := Pair{Region: "eu-central-1"}
	for _, tt := range []struct {
		p    Pair
		home string
		want bool
	}{
		{pair, "eu-central-1", true},
		{pair, "eu-west-1", true},
		{pair, "eu-west-3", false},
		{pair, "us-east-1", false},
		{pair, "", false},
		{alone, "eu-central-1", true},
		{alone, "eu-west-1", false},
		{alone, "", false},
	} {
		if got := tt.p.Serves(tt.home); got != tt.want {
			t.Errorf("%+v.Serves(%q) = %t, want %t", tt.p, tt.home, got, tt.want)
		}
	}
}

func TestPoolRegion(t *testing.T) {
	for _, tt := range []struct {
		id, want string
		ok       bool
	}{
		{"eu-west-1_AbC123", "eu-west-1", true},
		{"us-east-1_x", "us-east-1", true},
		{"eu-west-1_", "", false},
		{"AbC123", "", false},
		{"Eu-West-1_AbC", "", false},
		{"", "", false},
	} {
		got, ok := PoolRegion(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PoolRegion(%q) = %q, %t; want %q, %t", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}
