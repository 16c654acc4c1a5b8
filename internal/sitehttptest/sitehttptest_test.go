package sitehttptest_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/sitehttptest"
	"github.com/homeregion/homeregion/shared/httpdelivery"
	"github.com/homeregion/homeregion/shared/orders"
)

func envelope(id string) orders.Envelope {
	return orders.Envelope{Version: orders.EnvelopeVersion, OrderID: id, Region: "eu-west-1", Owner: "sub-1",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Order: orders.Order{Items: []orders.Item{{SKU: "AB-12", Quantity: 1}},
			DeliveryAddress: orders.Address{Name: "N", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}}}
}

// deliverAll delivers n orders through httpdelivery, conc at a time, and
// returns their ids.
func deliverAll(t *testing.T, s *sitehttptest.Server, n, conc int, cfg httpdelivery.Config) []string {
	t.Helper()
	cfg.URL = s.URL()
	d, err := httpdelivery.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = fmt.Sprintf("o-%04d", i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := d.Deliver(context.Background(), envelope(ids[i])); err != nil {
				t.Errorf("deliver %s: %v", ids[i], err)
			}
		})
	}
	wg.Wait()
	return ids
}

// checkOnce fails t unless every id was accepted exactly once, with no
// contract breaks, and returns the total attempts.
func checkOnce(t *testing.T, s *sitehttptest.Server, ids []string) int {
	t.Helper()
	if m := s.Mismatches(); len(m) != 0 {
		t.Errorf("mismatches: %v", m)
	}
	acc := s.Accepted()
	if len(acc) != len(ids) {
		t.Errorf("%d keys seen, want %d", len(acc), len(ids))
	}
	total := 0
	for _, id := range ids {
		if acc[id] != 1 {
			t.Errorf("%s accepted %d times, want 1", id, acc[id])
		}
		if p, ok := s.Payload(id); !ok || p.OrderID != id || !reflect.DeepEqual(p.Order, envelope(id).Order) {
			t.Errorf("%s: payload %+v, %v", id, p, ok)
		}
		total += s.Attempts(id)
	}
	return total
}

// TestFlakyEndpoint delivers through a server that fails 1 request in 5 and
// answers 1 in 7 slower than the client waits: every order is accepted
// once, the slow ones de-duplicated when their retry arrives.
func TestFlakyEndpoint(t *testing.T) {
	s := sitehttptest.New(t, sitehttptest.Options{FailEvery: 5, SlowEvery: 7, SlowFor: 2 * time.Second})
	ids := deliverAll(t, s, 200, 16, httpdelivery.Config{Timeout: 100 * time.Millisecond, Attempts: 10, Backoff: 10 * time.Millisecond})
	total := checkOnce(t, s, ids)
	st := s.Stats()
	if total != st.Requests {
		t.Errorf("attempts per key sum to %d, requests %d", total, st.Requests)
	}
	if st.Failed != st.Requests/5 || st.Slow != st.Requests/7 {
		t.Errorf("stats %+v: want 1 in 5 failed and 1 in 7 slow", st)
	}
	if st.Duplicates == 0 || st.Duplicates > st.Slow {
		t.Errorf("stats %+v: want the slow answers' retries de-duplicated", st)
	}
	t.Logf("%d orders: %+v", len(ids), st)
}

// TestFailAfterAccept loses the answer of every second request after the
// order is taken: the retries are de-duplicated.
func TestFailAfterAccept(t *testing.T) {
	s := sitehttptest.New(t, sitehttptest.Options{FailEvery: 2, FailAfterAccept: true})
	ids := deliverAll(t, s, 20, 1, httpdelivery.Config{Backoff: 10 * time.Millisecond})
	checkOnce(t, s, ids)
	// Sequential: the first order succeeds at once (request 1); every
	// later one is taken by an even request that fails, and its retry
	// (the next, odd, request) is a duplicate.
	if st := s.Stats(); st.Requests != 39 || st.Failed != 19 || st.Duplicates != 19 {
		t.Errorf("stats %+v, want 39 requests, 19 failed after accepting, 19 duplicates", st)
	}
}

// TestSeeded checks the seeded choice: reproducible, near the asked rate.
func TestSeeded(t *testing.T) {
	pattern := func(seed uint64) string {
		s := sitehttptest.New(t, sitehttptest.Options{FailEvery: 4, Seed: seed})
		var b strings.Builder
		for i := range 400 {
			code := post(t, s.URL(), fmt.Sprintf("o-%d", i), fmt.Sprintf("o-%d", i), "1")
			b.WriteByte(map[int]byte{200: '.', 500: 'x', 503: 'x'}[code])
		}
		return b.String()
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Errorf("seed 7 gave two patterns:\n%s\n%s", a, b)
	}
	if a == c {
		t.Error("seeds 7 and 8 gave the same pattern")
	}
	if n := strings.Count(a, "x"); n < 60 || n > 140 {
		t.Errorf("%d of 400 failed, want about 100: %s", n, a)
	}
	if strings.Count(a, ".")+strings.Count(a, "x") != 400 {
		t.Errorf("unexpected answers: %s", a)
	}
}

// post sends a delivery request by hand and returns the status.
func post(t *testing.T, url, key, orderID, attempt string) int {
	t.Helper()
	body := `{"orderId":"` + orderID + `","region":"eu-west-1","owner":"s","createdAt":"2026-01-02T03:04:05Z","order":{"items":[]}}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", httpdelivery.UserAgent)
	if key != "" {
		req.Header.Set(httpdelivery.HeaderIdempotencyKey, key)
	}
	if attempt != "" {
		req.Header.Set(httpdelivery.HeaderAttempt, attempt)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMismatches sends requests that break the contract: each is answered
// 400, reported, and accepts nothing.
func TestMismatches(t *testing.T) {
	s := sitehttptest.New(t, sitehttptest.Options{})
	for _, tc := range []struct {
		name, key, orderID, attempt string
		want                        string
	}{
		{name: "no key", orderID: "o-1", attempt: "1", want: "no Idempotency-Key"},
		{name: "other key", key: "o-2", orderID: "o-1", attempt: "1", want: `body orderId "o-1" differs`},
		{name: "no attempt", key: "o-3", orderID: "o-3", want: "Homeregion-Attempt"},
		{name: "attempt zero", key: "o-4", orderID: "o-4", attempt: "0", want: "Homeregion-Attempt"},
		{name: "not JSON", key: "o-5", orderID: `"`, attempt: "1", want: "not a delivery payload"},
	} {
		if code := post(t, s.URL(), tc.key, tc.orderID, tc.attempt); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.name, code)
		}
		m := s.Mismatches()
		if len(m) == 0 || !strings.Contains(m[len(m)-1], tc.want) {
			t.Errorf("%s: mismatches %v, want the last to contain %q", tc.name, m, tc.want)
		}
	}
	resp, err := http.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if m := s.Mismatches(); resp.StatusCode != 400 || len(m) != 6 || !strings.Contains(m[5], "method GET") {
		t.Errorf("GET: status %d, mismatches %v", resp.StatusCode, m)
	}
	for k, n := range s.Accepted() {
		if n != 0 {
			t.Errorf("%s accepted by a request that broke the contract", k)
		}
	}
	if s.Attempts("o-2") != 1 || s.Stats().Rejected != 6 {
		t.Errorf("attempts o-2 = %d, stats %+v", s.Attempts("o-2"), s.Stats())
	}
	// A valid request after them is accepted; a second one de-duplicated.
	for range 2 {
		if code := post(t, s.URL(), "o-2", "o-2", "1"); code != 200 {
			t.Fatalf("valid request: status %d", code)
		}
	}
	if s.Accepted()["o-2"] != 1 || s.Attempts("o-2") != 3 || s.Stats().Duplicates != 1 {
		t.Errorf("after valid requests: accepted %v, attempts %d, stats %+v", s.Accepted(), s.Attempts("o-2"), s.Stats())
	}
}
