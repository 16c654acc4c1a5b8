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
