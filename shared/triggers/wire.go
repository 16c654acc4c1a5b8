package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/homeregion/homeregion/shared/awsclient/dynamodbops"
	"github.com/homeregion/homeregion/shared/awsclient/kmsops"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/identity"
	"github.com/homeregion/homeregion/shared/logging"
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

// Deps are the dependencies both handlers share, built once per process.
type Deps struct {
	Policy   *residency.Policy
	Keys     *identity.Keys
	Registry *registry.Registry
}

// NewDeps builds the SDK clients from cfg (its Region is e.Region) and the
// registry and key adapters around them. It makes no network call: the cold
// start stays close to a hello-world bootstrap's. The identity key K is
// derived by the first invocation (one KMS GenerateMac, inside that
// invocation's budget) and kept for the life of the process; a failed
// derivation denies that invocation and is retried by the next one.
func NewDeps(ctx context.Context, cfg aws.Config, e Env, log *slog.Logger) (Deps, error) {
	p, err := residency.Default()
	if err != nil {
		return Deps{}, err
	}
	// dynamodbops binds only the operations used (see package awsclient: an SDK
	// client held in an interface keeps all of its operations in the binary).
	local := dynamodbops.New(dynamodb.NewFromConfig(cfg))
	home := local
	if e.RegistryRegion != cfg.Region {
		home = dynamodbops.New(dynamodb.NewFromConfig(awsconfig.ForRegion(cfg, e.RegistryRegion)))
	}
	d := Deps{
		Policy:   p,
		Keys:     identity.New(kmsops.New(kms.NewFromConfig(cfg)), e.PIIKeyID),
		Registry: registry.New(e.Table, cfg.Region, e.RegistryRegion, local, home, p.Version()),
	}
	log.DebugContext(ctx, "residency dependencies built",
		slog.String("region", cfg.Region), slog.String("registryRegion", e.RegistryRegion),
		slog.String("policyVersion", p.Version()))
	return d, nil
}

// Setup is the cold start the trigger functions share: the configuration
// read once through getenv (ParseEnv, the functions' testable loadConfig),
// one aws.Config bounded by SDKOptions (credentials and endpoints from the
// process environment, as on Lambda), then NewDeps. It makes no network call.
func Setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (Env, Deps, error) {
	e, err := ParseEnv(getenv)
	if err != nil {
		return Env{}, Deps{}, err
	}
	cfg, err := awsconfig.Load(ctx, e.Region, getenv, SDKOptions)
	if err != nil {
		return Env{}, Deps{}, err
	}
	d, err := NewDeps(ctx, cfg, e, log)
	if err != nil {
		return Env{}, Deps{}, err
	}
	return e, d, nil
}

// Trigger is a trigger handler as the Lambda runtime (lambda.Start) and the
// local stack (lambda.NewHandler) take it, with its cold-start check.
type Trigger interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
	Check() error
}

// Main is a trigger function's whole main: JSON logs at LOG_LEVEL, the cold
// start (Build) from the process environment, then the Lambda runtime. A
// cold start that fails logs one line naming the variable or part at fault
// and exits 1; it never reaches an invocation.
func Main[T Trigger](name string, newHandler func(Env, Deps, *slog.Logger) T) {
	log := logging.New(os.Stdout, os.Getenv("LOG_LEVEL"))
	slog.SetDefault(log)
	h, err := Build(context.Background(), name, os.Getenv, log, newHandler)
	if err != nil {
		log.Error("cold start failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	// T's Invoke decodes the event with clear errors for malformed payloads.
	lambda.Start(h)
}

// Build is a trigger function's whole cold start: Setup, then newHandler
// (NewPreSignUp, NewPostConfirmation or NewPreAuth), then its Check. An error
// names the function and the variable or part at fault.
func Build[T Trigger](ctx context.Context, name string, getenv func(string) string, log *slog.Logger, newHandler func(Env, Deps, *slog.Logger) T) (T, error) {
	var zero T
	e, d, err := Setup(ctx, getenv, log)
	if err != nil {
		return zero, fmt.Errorf("%s configuration: %w", name, err)
	}
	h := newHandler(e, d, log)
	if err := h.Check(); err != nil {
		return zero, fmt.Errorf("%s: %w", name, err)
	}
	return h, nil
}

// NewPreSignUp returns the PreSignUp handler for e's region over d.
func NewPreSignUp(e Env, d Deps, log *slog.Logger) *PreSignUp {
	return &PreSignUp{Region: e.Region, Policy: d.Policy, Keys: d.Keys, Registry: d.Registry, Log: log}
}

// NewPostConfirmation returns the PostConfirmation handler for e's region over d.
func NewPostConfirmation(e Env, d Deps, log *slog.Logger) *PostConfirmation {
	return &PostConfirmation{Region: e.Region, Policy: d.Policy, Keys: d.Keys, Registry: d.Registry, Log: log}
}

// NewPreAuth returns the PreAuthentication handler for e's region over d.
func NewPreAuth(e Env, d Deps, log *slog.Logger) *PreAuth {
	return &PreAuth{Region: e.Region, Policy: d.Policy, Keys: d.Keys, Registry: d.Registry, Log: log}
}
