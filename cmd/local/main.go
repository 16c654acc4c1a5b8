// Command local runs the whole homeregion system on one machine with no AWS
// account and no Docker (`make run`): moto_server as the AWS backend, two
// regions provisioned from template.yaml, and per region a Cognito-compatible
// endpoint that runs the three Cognito triggers, the orders HTTP API with
// a JWT authorizer in front of the orders-api handler, the on-prem order
// processor with an embedded SQLite database, and the alarm emulation that
// invokes the failover function. Handlers run in-process through
// lambda.NewHandler, the same JSON path as the Lambda runtime.
//
// It prints one line per component as it comes up, the endpoints and
// copy-paste commands, writes a state file for tools (cmd/demo) and prints
// "ready". Ctrl-C (or SIGTERM) stops everything it started, moto_server's
// process group included, and nothing else.
//
//	go run ./cmd/local [-moto URL] [-regions eu-west-1,us-east-1,eu-central-1] [-registry-region eu-west-1] [-pair eu-west-1:eu-central-1]
//	                   [-state-file .local/stack.json] [-dir .local] [-template template.yaml] [-log-level info]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/residency"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// options are the command-line flags.
type options struct {
	moto           string   // adopt this moto_server instead of starting one
	regions        []string // local regions
	registryRegion string   // where residency claims are written
	dir            string   // working directory for logs, databases, state
	stateFile      string   // JSON state for tools (cmd/demo)
	template       string   // template.yaml
	logLevel       string   // debug, info, warn, error
	// pair is the zone pair (-pair), when paired; witness its table's
	// witness region.
	pair    [2]string
	paired  bool
	witness string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var regions, pair string
	fs.StringVar(&o.moto, "moto", "", "use the moto_server at this URL instead of starting one (it is never stopped)")
	fs.StringVar(&regions, "regions", "eu-west-1,us-east-1,eu-central-1", "comma-separated local regions")
	fs.StringVar(&o.registryRegion, "registry-region", "eu-west-1", "region where residency claims are written (one of -regions)")
	fs.StringVar(&o.dir, "dir", ".local", "directory for logs and the site databases")
	fs.StringVar(&o.stateFile, "state-file", "", "state file for tools such as cmd/demo (default <dir>/stack.json)")
	fs.StringVar(&o.template, "template", "template.yaml", "SAM template the resources are provisioned from")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&pair, "pair", "eu-west-1:eu-central-1", "zone pair REGION:REGION (two of -regions in one residency zone) that serve each other's users, or none")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, r := range strings.Split(regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.regions = append(o.regions, r)
		}
	}
	if len(o.regions) == 0 {
		return options{}, errors.New("-regions: at least one region is required")
	}
	for _, r := range append(slices.Clone(o.regions), o.registryRegion) {
		if !awsname.Region(r) {
			return options{}, fmt.Errorf("%q is not an AWS region name", r)
		}
	}
	if len(uniq(o.regions)) != len(o.regions) {
		return options{}, errors.New("-regions: a region is listed twice")
	}
	if !slices.Contains(o.regions, o.registryRegion) {
		return options{}, fmt.Errorf("-registry-region %s is not one of -regions %s", o.registryRegion, strings.Join(o.regions, ","))
	}
	var err error
	if o.pair, o.paired, err = parsePair(pair, o.regions); err != nil {
		return options{}, err
	}
	if o.paired {
		policy, err := residency.Default()
		if err != nil {
			return options{}, err
		}
		zp, err := zonepair.Parse(policy, o.pair[0], o.pair[1])
		if err != nil {
			return options{}, fmt.Errorf("-pair: %w", err)
		}
		o.witness = zp.Witness
	}
	if o.stateFile == "" {
		o.stateFile = filepath.Join(o.dir, "stack.json")
	}
	switch strings.ToLower(o.logLevel) {
	case "debug", "info", "warn", "error":
	default:
		return options{}, fmt.Errorf("-log-level %q: want debug, info, warn or error", o.logLevel)
	}
	return o, nil
}

func uniq(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once (moto still gets SIGTERM: Pdeathsig)
	}()
	if err := run(ctx, o, provisionStack, os.Stdout, os.Stderr); err != nil {
		if ctx.Err() != nil { // Ctrl-C during start-up: what was started is already stopped
			fmt.Println("stopped: interrupted during start-up")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
	fmt.Println("stopped: every component and the moto_server this run started")
}
