// Command demo walks through the whole homeregion story against the local
// stack (`make demo`): sign up in the EU, the same e-mail refused in the US
// naming the EU region, sign-in refused in the US and accepted in the EU, an
// order accepted in the EU, its queued message sealed (none of the order
// readable in it), completed by the on-prem processor and stored, opened, in
// the site's database, replayed with the same Idempotency-Key, the user's
// erasure (every place checked empty, the address signing up again in the
// zone's other region), a backlog that scales the primary site out, and a
// stalled primary site that promotes the standby.
//
// It uses the stack a running `make run` describes in its state file, or
// starts cmd/local itself (in its own process group, files under a temporary
// directory), waits for it to be ready and stops it at the end. Every step
// prints one line, PASS or FAIL with its detail; any FAIL, or the overall
// timeout, makes the exit status 1.
//
//	go run ./cmd/demo [-state-file .local/stack.json] [-home eu-west-1] [-away us-east-1] [-peer eu-central-1]
//	                  [-template template.yaml] [-local-bin PATH] [-timeout 5m]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/homeregion/homeregion/internal/localstate"
)

type options struct {
	stateFile string
	home      string // where the user lives (default: the registry region)
	away      string // another region (default: the first other region)
	peer      string // another region of the home zone (default: the first one)
	template  string
	localBin  string
	timeout   time.Duration
	startWait time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.stateFile, "state-file", ".local/stack.json", "state file of a running cmd/local (make run); when none is running, the demo starts its own")
	fs.StringVar(&o.home, "home", "", "the user's home region (default: the stack's registry region)")
	fs.StringVar(&o.away, "away", "", "a region outside the home zone (default: the stack's first other region)")
	fs.StringVar(&o.peer, "peer", "", "another region of the home region's zone, where an erased address signs up again (default: the stack's first one)")
	fs.StringVar(&o.template, "template", "template.yaml", "template the stack was provisioned from (alarm actions' settings)")
	fs.StringVar(&o.localBin, "local-bin", "", "a built cmd/local to start when no stack is running (default: go build ./cmd/local)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "overall time limit, stack start-up included")
	fs.DurationVar(&o.startWait, "start-timeout", 3*time.Minute, "time limit for a stack the demo starts to be ready")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.timeout <= 0 || o.startWait <= 0 {
		return options{}, errors.New("-timeout and -start-timeout must be positive")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, o, os.Stdout))
}

// run finds or starts the stack, walks the story and returns the exit status.
func run(ctx context.Context, o options, w io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rep := &reporter{w: w}
	start := time.Now()

	st, err := localstate.Load(o.stateFile)
	var own *ownStack
	// finish stops a stack the demo started, then prints the summary.
	finish := func() int {
		if own != nil {
			if err := own.stop(); err != nil {
				rep.fail("stack stopped", err.Error())
			} else {
				rep.pass("stack stopped", "cmd/local and everything it started are gone")
			}
		}
		return rep.finish(start)
	}
	switch {
	case err == nil:
		rep.pass("stack", fmt.Sprintf("using the running stack (pid %d, moto %s) from %s", st.PID, st.MotoURL, o.stateFile))
	case errors.Is(err, localstate.ErrNoStack):
		own, st, err = startStack(ctx, o.localBin, o.template, o.startWait)
		if err != nil {
			rep.fail("stack", err.Error())
			return finish()
		}
		rep.pass("stack", fmt.Sprintf("no running stack: started cmd/local (pid %d), ready in %.1fs; its log: %s", st.PID, time.Since(start).Seconds(), own.log))
	default:
		rep.fail("stack", err.Error())
		return finish()
	}

	wk, err := newWalk(ctx, st, o)
	if err != nil {
		rep.fail("setup", err.Error())
		return finish()
	}
	wk.run(ctx, rep)
	if ctx.Err() != nil {
		rep.fail("timeout", fmt.Sprintf("the demo did not finish within %s", o.timeout))
	}
	return finish()
}

// reporter prints one line per step and counts failures.
type reporter struct {
	w              io.Writer
	passed, failed int
}

func (r *reporter) pass(step, detail string) {
	r.passed++
	fmt.Fprintf(r.w, "PASS %-28s %s\n", step, detail)
}

func (r *reporter) fail(step, detail string) {
	r.failed++
	fmt.Fprintf(r.w, "FAIL %-28s %s\n", step, detail)
}

// check reports err (FAIL) or detail (PASS) and says whether it passed.
func (r *reporter) check(step string, detail string, err error) bool {
	if err != nil {
		r.fail(step, err.Error())
		return false
	}
	r.pass(step, detail)
	return true
}

func (r *reporter) finish(start time.Time) int {
	if r.failed > 0 {
		fmt.Fprintf(r.w, "demo FAILED: %d of %d steps failed (%.1fs)\n", r.failed, r.passed+r.failed, time.Since(start).Seconds())
		return 1
	}
	fmt.Fprintf(r.w, "demo passed: %d steps (%.1fs)\n", r.passed, time.Since(start).Seconds())
	return 0
}
