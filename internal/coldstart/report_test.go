package coldstart_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/coldstart"
)

// TestWriteRead: what cmd/coldstart writes is what cmd/benchreport reads.
func TestWriteRead(t *testing.T) {
	want := coldstart.Report{GoVersion: "go1.26.0", Host: "linux/amd64", CPU: "AMD EPYC x2", N: 3,
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), LoadAvg: "1.00 0.50 0.25",
		Rows: []coldstart.Row{
			{Target: coldstart.Target{Name: coldstart.FloorName, Package: "./cmd/coldstart/testdata/hello"},
				SizeArm64: 5000000, SizeHost: 5100000, SamplesMs: []float64{4, 5, 6}, MedianMs: 5, MinMs: 4, MaxMs: 6, Ratio: 1},
			{Target: coldstart.Target{Name: "preauth", Package: "./functions/preauth", Env: map[string]string{"PII_KEY_ID": "k"}},
				Skipped: "build failed: x", SizeArm64: 0},
		}}
	path := filepath.Join(t.TempDir(), "coldstart.json")
	if err := coldstart.Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := coldstart.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Read = %+v\nwant   %+v", got, want)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "none.json"), "no such file"},
		{"bad json", bad, "bad.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := coldstart.Read(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
