package httpapilocal_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/internal/httpapilocal"
)

// Every request is one sample, whoever answered it: the authorizer's 401
// and the missing route's 404 count as 4xx, a failed integration or a 5xx
// from the handler as 5xx, as API Gateway counts them.
func TestMetricsPerStatusClass(t *testing.T) {
	key, _ := keys(t)
	auth := "Bearer " + sign(t, key, "k1", idClaims())
	answer := func(status int, err error) func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: "{}"}, err
		}
	}
	tests := []struct {
		name, path, auth string
		answer           func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		status           int
		c4xx, c5xx       float64
		integrated       bool
	}{
		{name: "accepted", path: "/orders", auth: auth, status: 202, integrated: true},
		{name: "authorizer refuses", path: "/orders", status: 401, c4xx: 1},
		{name: "no route", path: "/nope", auth: auth, status: 404, c4xx: 1},
		{name: "handler 400", path: "/orders", auth: auth, answer: answer(400, nil), status: 400, c4xx: 1, integrated: true},
		{name: "handler 503", path: "/orders", auth: auth, answer: answer(503, nil), status: 503, c5xx: 1, integrated: true},
		{name: "handler error", path: "/orders", auth: auth, answer: answer(0, errors.New("boom")), status: 500, c5xx: 1, integrated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.answer = tt.answer
			resp, _ := do(t, "POST", h.url+tt.path, tt.auth, "application/json", []byte(`{}`))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			var s httpapilocal.MetricSample
			select {
			case s = <-h.samples:
			case <-time.After(5 * time.Second):
				t.Fatal("no metric sample")
			}
			if s.APIID != "api1" || s.Stage != "$default" || s.Status != tt.status || s.Integrated != tt.integrated || !s.Time.Equal(now) {
				t.Fatalf("sample %+v", s)
			}
			if len(h.events) > 0 && h.events[0].RequestContext.APIID != "api1" {
				t.Errorf("event apiId %q", h.events[0].RequestContext.APIID)
			}
			got := map[string]float64{}
			var dims []string
			for _, m := range s.Metrics() {
				k := fmt.Sprintf("%s/%d", m.Name, len(m.Dimensions))
				if _, dup := got[k]; dup {
					t.Fatalf("%s twice", k)
				}
				got[k] = m.Value
				if m.Dimensions["ApiId"] != "api1" {
					t.Errorf("%s dimensions %v", m.Name, m.Dimensions)
				}
				if m.Name == "Count" {
					dims = append(dims, fmt.Sprint(m.Dimensions))
				}
				if unit := map[bool]string{true: "Milliseconds", false: "Count"}[strings.HasSuffix(m.Name, "Latency")]; m.Unit != unit {
					t.Errorf("%s unit %q", m.Name, m.Unit)
				}
			}
			sort.Strings(dims)
			if fmt.Sprint(dims) != "[map[ApiId:api1 Stage:$default] map[ApiId:api1]]" {
				t.Errorf("dimension sets %v", dims)
			}
			for _, n := range []int{1, 2} {
				if got[fmt.Sprintf("Count/%d", n)] != 1 || got[fmt.Sprintf("4xx/%d", n)] != tt.c4xx || got[fmt.Sprintf("5xx/%d", n)] != tt.c5xx {
					t.Errorf("dims %d: Count %v 4xx %v 5xx %v, want 1 %v %v", n, got[fmt.Sprintf("Count/%d", n)], got[fmt.Sprintf("4xx/%d", n)], got[fmt.Sprintf("5xx/%d", n)], tt.c4xx, tt.c5xx)
				}
				if _, ok := got[fmt.Sprintf("Latency/%d", n)]; !ok {
					t.Errorf("no Latency")
				}
				if _, ok := got[fmt.Sprintf("IntegrationLatency/%d", n)]; ok != tt.integrated {
					t.Errorf("IntegrationLatency present %v, want %v", ok, tt.integrated)
				}
			}
		})
	}
}
