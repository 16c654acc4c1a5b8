// Command coldstart measures each Lambda function's cold start: the time from
// process start to the bootstrap's first request for work on a local Lambda
// Runtime API (internal/runtimeapi), next to the same measure for a
// hello-world aws-lambda-go bootstrap built the same way (the floor).
//
// Every bootstrap is built like the Makefile's LAMBDA_BUILD (CGO_ENABLED=0,
// -trimpath, and the -tags and -ldflags read from the Makefile's LAMBDA_BUILD
// line) twice: for linux/arm64,
// whose size is reported (the size Lambda loads), and for the host, which is
// run and timed. Each binary is started -n times (rounds interleave the
// binaries so drift in machine load hits them alike; one extra warm-up round
// fills the page cache and is discarded) with the environment Lambda gives a
// function: AWS_LAMBDA_RUNTIME_API, AWS_REGION, fake credentials,
// LAMBDA_TASK_ROOT, the function's required variables with dummy values and
// AWS_ENDPOINT_URL pointing at a closed local port, so a function that calls
// AWS before asking for work pays for it here rather than silently reaching
// the internet.
//
// Usage:
//
//	go run ./cmd/coldstart [-n 15] [-only presignup,preauth] [-json out.json]
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/homeregion/homeregion/internal/coldstart"
	"github.com/homeregion/homeregion/internal/runtimeapi"
)

const (
	region    = "eu-west-1"
	account   = "000000000000"
	queueURL  = "https://sqs.eu-west-1.amazonaws.com/000000000000/orders.fifo"
	piiKeyARN = "arn:aws:kms:eu-west-1:000000000000:key/mrk-00000000000000000000000000000000"
)

// sitePublicKeyFile holds a real-size dummy SITE_PUBLIC_KEY (its comment
// says how it was made), so the orders-api cold start pays for parsing the
// key as it does on Lambda.
//
//go:embed testdata/site-public-key.txt
var sitePublicKeyFile string

// sitePublicKey is the key line of sitePublicKeyFile (lines starting with #
// are comments).
func sitePublicKey() string {
	for line := range strings.Lines(sitePublicKeyFile) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// Targets lists the floor and every function (the failover code base once per
// ACTION: each is its own template function, built by its own Makefile
// target for its one action).
func Targets() []coldstart.Target {
	control := map[string]string{"CONTROL_TABLE": "homeregion-control"}
	with := func(m map[string]string) map[string]string {
		for k, v := range control {
			m[k] = v
		}
		return m
	}
	residency := map[string]string{"RESIDENCY_TABLE": "homeregion-residency", "REGISTRY_REGION": region, "PII_KEY_ID": piiKeyARN}
	return []coldstart.Target{
		{Name: coldstart.FloorName, Package: "./cmd/coldstart/testdata/hello"},
		{Name: "presignup", Package: "./functions/presignup", MakeTarget: "build-PreSignUpFunction", Env: residency},
		{Name: "postconfirmation", Package: "./functions/postconfirmation", MakeTarget: "build-PostConfirmationFunction", Env: residency},
		{Name: "preauth", Package: "./functions/preauth", MakeTarget: "build-PreAuthFunction", Env: residency},
		{Name: "orders-api", Package: "./functions/orders-api", MakeTarget: "build-OrdersApiFunction", Env: map[string]string{"ORDERS_TABLE": "homeregion-orders", "ORDERS_QUEUE_URL": queueURL,
			"SITE_PUBLIC_KEY": sitePublicKey()}},
		{Name: "erasure", Package: "./functions/erasure", MakeTarget: "build-ErasureFunction", Env: map[string]string{"ORDERS_TABLE": "homeregion-orders", "ORDERS_QUEUE_URL": queueURL,
			"ORDERS_DLQ_URL": queueURL + "-dlq", "USER_POOL_ID": region + "_Example1", "RESIDENCY_TABLE": residency["RESIDENCY_TABLE"],
			"REGISTRY_REGION": region, "PII_KEY_ID": piiKeyARN, "SITE_PUBLIC_KEY": sitePublicKey()}},
		{Name: "failover (ACTION=failover)", Package: "./functions/failover", MakeTarget: "build-FailoverFunction", Env: with(map[string]string{
			"ACTION": "failover", "HEALTH_CHECK_ID": "00000000-0000-4000-8000-000000000001",
			"SECONDARY_REGION": "eu-central-1", "FAILBACK": "auto", "HOLD_DOWN_SECONDS": "300"})},
		{Name: "failover (ACTION=promote)", Package: "./functions/failover", MakeTarget: "build-PromoteFunction", Env: with(map[string]string{
			"ACTION": "promote", "STANDBY_ECS_CLUSTER": "standby", "STANDBY_ECS_SERVICE": "processor", "STANDBY_TASKS": "2"})},
		{Name: "failover (ACTION=scale)", Package: "./functions/failover", MakeTarget: "build-ScaleFunction", Env: with(map[string]string{
			"ACTION": "scale", "QUEUE_URL": queueURL, "ECS_CLUSTER": "onprem", "ECS_SERVICE": "processor",
			"BACKLOG_PER_TASK": "10", "MIN_TASKS": "0", "MAX_TASKS": "4"})},
	}
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	n := fs.Int("n", 15, "measured runs per bootstrap")
	only := fs.String("only", "", "comma-separated row names or package base names to measure (the floor is always measured)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	buildDir := fs.String("builddir", "", "where to build the bootstraps (default: a temporary directory)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on one start after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("-n must be at least 1, got %d", *n)
	}
	dir := *buildDir
	if dir == "" {
		d, err := os.MkdirTemp("", "coldstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	targets := filter(Targets(), *only)
	rows := make([]coldstart.Row, len(targets))
	bins := make([]string, len(targets))
	for i, t := range targets {
		rows[i].Target = t
		bin, sizeHost, sizeArm, err := build(dir, t)
		if err != nil {
			if t.Name == coldstart.FloorName {
				return fmt.Errorf("build the floor: %w", err)
			}
			rows[i].Skipped = "build failed: " + firstLine(err.Error())
			continue
		}
		bins[i], rows[i].SizeHost, rows[i].SizeArm64 = bin, sizeHost, sizeArm
	}
	closed, err := closedPort()
	if err != nil {
		return err
	}
	for round := 0; round <= *n; round++ { // round 0 is the discarded warm-up
		for i, t := range targets {
			if rows[i].Skipped != "" {
				continue
			}
			d, err := measure(bins[i], env(t, closed, filepath.Dir(bins[i])), *timeout)
			if err != nil {
				rows[i].Skipped = firstLine(err.Error())
				continue
			}
			if round > 0 {
				rows[i].SamplesMs = append(rows[i].SamplesMs, float64(d.Microseconds())/1000)
			}
		}
	}
	var floor float64
	for i := range rows {
		if len(rows[i].SamplesMs) == 0 {
			continue
		}
		s := slices.Clone(rows[i].SamplesMs)
		slices.Sort(s)
		rows[i].MedianMs, rows[i].MinMs, rows[i].MaxMs = median(s), s[0], s[len(s)-1]
		if rows[i].Name == coldstart.FloorName {
			floor = rows[i].MedianMs
		}
	}
	for i := range rows {
		if floor > 0 && rows[i].MedianMs > 0 {
			rows[i].Ratio = rows[i].MedianMs / floor
		}
	}
	rep := coldstart.Report{GoVersion: runtime.Version(), Host: runtime.GOOS + "/" + runtime.GOARCH, CPU: cpuModel(), N: *n, Started: time.Now().UTC(), LoadAvg: loadAvg(), Rows: rows}
	printTable(stdout, rep)
	if *jsonOut != "" {
		if err := coldstart.Write(*jsonOut, rep); err != nil {
			return err
		}
	}
	return nil
}

func filter(ts []coldstart.Target, only string) []coldstart.Target {
	if only == "" {
		return ts
	}
	want := strings.Split(only, ",")
	var out []coldstart.Target
	for _, t := range ts {
		if t.Name == coldstart.FloorName || slices.Contains(want, t.Name) || slices.Contains(want, filepath.Base(t.Package)) {
			out = append(out, t)
		}
	}
	return out
}

// build builds t for the host (returned path, run) and for linux/arm64 (size only).
func build(dir string, t coldstart.Target) (bin string, sizeHost, sizeArm int64, err error) {
	slug := strings.NewReplacer(" ", "", "(", "-", ")", "", "=", "-").Replace(t.Name)
	bin = filepath.Join(dir, slug, "host", "bootstrap")
	arm := filepath.Join(dir, slug, "linux-arm64", "bootstrap")
	if sizeHost, err = goBuild(bin, t, runtime.GOOS, runtime.GOARCH); err != nil {
		return "", 0, 0, err
	}
	if sizeArm, err = goBuild(arm, t, "linux", "arm64"); err != nil {
		return "", 0, 0, err
	}
	return bin, sizeHost, sizeArm, nil
}

// buildFlags are the Makefile's LAMBDA_BUILD -tags and -ldflags, read from
// ./Makefile so the measured binaries are built exactly like the deployed
// ones (defaults when the Makefile cannot be read). The tags are
// LAMBDA_BUILD's own, without the make variables in them (a target's
// ACTION_TAG: see targetTags).
func buildFlags() (tags, ldflags string) {
	tags, ldflags = "lambda.norpc", "-s -w"
	b, err := os.ReadFile("Makefile")
	if err != nil {
		return tags, ldflags
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "LAMBDA_BUILD") {
			continue
		}
		if m := regexp.MustCompile(`-tags[ =]([^\s]+)`).FindStringSubmatch(line); m != nil {
			tags = regexp.MustCompile(`\$\([^)]*\)`).ReplaceAllString(m[1], "")
		}
		if m := regexp.MustCompile(`-ldflags=?'([^']*)'`).FindStringSubmatch(line); m != nil {
			ldflags = m[1]
		}
		break
	}
	return tags, ldflags
}

// targetTags is the ACTION_TAG the Makefile sets for target (a line
// "build-XFunction: ACTION_TAG = ,tag"), as tags to add: "" when it sets
// none or the Makefile cannot be read.
func targetTags(target string) string {
	if target == "" {
		return ""
	}
	b, err := os.ReadFile("Makefile")
	if err != nil {
		return ""
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(target) + `:\s*ACTION_TAG\s*=\s*(\S*)\s*$`)
	for _, line := range strings.Split(string(b), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			return strings.Trim(m[1], ",")
		}
	}
	return ""
}

// goBuild is the Makefile's build of t (LAMBDA_BUILD with t's target's
// ACTION_TAG) for goos/goarch.
func goBuild(out string, t coldstart.Target, goos, goarch string) (int64, error) {
	pkg := t.Package
	if _, err := os.Stat(filepath.Join(strings.TrimPrefix(pkg, "./"), ".")); err != nil {
		return 0, fmt.Errorf("package %s not found (run from the module root)", pkg)
	}
	tags, ldflags := buildFlags()
	if extra := targetTags(t.MakeTarget); extra != "" {
		tags += "," + extra
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-ldflags="+ldflags, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("go build %s (%s/%s): %v: %s", pkg, goos, goarch, err, strings.TrimSpace(stderr.String()))
	}
	fi, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// env is the environment Lambda gives a provided.al2023 function, plus t's own
// variables; the endpoint is a closed local port.
func env(t coldstart.Target, closed, taskRoot string) map[string]string {
	name := strings.Fields(t.Name)[0]
	e := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LAMBDA_RUNTIME_DIR":              taskRoot,
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_FUNCTION_NAME":        "homeregion-" + name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/homeregion-" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      "2026/01/01/[$LATEST]00000000000000000000000000000000",
		"AWS_ACCESS_KEY_ID":               "ASIAFAKEFAKEFAKEFAKE",
		"AWS_SECRET_ACCESS_KEY":           "fake/fake/fake/fake/fake/fake/fake/fake0",
		"AWS_SESSION_TOKEN":               "fake-session-token",
		"AWS_XRAY_DAEMON_ADDRESS":         "127.0.0.1:2000",
		"AWS_XRAY_CONTEXT_MISSING":        "LOG_ERROR",
		"AWS_ENDPOINT_URL":                closed,
	}
	for k, v := range t.Env {
		e[k] = v
	}
	return e
}

// measure starts bin with env and returns the time from process start to its
// first `next` request.
func measure(bin string, env map[string]string, timeout time.Duration) (time.Duration, error) {
	srv, err := runtimeapi.Start()
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	cmd := exec.Command(bin)
	cmd.Dir = filepath.Dir(bin)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "AWS_LAMBDA_RUNTIME_API="+srv.Addr())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var d time.Duration
	select {
	case <-srv.FirstNext():
		t, _ := srv.FirstNextTime()
		d = t.Sub(start)
	case werr := <-exited:
		return 0, fmt.Errorf("exited before asking for work (%v): %s", werr, firstLine(out.String()))
	case <-srv.InitError():
		err = fmt.Errorf("init error: %s", firstLine(string(srv.InitErrorBody())))
	case <-timer.C:
		err = fmt.Errorf("no request for work within %s: %s", timeout, firstLine(out.String()))
	}
	_ = cmd.Process.Kill()
	<-exited
	return d, err
}

// closedPort returns an http URL on 127.0.0.1 where nothing listens.
func closedPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr, nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return fmt.Sprintf("%s x%d", strings.TrimSpace(v), runtime.NumCPU())
		}
	}
	return runtime.GOARCH
}

func printTable(w io.Writer, rep coldstart.Report) {
	fmt.Fprintf(w, "cold start: process start -> first Runtime API `next` (median of %d, %s, %s, %s)\n", rep.N, rep.Host, rep.CPU, rep.GoVersion)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "bootstrap\tmedian ms\tmin ms\tmax ms\tx floor\tlinux/arm64 bytes\t")
	var skipped []string
	for _, r := range rep.Rows {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%d\t\n", r.Name, r.SizeArm64)
			skipped = append(skipped, r.Name+": "+r.Skipped)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n", r.Name, r.MedianMs, r.MinMs, r.MaxMs, r.Ratio, r.SizeArm64)
	}
	tw.Flush()
	for _, s := range skipped {
		fmt.Fprintln(w, "not measured:", s)
	}
}
