package lambdamain

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFailedColdStart runs Start in a child process with a setup that fails:
// it must exit 1 after one JSON log line naming the cause, without ever
// reaching the Lambda runtime.
func TestFailedColdStart(t *testing.T) {
	if os.Getenv("LAMBDAMAIN_CHILD") == "1" {
		Start(func(context.Context, func(string) string, *slog.Logger) (any, error) {
			return nil, errors.New("orders-api configuration: ORDERS_TABLE is not set")
		})
		return // not reached: Start exits
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailedColdStart$")
	cmd.Env = append(os.Environ(), "LAMBDAMAIN_CHILD=1", "LOG_LEVEL=info")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child: %v (want exit status 1); stdout %q", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("first line is not JSON: %q", lines[0])
	}
	if rec["message"] != "cold start failed" || rec["error"] != "orders-api configuration: ORDERS_TABLE is not set" {
		t.Fatalf("log line = %v", rec)
	}
}
