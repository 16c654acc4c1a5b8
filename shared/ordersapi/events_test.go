package ordersapi

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// The events/ samples (for sam local invoke) go through the runtime's JSON
// path and get the answers they are meant to show.
func TestSampleEvents(t *testing.T) {
	tests := []struct {
		file   string
		status int
	}{
		{"orders-create.json", 202},
		{"orders-create-base64.json", 202},
		{"orders-create-invalid.json", 400},
		{"orders-create-wrong-region.json", 403},
		{"orders-get.json", 404},
		{"orders-unknown-route.json", 405},
	}
	q := &fakeQueue{}
	h := mustNew("eu-central-1", newMemStore(time.Now), q)
	sent := 0
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("..", "..", "events", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, resp.Body)
			}
			if tt.status == 202 {
				sent++
			}
			if q.count() != sent {
				t.Fatalf("%d messages, want %d", q.count(), sent)
			}
		})
	}
}

// The partner sample (a eu-west-1 user's POST at eu-central-1, through
// PairHttpApi) is served only where eu-central-1 is paired with eu-west-1.
func TestSamplePartnerEvent(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "..", "events", "orders-create-partner.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pair   zonepair.Pair
		status int
	}{
		{zonepair.Pair{Region: "eu-central-1"}, 403},
		{euPair, 202},
	} {
		h, err := NewForPair(tt.pair, testKey(), newMemStore(time.Now), &fakeQueue{}, logging.Discard())
		if err != nil {
			t.Fatal(err)
		}
		out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != tt.status {
			t.Errorf("pair %+v: %d %s, want %d", tt.pair, resp.StatusCode, resp.Body, tt.status)
		}
	}
}
