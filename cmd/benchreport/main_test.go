package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseBenchMedians(t *testing.T) {
	f, err := os.Open("testdata/warm.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bs, cpu, err := ParseBench(f)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != "AMD EPYC" || len(bs) != 2 {
		t.Fatalf("cpu %q, %d benchmarks", cpu, len(bs))
	}
	tests := []struct {
		i          int
		name, unit string
		want       float64
		runs       int
	}{
		{0, "PreSignUp", "ns/op", 20000, 3},
		{0, "PreSignUp", "allocs/op", 20, 3},
		{1, "Throughput/sqlite", "orders/s", 123.5, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name+" "+tc.unit, func(t *testing.T) {
			b := bs[tc.i]
			if b.Name != tc.name || b.Metrics[tc.unit] != tc.want || b.Runs != tc.runs {
				t.Errorf("got %s %v runs %d, want %s %v runs %d", b.Name, b.Metrics[tc.unit], b.Runs, tc.name, tc.want, tc.runs)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var sb strings.Builder
	if err := write(&sb, "testdata/coldstart.json", "testdata/warm.txt", "testdata/moto.txt"); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"| presignup | 9.00 | 8.00–12.00 | 2.00 | yes | 14.3 MiB (15000000 B) | yes |",
		"| preauth | not measured: build failed: x |",
		"| ./shared/triggers | PreSignUp | 20000 | 2000 | 20 |",
		"`go test -short -run '^$' -bench '^BenchmarkThroughput$' -benchmem ./shared/processor`",
		"**1.20** (3 runs)",
		"| CreateOrder |", // listed even when not measured
		"Processor 0.68",
		"presignup 2.00×",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n%s", want, out)
		}
	}
}
