// Package awsconfig builds the one aws.Config every homeregion binary shares.
//
// On Lambda the credentials are in the environment, so the config is built
// directly from it (static credentials, the SDK's EnvConfig as the only config
// source) instead of config.LoadDefaultConfig's full credential chain: that
// halves the cost the SDK adds to a cold start. Elsewhere (the on-prem
// processor, developer machines) the SDK's default chain is used.
//
// Endpoints come only from the SDK's standard variables (AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_<SERVICE>, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS), resolved by
// the SDK itself through the EnvConfig config source.
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
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

// Load returns the shared aws.Config for region (AWS_REGION when empty), with
// bounded retries and timeouts and X-Ray instrumentation added in one place
// (tracing.Instrument). Service clients built from it never load config again.
func Load(ctx context.Context, region string, opts Options) (aws.Config, error) {
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		return aws.Config{}, ErrNoRegion
	}
	opts = opts.withDefaults()
	envCfg, err := config.NewEnvConfig()
	if err != nil {
		return aws.Config{}, fmt.Errorf("awsconfig: read environment: %w", err)
	}
	var cfg aws.Config
	if envCfg.Credentials.HasKeys() {
		cfg = aws.Config{
			Region:        region,
			Credentials:   aws.NewCredentialsCache(credentials.StaticCredentialsProvider{Value: envCfg.Credentials}),
			ConfigSources: []interface{}{envCfg},
		}
		if envCfg.BaseEndpoint != "" && !ignoreEndpoints(envCfg) {
			cfg.BaseEndpoint = aws.String(envCfg.BaseEndpoint)
		}
	} else {
		cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return aws.Config{}, fmt.Errorf("awsconfig: load default config: %w", err)
		}
	}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = opts.MaxAttempts
			o.MaxBackoff = opts.MaxBackoff
		})
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = opts.DialTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = opts.ResponseHeaderTimeout
			t.MaxIdleConnsPerHost = 64
		})
	tracing.Instrument(&cfg)
	return cfg, nil
}

func ignoreEndpoints(c config.EnvConfig) bool {
	return c.IgnoreConfiguredEndpoints != nil && *c.IgnoreConfiguredEndpoints
}

// ForRegion returns a copy of cfg that talks to region: the same credentials,
// retries, HTTP client and instrumentation, used for cross-region calls such as
// the registry region's claims.
func ForRegion(cfg aws.Config, region string) aws.Config {
	c := cfg.Copy()
	c.Region = region
	return c
}
