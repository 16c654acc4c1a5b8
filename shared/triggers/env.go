package triggers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/residency"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// EnvPairUserPoolID is the variable naming the partner's user pool, whose
// replica in this region invokes this region's triggers.
const EnvPairUserPoolID = "PAIR_USER_POOL_ID"

// Config is the configuration every trigger function reads from the
// environment (the contract in docs/residency.md: AWS_REGION,
// RESIDENCY_TABLE, REGISTRY_REGION, PII_KEY_ID; in a zone pair also
// PAIR_REGION and PAIR_USER_POOL_ID; LOG_LEVEL is the logger's).
type Config struct {
	Region         string // AWS_REGION: this pool's region
	Table          string // RESIDENCY_TABLE: the registry global table's name
	RegistryRegion string // REGISTRY_REGION: where claims are written
	PIIKeyID       string // PII_KEY_ID: KMS multi-Region HMAC key id, ARN or alias

	// PairRegion is PAIR_REGION: this region's zone-pair partner, "" without
	// a pair ("none" is read as "").
	PairRegion string
	// PairUserPoolID is PAIR_USER_POOL_ID: the partner's user pool (its id
	// names PairRegion), whose replica here invokes these triggers; "" without
	// a pair.
	PairUserPoolID string
}

// ParseEnv reads Config through getenv and is the one home of its rules:
// names through awsname, AWS_REGION in a zone of the residency policy
// compiled into the binary, and a zone pair as zonepair.FromEnv accepts it
// with PAIR_USER_POOL_ID set exactly when PAIR_REGION is and naming it (a
// Cognito pool id starts with its primary region, which a replica keeps).
// The error names the first missing or malformed variable.
func ParseEnv(getenv func(string) string) (Config, error) {
	e := Config{
		Region:         strings.TrimSpace(getenv("AWS_REGION")),
		Table:          strings.TrimSpace(getenv("RESIDENCY_TABLE")),
		RegistryRegion: strings.TrimSpace(getenv("REGISTRY_REGION")),
		PIIKeyID:       strings.TrimSpace(getenv("PII_KEY_ID")),
	}
	for _, v := range []struct{ name, val string }{
		{"AWS_REGION", e.Region},
		{"RESIDENCY_TABLE", e.Table},
		{"REGISTRY_REGION", e.RegistryRegion},
		{"PII_KEY_ID", e.PIIKeyID},
	} {
		if v.val == "" {
			return Config{}, fmt.Errorf("%s is not set", v.name)
		}
	}
	switch {
	case !awsname.Region(e.Region):
		return Config{}, fmt.Errorf("AWS_REGION %q is not an AWS region name", e.Region)
	case !awsname.Region(e.RegistryRegion):
		return Config{}, fmt.Errorf("REGISTRY_REGION %q is not an AWS region name", e.RegistryRegion)
	case !awsname.Table(e.Table):
		return Config{}, fmt.Errorf("RESIDENCY_TABLE %q is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)", e.Table)
	case strings.ContainsAny(e.PIIKeyID, " \t\r\n"):
		return Config{}, errors.New("PII_KEY_ID contains white space: want a KMS key id, ARN or alias")
	}
	p, err := residency.Default()
	if err != nil {
		return Config{}, fmt.Errorf("residency policy: %w", err)
	}
	if _, ok := p.ZoneOfRegion(e.Region); !ok {
		return Config{}, fmt.Errorf("AWS_REGION %q is in no residency zone of policy %s", e.Region, p.Version())
	}
	pair, err := zonepair.FromEnv(getenv, e.Region)
	if err != nil {
		return Config{}, err
	}
	e.PairRegion = pair.Partner
	e.PairUserPoolID = strings.TrimSpace(getenv(EnvPairUserPoolID))
	switch poolRegion, ok := zonepair.PoolRegion(e.PairUserPoolID); {
	case !pair.Paired() && e.PairUserPoolID != "":
		return Config{}, fmt.Errorf("%s is set but %s is not: set both or neither", EnvPairUserPoolID, zonepair.EnvPartner)
	case !pair.Paired():
	case e.PairUserPoolID == "":
		return Config{}, fmt.Errorf("%s is not set: %s %q needs the partner's user pool id", EnvPairUserPoolID, zonepair.EnvPartner, e.PairRegion)
	case !ok || !poolIDSuffix(e.PairUserPoolID):
		return Config{}, fmt.Errorf("%s %q is not a Cognito user pool id (<region>_<letters and digits>)", EnvPairUserPoolID, e.PairUserPoolID)
	case poolRegion != e.PairRegion:
		return Config{}, fmt.Errorf("%s %q is a pool of %s, not of %s %s", EnvPairUserPoolID, e.PairUserPoolID, poolRegion, zonepair.EnvPartner, e.PairRegion)
	}
	return e, nil
}

// poolIDSuffix reports whether the part of a pool id after "<region>_" is
// what Cognito makes it: letters and digits only.
func poolIDSuffix(id string) bool {
	_, rest, _ := strings.Cut(id, "_")
	for _, c := range []byte(rest) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return rest != ""
}
