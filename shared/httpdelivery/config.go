package httpdelivery

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/homeregion/homeregion/shared/envvar"
)

// The defaults and bounds of Config's tunables: the one home of the
// delivery's limits, applied by ParseEnv and by New.
const (
	DefaultTimeout = 10 * time.Second
	MinTimeout     = 100 * time.Millisecond
	MaxTimeout     = 5 * time.Minute

	DefaultAttempts = 5
	MaxAttempts     = 20

	DefaultBackoff = 200 * time.Millisecond
	MinBackoff     = 10 * time.Millisecond
	MaxBackoff     = time.Minute

	// MaxRetryDelay caps the doubling retry delay (unless Backoff itself is
	// longer) and is the longest Retry-After that is honoured.
	MaxRetryDelay = 30 * time.Second
)

// Config is the HTTP delivery's configuration. A zero tunable takes its
// default (New).
type Config struct {
	// URL is the endpoint every order is POSTed to: an absolute http:// or
	// https:// URL with a host. Its userinfo, if any, is sent as HTTP Basic
	// authentication and never appears in errors or logs.
	URL string
	// Timeout bounds one attempt: connecting, sending, the answer and
	// reading (up to 64 KiB of) its body.
	Timeout time.Duration
	// Attempts is how many attempts one Deliver call makes at most.
	Attempts int
	// Backoff is the delay before the first retry; it doubles per retry up
	// to MaxRetryDelay, each delay drawn between half and all of it.
	Backoff time.Duration
}

// The rules of the tunables.
var (
	attemptsRule = envvar.Int{Env: "DELIVERY_ATTEMPTS", What: "attempts", Min: 1, Max: MaxAttempts}
	timeoutBound = envvar.Duration{Env: "DELIVERY_TIMEOUT", What: "timeout", Min: MinTimeout, Max: MaxTimeout}
	backoffBound = envvar.Duration{Env: "DELIVERY_BACKOFF", What: "backoff", Min: MinBackoff, Max: MaxBackoff}
)

// durations pairs each duration field of c with its bound.
func (c *Config) durations() []envvar.DurationField {
	return []envvar.DurationField{
		{Rule: timeoutBound, Dst: &c.Timeout},
		{Rule: backoffBound, Dst: &c.Backoff},
	}
}

// errURL is the endpoint rule. It never carries the value: a URL that does
// not parse cannot be stripped of its password.
var errURL = errors.New("want an absolute http:// or https:// URL with a host")

// parseURL checks s against the endpoint rule.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errURL
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" || u.Fragment != "" {
		return u, errURL
	}
	return u, nil
}

// redact is u without its userinfo, and with its query and fragment hidden
// (they may hold a token): the only form of the endpoint that errors and
// logs show. An opaque URL ("user:password@host") shows nothing.
func redact(u *url.URL) string {
	if u.Opaque != "" {
		return ""
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if u.RawQuery != "" || u.ForceQuery {
		r.RawQuery = "..."
	}
	if u.Fragment != "" {
		r.Fragment = "..."
	}
	return r.String()
}

// urlError is the endpoint rule's error for s, named by prefix: the value
// is shown only when it parses as a hierarchical URL, and then redacted.
func urlError(prefix, s string) error {
	u, err := parseURL(s)
	if u == nil || redact(u) == "" {
		return fmt.Errorf("%s is not a URL: %w", prefix, errURL)
	}
	return fmt.Errorf("%s %q: %w", prefix, redact(u), err)
}

// validate checks c's rules; a zero tunable takes its default (New).
func (c Config) validate() error {
	if c.URL == "" {
		return errors.New("no delivery URL")
	}
	if _, err := parseURL(c.URL); err != nil {
		return urlError("delivery URL", c.URL)
	}
	if c.Attempts < 0 || c.Attempts > MaxAttempts {
		return fmt.Errorf("attempts %d: %w", c.Attempts, attemptsRule.Check(c.Attempts))
	}
	return envvar.CheckDurations(c.durations())
}

// withDefaults fills in c's zero tunables.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	return c
}

// tunables are the variables that mean nothing without DELIVERY_URL.
var tunables = []string{timeoutBound.Env, attemptsRule.Env, backoffBound.Env}

// ParseEnv reads the HTTP delivery's Config through getenv. The bool
// reports whether delivery is enabled: DELIVERY_URL is set. DELIVERY_TIMEOUT
// (per attempt), DELIVERY_ATTEMPTS and DELIVERY_BACKOFF (the first retry
// delay) are optional: unset takes the default, filled in; a set value must
// be in bounds, and setting one without DELIVERY_URL is an error (a
// misspelt URL variable would otherwise disable delivery silently). The
// error names the first malformed variable and never shows a URL's
// userinfo.
func ParseEnv(getenv func(string) string) (Config, bool, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{URL: get("DELIVERY_URL")}
	if c.URL == "" {
		for _, k := range tunables {
			if get(k) != "" {
				return Config{}, false, fmt.Errorf("%s is set but DELIVERY_URL is not", k)
			}
		}
		return Config{}, false, nil
	}
	if _, err := parseURL(c.URL); err != nil {
		return Config{}, false, urlError("DELIVERY_URL", c.URL)
	}
	if err := attemptsRule.Read(getenv, &c.Attempts); err != nil {
		return Config{}, false, err
	}
	if err := envvar.ReadDurations(getenv, c.durations()); err != nil {
		return Config{}, false, err
	}
	return c.withDefaults(), true, nil
}

// LogValue logs c with its URL's userinfo removed, so a startup line may
// log the whole Config.
func (c Config) LogValue() slog.Value {
	endpoint := ""
	if u, err := url.Parse(c.URL); err == nil {
		endpoint = redact(u)
	}
	return slog.GroupValue(
		slog.String("url", endpoint),
		slog.String("timeout", c.Timeout.String()),
		slog.Int("attempts", c.Attempts),
		slog.String("backoff", c.Backoff.String()),
	)
}
