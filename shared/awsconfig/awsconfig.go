// Package awsconfig builds the one aws.Config every homeregion binary shares.
//
// On Lambda the credentials are in the environment, so the config is built
// directly from it instead of with config.LoadDefaultConfig: that halves the
// cost the SDK adds to a cold start, and not linking the config package (and
// the STS, SSO and IMDS clients it pulls in) keeps their package init out of
// every cold start and each bootstrap small. Binaries that need another credential
// source (the on-prem processor: ECS Anywhere's container credentials) pass
// one in Options.Credentials.
//
// Endpoints come only from the SDK's standard variables: AWS_ENDPOINT_URL
// becomes the config's BaseEndpoint, and a config source hands
// AWS_ENDPOINT_URL_<SERVICE> to each client's own endpoint resolution, both
// switched off by AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true, exactly as the
// SDK's config package does.
package awsconfig

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/homeregion/homeregion/shared/tracing"
)

// Options bound what one SDK call may cost. The zero value is usable.
type Options struct {
	// MaxAttempts is the total number of attempts per API call (default 3).
	MaxAttempts int
	// MaxBackoff caps the delay between attempts (default 200ms).
	MaxBackoff time.Duration
	// DialTimeout bounds establishing a TCP connection (default 1s).
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds waiting for a response once a request is
	// written (default 2s). Callers still bound whole calls with a context.
	ResponseHeaderTimeout time.Duration
	// Credentials replaces the environment's static credentials
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
	Credentials aws.CredentialsProvider
}

func (o Options) withDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 200 * time.Millisecond
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 2 * time.Second
	}
	return o
}

// ErrNoRegion reports that neither the caller nor AWS_REGION named a region.
var ErrNoRegion = errors.New("awsconfig: no region: set AWS_REGION")

// ErrNoCredentials reports that the environment holds no credentials and the
// caller passed none.
var ErrNoCredentials = errors.New("awsconfig: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or pass Options.Credentials")

// Load returns the shared aws.Config for region (AWS_REGION when empty), with
// bounded retries and timeouts and X-Ray instrumentation added in one place
// (tracing.Instrument; a malformed AWS_XRAY_DAEMON_ADDRESS where tracing is
// on is an error). Every variable it reads (AWS_REGION, the credentials,
// the endpoint variables, the tracing switches) it reads through getenv:
// os.Getenv in a deployed binary, a composed environment in the local stack
// and in tests. Service clients built from it never load config again.
func Load(ctx context.Context, region string, getenv func(string) string, opts Options) (aws.Config, error) {
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		return aws.Config{}, ErrNoRegion
	}
	opts = opts.withDefaults()
	ep, err := readEndpoints(getenv)
	if err != nil {
		return aws.Config{}, err
	}
	creds := opts.Credentials
	if creds == nil {
		id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return aws.Config{}, ErrNoCredentials
		}
		creds = credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   aws.NewCredentialsCache(creds),
		ConfigSources: []interface{}{ep},
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = opts.MaxAttempts
				o.MaxBackoff = opts.MaxBackoff
				o.Retryables = append(o.Retryables, retryableConflict)
			})
		},
		HTTPClient: awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = opts.DialTimeout }).
			WithTransportOptions(func(t *http.Transport) {
				t.ResponseHeaderTimeout = opts.ResponseHeaderTimeout
				t.MaxIdleConnsPerHost = 64
			}),
	}
	if ep.base != "" && !ep.ignore {
		cfg.BaseEndpoint = aws.String(ep.base)
	}
	if err := tracing.Instrument(&cfg, getenv); err != nil {
		return aws.Config{}, err
	}
	return cfg, nil
}

// ForRegion returns a copy of cfg that talks to region: the same credentials,
// retries, HTTP client and instrumentation, used for cross-region calls such as
// the registry region's claims.
func ForRegion(cfg aws.Config, region string) aws.Config {
	c := cfg.Copy()
	c.Region = region
	return c
}

// retryableConflict retries DynamoDB's ReplicatedWriteConflictException: a
// multi-Region strongly consistent table (a zone pair's orders table)
// rejects a write with it while the item is being modified by a request in
// another region. The standard retryer does not know the code; a retried
// conditional write is judged on the item as it then is, so two regions
// posting one Idempotency-Key get one order and a 409 or a replay, not a
// 503.
var retryableConflict = retry.RetryableErrorCode{Codes: map[string]struct{}{"ReplicatedWriteConflictException": {}}}
