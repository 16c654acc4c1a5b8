// Package trafficlocal stands in, in the local stack, for the Route 53
// failover record pair of one home region's API name (template.yaml's
// ApiFailoverRecord): the PRIMARY record answers with the home region's
// orders API while its health check is healthy, the SECONDARY record with the
// partner region's PairHttpApi otherwise.
//
// DNS is not emulated: a Record is a reverse proxy that picks the target per
// request, as a resolver would after the record's TTL. The health check's
// status is read through Healthy (for ARC, "routing control On") at most once
// per TTL; when it cannot be read the last known answer stands, as Route 53
// keeps serving a record's last status. Every answer carries the header
// X-Local-Served-By naming the region that served it, so a client (cmd/demo)
// can show where its request went.
package trafficlocal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// ServedByHeader names the region whose API served a request.
const ServedByHeader = "X-Local-Served-By"

// Target is one side of the record pair: a region and its API's base URL.
type Target struct {
	Region string
	URL    *url.URL
}

// Record is the failover record pair of one API name.
type Record struct {
	primary, secondary Target
	healthy            func(context.Context) (bool, error)
	ttl                time.Duration
	now                func() time.Time
	log                *slog.Logger

	mu      sync.Mutex
	checked time.Time
	up      bool
	proxy   map[string]*httputil.ReverseProxy
}

// Options configure a Record.
type Options struct {
	// Primary is served while Healthy reports true; Secondary otherwise.
	Primary, Secondary Target
	// Healthy reads the PRIMARY record's health check.
	Healthy func(context.Context) (bool, error)
	// TTL is how long an answer is reused (the record's TTL); 0 means 1 s.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per change of the served region; nil discards.
	Logger *slog.Logger
}

// New returns the record pair.
func New(o Options) (*Record, error) {
	if o.Primary.URL == nil || o.Secondary.URL == nil || o.Primary.Region == "" || o.Secondary.Region == "" {
		return nil, errors.New("trafficlocal: primary and secondary need a region and a URL")
	}
	if o.Healthy == nil {
		return nil, errors.New("trafficlocal: Healthy is required")
	}
	r := &Record{primary: o.Primary, secondary: o.Secondary, healthy: o.Healthy, ttl: o.TTL, now: o.Now, log: o.Logger, up: true}
	if r.ttl <= 0 {
		r.ttl = time.Second
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.proxy = map[string]*httputil.ReverseProxy{}
	for _, t := range []Target{o.Primary, o.Secondary} {
		t := t
		r.proxy[t.Region] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(t.URL)
				pr.Out.Host = t.URL.Host
			},
			ModifyResponse: func(resp *http.Response) error {
				resp.Header.Set(ServedByHeader, t.Region)
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				r.log.Warn("target unreachable", "region", t.Region, "err", err)
				w.Header().Set(ServedByHeader, t.Region)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte(`{"error":{"code":"BAD_GATEWAY","message":"the region's API is unreachable"}}` + "\n"))
			},
		}
	}
	return r, nil
}

// Serving returns the target that answers now, reading the health check when
// the last answer is older than the TTL.
func (r *Record) Serving(ctx context.Context) Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.checked.IsZero() || now.Sub(r.checked) >= r.ttl {
		up, err := r.healthy(ctx)
		if err != nil {
			r.log.Warn("health check unreadable: the last answer stands", "err", err)
		} else {
			if up != r.up {
				to := r.secondary.Region
				if up {
					to = r.primary.Region
				}
				r.log.Info("record now answers", "region", to)
			}
			r.up = up
		}
		r.checked = now
	}
	if r.up {
		return r.primary
	}
	return r.secondary
}

// ServeHTTP forwards the request to the serving target.
func (r *Record) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	t := r.Serving(req.Context())
	r.proxy[t.Region].ServeHTTP(w, req)
}
