package ordersapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// euPair is eu-central-1 paired with eu-west-1, as ParseEnv reads it.
var euPair = zonepair.Pair{Region: "eu-central-1", Partner: "eu-west-1", Witness: "eu-west-3"}

// TestPairServes: a paired region serves its own users and its partner's on
// every route, nobody else's (403 WRONG_REGION naming the home region); an
// unpaired one only its own. The answer and the message name the serving
// region.
func TestPairServes(t *testing.T) {
	tests := []struct {
		name string
		pair zonepair.Pair
		home string
		want int // 0: served
	}{
		{"own user", euPair, "eu-central-1", 0},
		{"partner's user", euPair, "eu-west-1", 0},
		{"same zone, not the partner", euPair, "eu-west-3", 403},
		{"other zone", euPair, "us-east-1", 403},
		{"unpaired: own user", zonepair.Pair{Region: "eu-central-1"}, "eu-central-1", 0},
		{"unpaired: neighbour's user", zonepair.Pair{Region: "eu-central-1"}, "eu-west-1", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{}
			h, err := NewForPair(tt.pair, testKey(), newMemStore(func() time.Time { return testNow }), q, logging.Discard())
			if err != nil {
				t.Fatal(err)
			}
			h.Now = func() time.Time { return testNow }
			var posted string
			claims := withClaims(map[string]string{"sub": testOwner, "custom:region": tt.home, "token_use": "id"})
			for _, req := range []struct {
				route string
				resp  func() (int, string)
			}{
				{RouteCreate, func() (int, string) {
					r, _ := h.Handle(context.Background(), postReq(validBody, claims))
					return r.StatusCode, r.Body
				}},
				{RouteEraseMe, func() (int, string) {
					r, _ := h.Handle(context.Background(), meReq("DELETE", claims))
					return r.StatusCode, r.Body
				}},
				{RouteErasure, func() (int, string) {
					r, _ := h.Handle(context.Background(), meReq("GET", claims))
					return r.StatusCode, r.Body
				}},
				{RouteGet, func() (int, string) {
					r, _ := h.Handle(context.Background(), getReq("o1", claims))
					return r.StatusCode, r.Body
				}},
			} {
				status, body := req.resp()
				if req.route == RouteCreate {
					posted = body
				}
				if tt.want == 0 {
					if status == 403 {
						t.Errorf("%s: 403 for a home this region serves: %s", req.route, body)
					}
					continue
				}
				var e errorShape
				if status != tt.want || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "WRONG_REGION" || e.Error.HomeRegion != tt.home {
					t.Errorf("%s: %d %s, want %d WRONG_REGION with homeRegion %s", req.route, status, body, tt.want, tt.home)
				}
			}
			if tt.want != 0 {
				if q.count() != 0 {
					t.Errorf("refused user: %d messages sent", q.count())
				}
				return
			}
			// The POST above was accepted (before DELETE /me): its answer
			// and its message name the serving region.
			var b acceptedBody
			if err := json.Unmarshal([]byte(posted), &b); err != nil || b.Region != tt.pair.Region || q.count() != 1 {
				t.Fatalf("POST answered %s, %d messages: want 202 naming %s, 1 message", posted, q.count(), tt.pair.Region)
			}
			if env := openBody(t, q.sent[0].Body); env.Region != tt.pair.Region {
				t.Errorf("message region %q, want the serving region %s", env.Region, tt.pair.Region)
			}
		})
	}
}

// TestTokenIssuerNamesItsRegion: a token's custom:region must be the region
// of the pool that issued it (the pool id at the end of iss), so a user of
// eu-central-1's own pool who claims eu-west-1 (an import or an operator
// that bypassed PreSignUp) is refused even where eu-west-1's users are
// served.
func TestTokenIssuerNamesItsRegion(t *testing.T) {
	for _, tt := range []struct {
		name, iss, home string
		want            int
	}{
		{"partner's pool, partner's user", "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", "eu-west-1", 202},
		{"own pool, own user", "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_XyZ", "eu-central-1", 202},
		{"own pool claiming the partner's region", "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_XyZ", "eu-west-1", 403},
		{"partner's pool claiming this region", "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", "eu-central-1", 403},
		{"issuer without a pool id", "https://example.com/", "eu-central-1", 403},
		{"no iss", "", "eu-central-1", 202},
		// Another zone's home is WRONG_REGION whatever the issuer (the
		// contract's answer, with homeRegion), and unpaired the issuer is
		// not judged: the region's one authorizer trusts one pool.
		{"another zone's home", "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_XyZ", "us-east-1", 403},
		{"unpaired, own home, another pool's issuer", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", "eu-central-1", 202},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pair := euPair
			if strings.HasPrefix(tt.name, "unpaired") {
				pair = zonepair.Pair{Region: "eu-central-1"}
			}
			h, err := NewForPair(pair, testKey(), newMemStore(func() time.Time { return testNow }), &fakeQueue{}, logging.Discard())
			if err != nil {
				t.Fatal(err)
			}
			h.Now = func() time.Time { return testNow }
			c := map[string]string{"sub": testOwner, "custom:region": tt.home, "token_use": "id"}
			if tt.iss != "" {
				c["iss"] = tt.iss
			}
			r, _ := h.Handle(context.Background(), postReq(validBody, withClaims(c)))
			if r.StatusCode != tt.want {
				t.Fatalf("POST = %d %s, want %d", r.StatusCode, r.Body, tt.want)
			}
			want := "INVALID_REGION_CLAIM"
			if tt.home == "us-east-1" {
				want = `"code":"WRONG_REGION","message":"this account's data lives in us-east-1: use the API in that region","homeRegion":"us-east-1"`
			}
			if tt.want == 403 && !strings.Contains(r.Body, want) {
				t.Fatalf("body %s, want %s", r.Body, want)
			}
		})
	}
}
