package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/homeregion/homeregion/shared/awsclient/dynamodbops"
	"github.com/homeregion/homeregion/shared/awsclient/kmsops"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/lambdamain"
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

// Deps are the dependencies the three triggers share, built once per
// process (NewFromAWS; tests build them from fakes).
type Deps struct {
	Policy   *residency.Policy // the residency policy; the region must be in one of its zones
	Keys     Keyer             // computes identity keys (*identity.Keys)
	Registry Registry          // the residency registry (*registry.Registry)
}

// base is what every trigger handler holds, built once at cold start.
type base struct {
	trigger     string            // the trigger as its log records name it
	region      string            // this user pool's region (AWS_REGION)
	pools       Config            // maps an event's userPoolId to its home region (Config.PoolHome)
	zone        string            // region's residency zone
	policy      *residency.Policy // the residency policy
	keys        Keyer             // computes identity keys
	log         *slog.Logger      // one record per invocation
	unavailable string            // the message shown for a failure that is not the user's doing

	// Budget bounds an invocation (DefaultBudget when zero).
	Budget time.Duration
}

// newBase checks d (a missing dependency, or c.Region in no zone of the
// residency policy, is an error: it fails the cold start, never an
// invocation) and returns the parts every handler holds; log nil means
// slog.Default(). name is the function's name, for the error.
func newBase(name, trigger string, c Config, d Deps, log *slog.Logger, unavailable string) (base, error) {
	var err error
	switch {
	case d.Policy == nil:
		err = errors.New("no residency policy")
	case d.Keys == nil:
		err = errors.New("no identity keys")
	case d.Registry == nil:
		err = errors.New("no registry")
	}
	if err != nil {
		return base{}, fmt.Errorf("%s: %w", name, err)
	}
	zone, ok := d.Policy.ZoneOfRegion(c.Region)
	if !ok {
		return base{}, fmt.Errorf("%s: region %q is in no residency zone of policy %s", name, c.Region, d.Policy.Version())
	}
	return base{trigger: trigger, region: c.Region, pools: c, zone: zone, policy: d.Policy, keys: d.Keys, log: logger(log), unavailable: unavailable}, nil
}

// UnknownPool is the refusal shown for an event of a user pool this region
// does not serve (neither its own nor its partner's): a misconfiguration,
// never the user's doing.
const UnknownPool = "This user pool is not served in this region. Please contact support"

// poolHome returns the home region whose users the event's pool holds here
// (Config.PoolHome) and records it in inv; a pool this region does not serve
// is refused (fail closed). The log names the pool (its id is no personal
// data), never the user.
func (b *base) poolHome(inv *invocation) (string, error) {
	home, ok := b.pools.PoolHome(inv.pool)
	if !ok {
		return "", refuse("unknown_pool", UnknownPool)
	}
	inv.poolHome = home
	return home, nil
}

// run is the frame of every invocation: the budget, decide, then finish (the
// one boundary that logs the outcome and maps an error to what Cognito shows).
func (b *base) run(ctx context.Context, inv invocation, decide func(context.Context, *invocation) error) error {
	inv.trigger, inv.region, inv.start = b.trigger, b.region, time.Now()
	ctx, cancel := context.WithTimeout(ctx, budget(b.Budget))
	defer cancel()
	err := decide(ctx, &inv)
	return finish(ctx, b.log, inv, err, b.unavailable)
}

// NewFromAWS builds the SDK clients from awscfg (its Region is c.Region;
// awsconfig.Load: one config, instrumented in one place) and the registry
// and key adapters around them. It makes no network call: the cold start
// stays close to a hello-world bootstrap's. The identity key K is derived by
// the first invocation (one KMS GenerateMac, inside that invocation's
// budget) and kept for the life of the process; a failed derivation denies
// that invocation and is retried by the next one.
func NewFromAWS(c Config, awscfg aws.Config, log *slog.Logger) (Deps, error) {
	p, err := residency.Default()
	if err != nil {
		return Deps{}, err
	}
	// dynamodbops binds only the operations used (see package awsclient: an SDK
	// client held in an interface keeps all of its operations in the binary).
	localClient, homeClient := registry.Clients(awscfg, c.RegistryRegion)
	local := dynamodbops.NewItemReadWriter(localClient)
	home := local
	if homeClient != localClient {
		home = dynamodbops.NewItemReadWriter(homeClient)
	}
	d := Deps{
		Policy:   p,
		Keys:     identity.New(kmsops.New(kms.NewFromConfig(awscfg)), c.PIIKeyID),
		Registry: registry.New(c.Table, awscfg.Region, c.RegistryRegion, local, home, p.Version()),
	}
	logger(log).Debug("residency dependencies built",
		slog.String("region", awscfg.Region), slog.String("registryRegion", c.RegistryRegion),
		slog.String("policyVersion", p.Version()))
	return d, nil
}

// Setup is the cold start of the trigger function name for
// lambdamain.Start: Build with newHandler (NewPreSignUp, NewPostConfirmation
// or NewPreAuth), from the environment getenv reads.
func Setup[T lambda.Handler](name string, newHandler func(Config, Deps, *slog.Logger) (T, error)) lambdamain.Setup {
	return func(ctx context.Context, getenv func(string) string, log *slog.Logger) (any, error) {
		h, err := Build(ctx, name, getenv, log, newHandler)
		if err != nil {
			return nil, err
		}
		// T's Invoke decodes the event with clear errors for malformed payloads.
		return h, nil
	}
}

// Build is a trigger function's whole cold start, in the shape every
// function shares: ParseEnv, awsconfig.Load (bounded by SDKOptions), NewFromAWS,
// then newHandler (NewPreSignUp, NewPostConfirmation or NewPreAuth). It
// makes no network call. An error names the function and the variable or
// part at fault.
func Build[T any](ctx context.Context, name string, getenv func(string) string, log *slog.Logger, newHandler func(Config, Deps, *slog.Logger) (T, error)) (T, error) {
	var zero T
	c, err := ParseEnv(getenv)
	if err != nil {
		return zero, fmt.Errorf("%s configuration: %w", name, err)
	}
	awscfg, err := awsconfig.Load(ctx, c.Region, getenv, SDKOptions)
	if err != nil {
		return zero, fmt.Errorf("%s configuration: %w", name, err)
	}
	d, err := NewFromAWS(c, awscfg, log)
	if err != nil {
		return zero, fmt.Errorf("%s configuration: %w", name, err)
	}
	return newHandler(c, d, log)
}
