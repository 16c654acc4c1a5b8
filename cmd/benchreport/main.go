// Command benchreport writes BENCHMARKS.md from the outputs `make bench`
// collects: cmd/coldstart's JSON report, the in-process benchmarks' `go test
// -bench` output and internal/benchmoto's handler-vs-raw ratios against moto.
// Every figure is printed next to the command that reproduces it.
//
// Usage:
//
//	go run ./cmd/benchreport -coldstart bin/bench/coldstart.json \
//	    -warm bin/bench/warm.txt -moto bin/bench/moto.txt -o BENCHMARKS.md
package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/homeregion/homeregion/internal/coldstart"
)

// Bench is one benchmark's results: the median of each metric over its runs.
type Bench struct {
	Pkg     string
	Name    string // without the Benchmark prefix and -GOMAXPROCS suffix
	Runs    int
	Metrics map[string]float64 // unit -> median
	samples map[string][]float64
}

// ParseBench reads `go test -bench` output with golang.org/x/perf/benchfmt;
// repeated runs (-count) of one benchmark are merged into medians. Values are
// kept in the units the benchmark reported (benchfmt's original units, not
// its tidied ones). Lines benchfmt cannot parse are skipped. It also returns
// the last "cpu:" configuration seen.
func ParseBench(r io.Reader) ([]*Bench, string, error) {
	var out []*Bench
	byKey := map[string]*Bench{}
	cpu := ""
	br := benchfmt.NewReader(r, "")
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // a syntax error or unit metadata
		}
		pkg := res.GetConfig("pkg")
		if c := res.GetConfig("cpu"); c != "" {
			cpu = c
		}
		base, parts := res.Name.Parts()
		if n := len(parts); n > 0 && bytes.HasPrefix(parts[n-1], []byte("-")) {
			parts = parts[:n-1] // GOMAXPROCS
		}
		name := string(bytes.Join(append([][]byte{base}, parts...), nil))
		key := pkg + " " + name
		b := byKey[key]
		if b == nil {
			b = &Bench{Pkg: pkg, Name: name, Metrics: map[string]float64{}, samples: map[string][]float64{}}
			byKey[key] = b
			out = append(out, b)
		}
		b.Runs++
		for _, v := range res.Values {
			if v.OrigUnit != "" {
				v.Value, v.Unit = v.OrigValue, v.OrigUnit
			}
			b.samples[v.Unit] = append(b.samples[v.Unit], v.Value)
		}
	}
	for _, b := range out {
		for unit, s := range b.samples {
			b.Metrics[unit] = median(s)
		}
	}
	return out, cpu, br.Err()
}

func median(s []float64) float64 {
	s = slices.Clone(s)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func main() {
	cold := flag.String("coldstart", "", "cmd/coldstart -json output")
	warm := flag.String("warm", "", "go test -bench output of the in-process benchmarks")
	moto := flag.String("moto", "", "go test -bench output of internal/benchmoto")
	out := flag.String("o", "BENCHMARKS.md", "file to write")
	flag.Parse()
	var buf strings.Builder
	if err := write(&buf, *cold, *warm, *moto); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(buf.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", *out)
}

func readBench(path string) ([]*Bench, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	return ParseBench(f)
}

const module = "github.com/homeregion/homeregion/"

func pkgPath(pkg string) string { return "./" + strings.TrimPrefix(pkg, module) }

// motoCases describes the handler-vs-raw pairs of internal/benchmoto.
// motoCases are the rows of the moto table: a VsRaw sub-benchmark (bench,
// default name) read through its raw and ratio metrics (default raw-ns/op or
// raw-ns/msg, and ratio).
var motoCases = []struct {
	name, handler, raw, trips     string
	bench, rawMetric, ratioMetric string
}{
	{"PreSignUp", "PreSignUp trigger (JSON path, e-mail not yet claimed)", "one strongly consistent `GetItem`",
		"1 vs 1 (GetItem; 2 outside the registry region on a replica miss)", "", "", ""},
	{"PostConfirmation", "PostConfirmation trigger (JSON path, verified claim)", "one conditional `PutItem` (attribute_not_exists)",
		"1 vs 1 (conditional PutItem)", "", "", ""},
	{"PreAuth", "PreAuth trigger (JSON path, home in the local replica)", "one `GetItem`",
		"1 vs 1 (GetItem)", "", "", ""},
	{"CreateOrder", "`POST /orders` (JSON path, new idempotency key)", "one `PutItem` + one `SendMessage` (FIFO queue)",
		"2 vs 2: TransactWriteItems (the order record, holding the key's state, + the no-erasure and legacy-key checks) + SendMessage (FIFO, deduplication id = order id)", "", "", ""},
	{"CreateOrderPair", "`POST /orders` in a zone pair (JSON path, new idempotency key; the pair table on one moto table)", "one `PutItem` + one `SendMessage` (FIFO queue)",
		"4 vs 2: GetItem (the no-erasure check) + conditional PutItem (order and idempotency record) + SendMessage + UpdateItem (completion); no transaction (MRSC has none)", "", "", ""},
	{"Processor", "on-prem processor draining 50 queued orders (FIFO queue), in batches of one receive", "pipelined `ReceiveMessage`/`DeleteMessage` loop, same pollers and concurrency",
		"per message: UpdateItem (claim) + UpdateItem (settle COMPLETED) + a tenth of a DeleteMessageBatch, and per receive 3 SQLite transactions (prepare, handle, done), vs DeleteMessage (receives batched by 10 on both sides)", "", "", ""},
	{"ProcessorVsBatchDelete", "the same processor run", "pipelined `ReceiveMessage`/`DeleteMessageBatch` loop (the bare loop at its best)",
		"as above, vs a tenth of a DeleteMessageBatch", "Processor", "rawbatch-ns/msg", "ratio-batch"},
}

func write(w *strings.Builder, coldPath, warmPath, motoPath string) error {
	cr, err := coldstart.Read(coldPath)
	if err != nil {
		return err
	}
	warmB, cpu, err := readBench(warmPath)
	if err != nil {
		return err
	}
	motoB, _, err := readBench(motoPath)
	if err != nil {
		return err
	}
	if cpu == "" {
		cpu = cr.CPU
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }

	p("# Benchmarks\n\n")
	p("Generated by `make bench` (cmd/benchreport) on %s, %s, %s, %s.\n", cr.Started.Format("2006-01-02 15:04 MST"), cr.Host, cpu, cr.GoVersion)
	p("The machine is a shared 2-core VM on which other test suites and several moto_server\n")
	p("processes were running: absolute milliseconds are pessimistic and noisy; the ratios, which\n")
	p("are measured side by side in the same run, are the figures to read. Each figure's\n")
	p("reproduce command is given with it; `make bench` reruns everything and rewrites this file.\n\n")

	// Cold start.
	p("## Cold start\n\n")
	p("Process start → the bootstrap's first `GET /2018-06-01/runtime/invocation/next` on a local\n")
	p("Runtime API (internal/runtimeapi), median of %d starts per bootstrap (interleaved, after one\n", cr.N)
	p("discarded warm-up round), with Lambda's environment: fake credentials, `LAMBDA_TASK_ROOT` (so X-Ray\n")
	p("instrumentation is on), the function's variables with dummy values and `AWS_ENDPOINT_URL` on a\n")
	p("closed local port. Built with the Makefile's `LAMBDA_BUILD` flags (`CGO_ENABLED=0 -trimpath` and its\n")
	p("`-tags`/`-ldflags`, read from the Makefile) for the host (%s, timed) and for linux/arm64 (size). The floor is a\n", cr.Host)
	p("hello-world aws-lambda-go bootstrap built the same way (cmd/coldstart/testdata/hello). Goal: ≤ 2× the floor; size ≤ 16 MiB.\n")
	if cr.LoadAvg != "" {
		p("Load average (1/5/15 min) at the end of the run: %s on %s — a loaded machine inflates the\n", cr.LoadAvg, cr.CPU)
		p("functions' init (more pages, more allocations) more than the floor's, so ratios read high under load.\n")
	}
	p("\n")
	p("Reproduce: `go run ./cmd/coldstart -n %d` (one function: `go run ./cmd/coldstart -n %d -only presignup`).\n\n", cr.N, cr.N)
	p("| bootstrap | median ms | min–max ms | × floor | ≤ 2× | linux/arm64 size | ≤ 16 MiB |\n|---|---:|---:|---:|:-:|---:|:-:|\n")
	var coldRatios []string
	for _, r := range cr.Rows {
		size := fmt.Sprintf("%.1f MiB (%d B)", float64(r.SizeArm64)/(1<<20), r.SizeArm64)
		sizeOK := mark(r.SizeArm64 > 0 && r.SizeArm64 <= 16<<20)
		if r.Skipped != "" {
			p("| %s | not measured: %s | | | | %s | %s |\n", r.Name, r.Skipped, size, sizeOK)
			continue
		}
		p("| %s | %.2f | %.2f–%.2f | %.2f | %s | %s | %s |\n", r.Name, r.MedianMs, r.MinMs, r.MaxMs, r.Ratio, mark(r.Ratio <= 2), size, sizeOK)
		if r.Name != coldstart.FloorName {
			coldRatios = append(coldRatios, fmt.Sprintf("%s %.2f×", r.Name, r.Ratio))
		}
	}
	p("\n")

	// Warm path.
	p("## Warm path (in process, fakes)\n\n")
	p("Every `BenchmarkXxx` of the module run in process with hand-written fakes (`-short`: no moto),\n")
	p("median over the runs. Reproduce all: `go test -short -run '^$' -bench . -benchmem ./...`;\n")
	p("one row: the command in its last column.\n\n")
	p("| package | benchmark | ns/op | B/op | allocs/op | other | reproduce |\n|---|---|---:|---:|---:|---|---|\n")
	for _, bb := range warmB {
		if strings.HasSuffix(bb.Pkg, "internal/benchmoto") {
			continue
		}
		top := strings.SplitN(bb.Name, "/", 2)[0]
		p("| %s | %s | %s | %s | %s | %s | `go test -short -run '^$' -bench '^Benchmark%s$' -benchmem %s` |\n",
			pkgPath(bb.Pkg), bb.Name, num(bb.Metrics["ns/op"]), num(bb.Metrics["B/op"]), num(bb.Metrics["allocs/op"]),
			others(bb.Metrics, "ns/op", "B/op", "allocs/op"), top, pkgPath(bb.Pkg))
	}
	p("\n")

	// Moto ratios.
	p("## Against moto: handler vs the raw calls it must make\n\n")
	p("internal/benchmoto, against one moto_server, in the same run: each iteration times the handler\n")
	p("(real SDK clients, invoked through aws-lambda-go's JSON path) and then the raw calls, alternately,\n")
	p("so load drifting on the machine hits both alike. Median over `-count` runs. The limit is 1.0: a\n")
	p("handler cannot beat the calls it has to make; what is above 1.0 is the handler's own work and any\n")
	p("extra round trip.\n\n")
	p("| case | handler | raw | AWS round trips (handler vs raw) | handler ms | raw ms | ratio | reproduce |\n|---|---|---|---|---:|---:|---:|---|\n")
	var motoRatios []string
	for _, c := range motoCases {
		bench := cmp.Or(c.bench, c.name)
		var bb *Bench
		for _, x := range motoB {
			if x.Name == "VsRaw/"+bench {
				bb = x
			}
		}
		repro := fmt.Sprintf("`go test -run '^$' -bench 'VsRaw/%s$' -benchmem -count 5 ./internal/benchmoto`", bench)
		if bb == nil {
			p("| %s | %s | %s | %s | not measured | | | %s |\n", c.name, c.handler, c.raw, c.trips, repro)
			continue
		}
		h, r := bb.Metrics["handler-ns/op"], bb.Metrics["raw-ns/op"]
		unit := "op"
		if h == 0 {
			h, r, unit = bb.Metrics["handler-ns/msg"], bb.Metrics["raw-ns/msg"], "msg"
		}
		if c.rawMetric != "" {
			r = bb.Metrics[c.rawMetric]
		}
		ratio := bb.Metrics[cmp.Or(c.ratioMetric, "ratio")]
		trips := c.trips
		if calls, ok := bb.Metrics["aws-calls/msg"]; ok {
			trips += fmt.Sprintf("; measured: %.2f AWS calls and %.2f SQL transactions per message, throughput %.2f× the raw loop's", calls, bb.Metrics["sql-tx/msg"], 1/ratio)
		}
		p("| %s | %s | %s | %s | %.2f /%s | %.2f /%s | **%.2f** (%d runs) | %s |\n", c.name, c.handler, c.raw, trips, h/1e6, unit, r/1e6, unit, ratio, bb.Runs, repro)
		motoRatios = append(motoRatios, fmt.Sprintf("%s %.2f", c.name, ratio))
	}
	p("\n")

	p("## Closing note\n\n")
	p("- Cold start, × the hello-world floor (goal ≤ 2×): %s.\n", strings.Join(coldRatios, "; "))
	p("- Against moto, handler ÷ raw calls (limit 1.0): %s.\n", strings.Join(motoRatios, "; "))
	p("- Measured on %s with %s; regenerate with `make bench` (COLDSTART_N and MOTO_COUNT tune the repetitions).\n", cr.Host, runtime.Version())
	return nil
}

func mark(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func others(m map[string]float64, skip ...string) string {
	var keys []string
	for k := range m {
		if !slices.Contains(skip, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, num(m[k])+" "+k)
	}
	return strings.Join(parts, ", ")
}
