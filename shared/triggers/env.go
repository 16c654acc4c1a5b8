package triggers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/homeregion/homeregion/shared/awsname"
)

// Env is the configuration every trigger binary reads from the environment
// (the contract in docs/residency.md: AWS_REGION, RESIDENCY_TABLE, REGISTRY_REGION,
// PII_KEY_ID, LOG_LEVEL).
type Env struct {
	Region         string // AWS_REGION: this pool's region
	Table          string // RESIDENCY_TABLE: the registry global table's name
	RegistryRegion string // REGISTRY_REGION: where claims are written
	PIIKeyID       string // PII_KEY_ID: KMS multi-Region HMAC key id, ARN or alias
	LogLevel       string // LOG_LEVEL (optional)
}

// ParseEnv reads Env through getenv and reports the first missing or
// malformed variable by name. It does not check that AWS_REGION is in the
// residency policy: the handlers' Check does.
func ParseEnv(getenv func(string) string) (Env, error) {
	e := Env{
		Region:         strings.TrimSpace(getenv("AWS_REGION")),
		Table:          strings.TrimSpace(getenv("RESIDENCY_TABLE")),
		RegistryRegion: strings.TrimSpace(getenv("REGISTRY_REGION")),
		PIIKeyID:       strings.TrimSpace(getenv("PII_KEY_ID")),
		LogLevel:       getenv("LOG_LEVEL"),
	}
	for _, v := range []struct{ name, val string }{
		{"AWS_REGION", e.Region},
		{"RESIDENCY_TABLE", e.Table},
		{"REGISTRY_REGION", e.RegistryRegion},
		{"PII_KEY_ID", e.PIIKeyID},
	} {
		if v.val == "" {
			return Env{}, fmt.Errorf("%s is not set", v.name)
		}
	}
	switch {
	case !awsname.Region(e.Region):
		return Env{}, fmt.Errorf("AWS_REGION %q is not an AWS region name", e.Region)
	case !awsname.Region(e.RegistryRegion):
		return Env{}, fmt.Errorf("REGISTRY_REGION %q is not an AWS region name", e.RegistryRegion)
	case !awsname.Table(e.Table):
		return Env{}, fmt.Errorf("RESIDENCY_TABLE %q is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)", e.Table)
	case strings.ContainsAny(e.PIIKeyID, " \t\r\n"):
		return Env{}, errors.New("PII_KEY_ID contains white space: want a KMS key id, ARN or alias")
	}
	return e, nil
}
