package triggers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/residency"
)

// Config is the configuration every trigger function reads from the
// environment (the contract in docs/residency.md: AWS_REGION,
// RESIDENCY_TABLE, REGISTRY_REGION, PII_KEY_ID; LOG_LEVEL is the logger's).
type Config struct {
	Region         string // AWS_REGION: this pool's region
	Table          string // RESIDENCY_TABLE: the registry global table's name
	RegistryRegion string // REGISTRY_REGION: where claims are written
	PIIKeyID       string // PII_KEY_ID: KMS multi-Region HMAC key id, ARN or alias
}

// ParseEnv reads Config through getenv and is the one home of its rules:
// names through awsname, and AWS_REGION in a zone of the residency policy
// compiled into the binary. The error names the first missing or malformed
// variable.
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
	return e, nil
}
