package triggers

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/registry"
	"github.com/homeregion/homeregion/shared/residency"
)

// SDKOptions bound one SDK call so that, retries included, an invocation
// stays inside DefaultBudget: three attempts of at most 1 s each waiting for
// response headers, plus at most 2 × 200 ms of backoff.
var SDKOptions = awsconfig.Options{
	MaxAttempts:           3,
	MaxBackoff:            200 * time.Millisecond,
	DialTimeout:           500 * time.Millisecond,
	ResponseHeaderTimeout: time.Second,
}

// WarmTimeout bounds the KMS key derivation during a cold start.
const WarmTimeout = 3 * time.Second

// Deps are the dependencies both handlers share, built once per process.
type Deps struct {
	Policy   *residency.Policy
	Keys     *identity.Keys
	Registry *registry.Registry
}

// NewDeps builds the SDK clients from cfg (its Region is e.Region) and the
// registry and key adapters around them, then derives the identity key K so
// the first invocation makes no KMS call. A failed derivation is logged, not
// fatal: the first invocation retries it within its budget.
func NewDeps(ctx context.Context, cfg aws.Config, e Env, log *slog.Logger) (Deps, error) {
	p, err := residency.Default()
	if err != nil {
		return Deps{}, err
	}
	local := dynamodb.NewFromConfig(cfg)
	home := local
	if e.RegistryRegion != cfg.Region {
		home = dynamodb.NewFromConfig(awsconfig.ForRegion(cfg, e.RegistryRegion))
	}
	d := Deps{
		Policy:   p,
		Keys:     identity.New(kms.NewFromConfig(cfg), e.PIIKeyID),
		Registry: registry.New(e.Table, cfg.Region, e.RegistryRegion, local, home, p.Version()),
	}
	wctx, cancel := context.WithTimeout(ctx, WarmTimeout)
	defer cancel()
	if err := d.Keys.Warm(wctx); err != nil {
		log.WarnContext(ctx, "identity key not derived at cold start; retrying on first use", slog.String("error", err.Error()))
	}
	return d, nil
}
