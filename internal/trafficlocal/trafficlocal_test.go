package trafficlocal

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

func server(t *testing.T, body string) *url.URL {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body+" "+r.URL.Path)
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u
}

func TestRecordFollowsTheHealthCheckAfterTTL(t *testing.T) {
	var mu sync.Mutex
	up, fail := true, false
	now := time.Unix(1000, 0)
	rec, err := New(Options{
		Primary:   Target{"eu-west-1", server(t, "west")},
		Secondary: Target{"eu-central-1", server(t, "central")},
		Healthy: func(context.Context) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return false, errors.New("arc unreachable")
			}
			return up, nil
		},
		TTL: 5 * time.Second,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(rec)
	defer front.Close()
	get := func() (string, string) {
		t.Helper()
		resp, err := http.Get(front.URL + "/orders/x")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header.Get(ServedByHeader)
	}
	steps := []struct {
		advance    time.Duration
		up, fail   bool
		body, from string
	}{
		{0, true, false, "west /orders/x", "eu-west-1"},
		{time.Second, false, false, "west /orders/x", "eu-west-1"},           // within the TTL: cached
		{5 * time.Second, false, false, "central /orders/x", "eu-central-1"}, // TTL passed: secondary
		{5 * time.Second, true, true, "central /orders/x", "eu-central-1"},   // unreadable: last answer stands
		{5 * time.Second, true, false, "west /orders/x", "eu-west-1"},        // back
	}
	for i, s := range steps {
		mu.Lock()
		up, fail = s.up, s.fail
		mu.Unlock()
		now = now.Add(s.advance)
		body, from := get()
		if body != s.body || from != s.from {
			t.Fatalf("step %d: got %q from %q, want %q from %q", i, body, from, s.body, s.from)
		}
	}
}

func TestUnreachableTargetIs502NamingTheRegion(t *testing.T) {
	dead, _ := url.Parse("http://127.0.0.1:1")
	rec, err := New(Options{
		Primary:   Target{"eu-west-1", dead},
		Secondary: Target{"eu-central-1", server(t, "central")},
		Healthy:   func(context.Context) (bool, error) { return true, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	rec.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/orders/x", nil))
	if w.Code != http.StatusBadGateway || w.Header().Get(ServedByHeader) != "eu-west-1" {
		t.Fatalf("got %d from %q, want 502 from eu-west-1", w.Code, w.Header().Get(ServedByHeader))
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	for _, o := range []Options{
		{Secondary: Target{"b", u}, Healthy: func(context.Context) (bool, error) { return true, nil }},
		{Primary: Target{"a", u}, Secondary: Target{"b", u}},
		{Primary: Target{"", u}, Secondary: Target{"b", u}, Healthy: func(context.Context) (bool, error) { return true, nil }},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
