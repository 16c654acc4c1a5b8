// Package httpdelivery provides the site's built-in processor.Deliverer for
// adopters in any language: it POSTs each order as JSON (Payload) to a
// local HTTP endpoint of the site, configured by environment variables
// (ParseEnv).
//
// Every request carries the order id as its Idempotency-Key, the same on
// every attempt, redelivery and processor, because delivery is at least
// once: the endpoint de-duplicates by it and answers 2xx only once it has
// durably taken the order. Only a refusal of the order itself, 400, 413,
// 415 or 422, is permanent (processor.Permanent, no retry: the order ends
// FAILED). Every other failure is retried with exponential backoff and
// jitter (Retry-After honoured on 429 and 503): network errors, timeouts,
// 5xx, 408, 409, 425, 429, and also redirects (never followed), 401, 403,
// 404, 405 and any other answer, which a fixed endpoint then takes.
// Neither the request nor the response body is ever logged or returned:
// the order holds a delivery address.
package httpdelivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/processor"
)

// maxDrain bounds how much of a response body is read (and discarded) so
// that its connection can be reused.
const maxDrain = 64 << 10

// Deliverer POSTs orders to the configured endpoint. It is safe for
// concurrent use.
type Deliverer struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
}

var _ processor.Deliverer = (*Deliverer)(nil)

// New returns the Deliverer for cfg (zero tunables take their defaults).
// client sends the requests; nil takes one with direct connections (no
// proxy from HTTP_PROXY: the endpoint is on the site's network) and idle
// connections kept for reuse. Whatever the client, redirects are refused:
// a redirect could carry an order off the site. log receives one line per
// failed attempt; nil discards them.
func New(cfg Config, client *http.Client, log *slog.Logger) (*Deliverer, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("httpdelivery: %w", err)
	}
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Transport = &http.Transport{
			Proxy:                 nil, // never HTTP(S)_PROXY: the endpoint is on the site's network
			DialContext:           (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   100,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{cfg: cfg.withDefaults(), client: &c, log: log}, nil
}

// Deliver POSTs o's Payload until the endpoint answers 2xx (nil), refuses it
// for good (an error marked processor.Permanent), or Config.Attempts
// attempts have failed (an error naming the order, the attempts and the
// last status or cause). It returns ctx's error, wrapped, as soon as ctx
// ends, during an attempt or between two.
func (d *Deliverer) Deliver(ctx context.Context, o orders.Envelope) error {
	id := o.OrderID
	if id == "" || !httpguts.ValidHeaderFieldValue(id) {
		return processor.Permanent(fmt.Errorf("deliver order %q: the order id cannot be an %s", id, HeaderIdempotencyKey))
	}
	body, err := json.Marshal(NewPayload(o))
	if err != nil {
		return processor.Permanent(fmt.Errorf("deliver order %s: encode: %w", id, err))
	}
	log := d.log.With("orderId", id)
	for n := 1; ; n++ {
		r := d.attempt(ctx, n, id, body)
		if r.ok() {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("deliver order %s: attempt %d: %w", id, n, ctx.Err())
		}
		cause := r.cause()
		if r.permanent() {
			log.LogAttrs(ctx, slog.LevelError, "order delivery refused for good (permanent); no retry", r.attrs(n)...)
			return processor.Permanent(fmt.Errorf("deliver order %s: attempt %d: %w", id, n, cause))
		}
		if n >= d.cfg.Attempts {
			log.LogAttrs(ctx, slog.LevelWarn, "order delivery attempt failed; no attempts left", r.attrs(n)...)
			return fmt.Errorf("deliver order %s: %d attempts failed, the last: %w", id, n, cause)
		}
		wait := d.delay(n, r)
		log.LogAttrs(ctx, slog.LevelWarn, "order delivery attempt failed; retrying",
			append(r.attrs(n), slog.String("retryIn", wait.String()))...)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("deliver order %s: waiting to retry after attempt %d: %w", id, n, ctx.Err())
		}
	}
}

// result is one attempt's outcome: a status, or the error that kept it from
// getting one.
type result struct {
	status     int
	retryAfter time.Duration // -1: none usable
	err        error
}

func (r result) ok() bool { return r.err == nil && r.status >= 200 && r.status <= 299 }

// permanent reports whether r refuses the order itself, so that no retry
// can change it and the order ends FAILED: 400, 413, 415 and 422. Every
// other failure is retried and, if it persists, ends in the dead-letter
// queue with the order still ACCEPTED: a redirect (never followed), 401,
// 403, 404 or 405 say the endpoint or its credentials are misconfigured,
// which an operator fixes and then redrives, and 409 is the answer of an
// endpoint still busy with an earlier attempt carrying the same
// Idempotency-Key, which a later attempt finds done.
func (r result) permanent() bool {
	if r.err != nil {
		return false
	}
	switch r.status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// cause is r's failure as an error.
func (r result) cause() error {
	if r.err != nil {
		return fmt.Errorf("%s: %w", errorClass(r.err), r.err)
	}
	return fmt.Errorf("status %d %s", r.status, http.StatusText(r.status))
}

// attrs describe attempt n's result r in a log line: its status, or its
// error class (never the error's text, nor any body).
func (r result) attrs(n int) []slog.Attr {
	if r.err != nil {
		return []slog.Attr{slog.Int("attempt", n), slog.String("error", errorClass(r.err))}
	}
	return []slog.Attr{slog.Int("attempt", n), slog.Int("status", r.status)}
}

// attempt makes attempt n within its own timeout, and drains and closes the
// response body within it too.
func (d *Deliverer) attempt(ctx context.Context, n int, id string, body []byte) result {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderIdempotencyKey, id)
	req.Header.Set(HeaderAttempt, strconv.Itoa(n))
	resp, err := d.client.Do(req)
	if err != nil {
		// *url.Error names the URL: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			err = ue.Err
		}
		return result{err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	r := result{status: resp.StatusCode, retryAfter: -1}
	if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), d.maxDelay())
	}
	return r
}

// retryAfter is a Retry-After header in seconds, or -1 when it is absent,
// not whole seconds (an HTTP date is not used) or longer than limit.
func retryAfter(v string, limit time.Duration) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s < 0 || time.Duration(s) > limit/time.Second {
		return -1
	}
	return time.Duration(s) * time.Second
}

// maxDelay caps the retry delay: MaxRetryDelay, or Backoff if longer.
func (d *Deliverer) maxDelay() time.Duration { return max(MaxRetryDelay, d.cfg.Backoff) }

// delay is the wait after failed attempt n: r's usable Retry-After, else
// Backoff doubled n-1 times up to maxDelay, drawn uniformly between half
// and all of it (jitter, so that orders failed together spread out).
func (d *Deliverer) delay(n int, r result) time.Duration {
	if r.retryAfter >= 0 {
		return r.retryAfter
	}
	nominal := backoff(d.cfg.Backoff, d.maxDelay(), n)
	return nominal/2 + rand.N(nominal/2+1)
}

// backoff is base doubled n-1 times, at most limit.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// errorClass names what kind of failure err is, for a log line: never its
// text, which could name more than the class.
func errorClass(err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var record tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dns):
		return "dns lookup failed"
	case errors.As(err, &cert), errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &record):
		return "tls"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "network error"
}
