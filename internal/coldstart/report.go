// Package coldstart is the cold-start report: what cmd/coldstart measures
// (each Lambda bootstrap's time from process start to its first request for
// work, next to a hello-world floor's) and writes as JSON, and what
// cmd/benchreport reads into BENCHMARKS.md.
package coldstart

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// FloorName is the row name of the hello-world floor every other row's
// Ratio is measured against.
const FloorName = "hello-world (floor)"

// Target is one bootstrap to measure.
type Target struct {
	// Name is the row name (a function, or a function and its ACTION).
	Name string `json:"name"`
	// Package is the Go package built into the bootstrap.
	Package string `json:"package"`
	// MakeTarget is the Makefile's build target for the deployed function
	// (e.g. build-FailoverFunction), whose ACTION_TAG, if it sets one, is
	// added to LAMBDA_BUILD's tags; "" for the floor.
	MakeTarget string `json:"makeTarget,omitempty"`
	// Env holds the function's own variables (dummy values).
	Env map[string]string `json:"env,omitempty"`
}

// Row is one target's result.
type Row struct {
	Target
	// Skipped says why the target was not measured ("" when it was).
	Skipped string `json:"skipped,omitempty"`
	// SizeArm64 is the linux/arm64 bootstrap's size in bytes.
	SizeArm64 int64 `json:"sizeArm64"`
	// SizeHost is the size of the host-arch binary that was run.
	SizeHost int64 `json:"sizeHost"`
	// SamplesMs are the measured cold starts in milliseconds.
	SamplesMs []float64 `json:"samplesMs,omitempty"`
	// MedianMs is the median of SamplesMs.
	MedianMs float64 `json:"medianMs"`
	// MinMs and MaxMs bound SamplesMs.
	MinMs float64 `json:"minMs"`
	MaxMs float64 `json:"maxMs"`
	// Ratio is MedianMs over the floor's MedianMs.
	Ratio float64 `json:"ratio"`
}

// Report is the whole run.
type Report struct {
	GoVersion string    `json:"goVersion"`
	Host      string    `json:"host"`
	CPU       string    `json:"cpu"`
	N         int       `json:"n"`
	Started   time.Time `json:"started"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute load when the run ended.
	LoadAvg string `json:"loadAvg,omitempty"`
	Rows    []Row  `json:"rows"`
}

// Write writes r to path as indented JSON.
func Write(path string, r Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cold-start report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cold-start report: %w", err)
	}
	return nil
}

// Read reads the report Write wrote to path.
func Read(path string) (Report, error) {
	var r Report
	b, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("cold-start report: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("cold-start report %s: %w", path, err)
	}
	return r, nil
}
