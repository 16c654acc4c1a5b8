package httpdelivery_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/homeregion/homeregion/shared/httpdelivery"
	"github.com/homeregion/homeregion/shared/processor"
)

// The wiring of a processor binary: the environment decides whether orders
// are delivered over HTTP; a malformed variable fails the start.
func Example() {
	env := map[string]string{"DELIVERY_URL": "http://127.0.0.1:8080/orders", "DELIVERY_ATTEMPTS": "3"}
	cfg, on, err := httpdelivery.ParseEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	if !on {
		fmt.Println("HTTP delivery off")
		return
	}
	d, err := httpdelivery.New(cfg, nil, slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ processor.Deliverer = d // what the processor calls after storing each order
	fmt.Println(cfg.Attempts, cfg.Timeout, cfg.Backoff)
	// Output: 3 10s 200ms
}
