package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/homeregion/homeregion/internal/localstate"
	"github.com/homeregion/homeregion/internal/motoserver"
)

// run starts everything (the resources through provision), prints "ready",
// waits for ctx and stops what it started.
func run(ctx context.Context, o options, provision provisioner, stdout, stderr io.Writer) (err error) {
	start := time.Now()
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	step := func(t time.Time) string { return fmt.Sprintf("(%.1fs)", time.Since(t).Seconds()) }
	log := newLogger(stderr, o.logLevel)
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.dir, err)
	}
	if pid := localstate.Running(o.stateFile); pid != 0 {
		return fmt.Errorf("a local stack is already running (pid %d, state %s): stop it (kill -INT %d) or give -state-file", pid, o.stateFile, pid)
	}

	say("homeregion local stack: regions %s, registry region %s", strings.Join(o.regions, ", "), o.registryRegion)

	// 1. moto_server.
	t := time.Now()
	moto, motoDesc, err := startMoto(ctx, o)
	if err != nil {
		return err
	}
	defer moto.Stop()
	say("  %-22s %s  %s %s", "moto_server", moto.URL, motoDesc, step(t))

	// 2. The zone pair's failover switch (an ARC cluster), then the
	// resources.
	var pair *pairStack
	if o.paired {
		if pair, err = newPairStack(o.pair, o.witness); err != nil {
			return err
		}
		defer pair.close()
	}
	t = time.Now()
	prov, err := provision(ctx, o, moto.URL, pair)
	if err != nil {
		return err
	}
	st := prov.stack
	say("  %-22s %s from %s %s", "provisioned", strings.Join(o.regions, ", "), o.template, step(t))
	for _, w := range st.Warnings {
		say("  %-22s %s", "warning", w)
	}
	for _, n := range st.Notes {
		say("  %-22s %s", "note", n)
	}

	// 3. Per region: Cognito endpoint, orders API, processor.
	// The components run until the defers stop them (servers first, so
	// requests in flight finish), or until one of them fails: the group's
	// context then stops the others and run reports that first failure.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	g, runCtx := errgroup.WithContext(runCtx)
	// failed prefers the component failure that cancelled runCtx to the
	// start-up error it caused ("context canceled"), so run reports the cause.
	failed := func(err error) error {
		if cause := context.Cause(runCtx); runCtx.Err() != nil && cause != nil && !errors.Is(err, cause) {
			return fmt.Errorf("%w (start-up then failed: %v)", cause, err)
		}
		return err
	}
	var runtimes []*regionRuntime
	defer func() {
		for _, rt := range runtimes {
			rt.shutdown()
		}
		cancelRun()
		// A component that fails while stopping (a processor whose drain
		// timed out) is reported too, unless run already failed.
		if werr := g.Wait(); werr != nil && err == nil && !errors.Is(werr, context.Canceled) {
			err = fmt.Errorf("while stopping: %w", werr)
		}
		for _, rt := range runtimes {
			rt.close()
		}
	}()
	// The pair's services: the pair table's proxy first (every function
	// reaches DynamoDB through it), the records and the control endpoint
	// once the regions' APIs run.
	shared := &regionRuntime{}
	runtimes = append(runtimes, shared)
	if pair != nil {
		if err := pair.startProxy(g, moto.URL, st, shared.serve); err != nil {
			return failed(fmt.Errorf("zone pair: %w", err))
		}
		prov.endpoints.dynamodb = pair.proxyURL
	}
	state := localstate.State{Version: localstate.Version, PID: os.Getpid(), MotoURL: moto.URL, RegistryRegion: o.registryRegion, StartedAt: start.UTC()}
	for _, name := range o.regions {
		r := st.Region(name)
		if r == nil {
			return fmt.Errorf("provisioning produced no region %s", name)
		}
		t = time.Now()
		rt, err := startRegion(runCtx, r, o, prov, pair, log, g)
		if err != nil {
			return failed(fmt.Errorf("%s: %w", name, err))
		}
		runtimes = append(runtimes, rt)
		say("  %-22s %s  pool %s, client %s %s", name+" cognito", rt.cognitoURL, r.UserPoolID, r.ClientID, step(t))
		say("  %-22s %s  %s", name+" orders api", rt.ordersURL, strings.Join(prov.ordersAPI.Routes, ", "))
		if rt.partner != "" {
			say("  %-22s %s  %s's users (pool %s)", name+" pair http api", rt.pairURL, rt.partner, st.Region(rt.partner).UserPoolID)
			say("  %-22s %s + %s -> %s", name+" processor", queueName(r.OrdersQueueURL), queueName(r.PairQueueURL), rt.siteDB)
		} else {
			say("  %-22s %s -> %s", name+" processor", queueName(r.OrdersQueueURL), rt.siteDB)
		}
	}
	if pair != nil {
		lines, err := pair.serveRecords(g, runtimes, shared.serve)
		if err != nil {
			return failed(fmt.Errorf("zone pair: %w", err))
		}
		for _, l := range lines {
			name, desc, _ := strings.Cut(l, "\t")
			say("  %-22s %s", name, desc)
		}
		if state.ControlURL, err = shared.serve(g, "control", pair); err != nil {
			return failed(err)
		}
		say("  %-22s %s  POST /regions/{region}/impair|restore, GET /switch", "control", state.ControlURL)
	}
	for _, rt := range runtimes {
		if rt.region != nil {
			state.Regions = append(state.Regions, regionState(rt.region, rt))
		}
	}

	// 4. Alarm emulation.
	lines, err := startAlarms(runCtx, prov, log, g)
	if err != nil {
		return failed(fmt.Errorf("alarms: %w", err))
	}
	for _, l := range lines {
		name, desc, _ := strings.Cut(l, "\t")
		say("  %-22s %s", name, desc)
	}

	if err := ctx.Err(); err != nil {
		return err // Ctrl-C during start-up: the defers stop what started
	}
	if err := localstate.Write(o.stateFile, state); err != nil {
		return err
	}
	defer os.Remove(o.stateFile)
	printTryIt(stdout, state)
	motoLog := ""
	if moto.Started() {
		motoLog = ", moto's in " + filepath.Join(o.dir, "moto.log")
	}
	say("ready in %.1fs (state: %s; logs on stderr%s; Ctrl-C stops everything)", time.Since(start).Seconds(), o.stateFile, motoLog)

	select {
	case <-ctx.Done():
		say("stopping (Ctrl-C)...")
	case <-runCtx.Done():
		err = context.Cause(runCtx)
		say("stopping: %v", err)
	}
	return err
}

// startMoto adopts -moto or starts moto_server with its log under o.dir.
func startMoto(ctx context.Context, o options) (*motoserver.Server, string, error) {
	if o.moto != "" {
		s, err := motoserver.Adopt(ctx, o.moto, 10*time.Second)
		if err != nil {
			return nil, "", err
		}
		return s, "(given with -moto: left running on exit)", nil
	}
	logPath := filepath.Join(o.dir, "moto.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, "", fmt.Errorf("moto log: %w", err)
	}
	defer f.Close() // the child has its own descriptor
	s, err := motoserver.Start(ctx, motoserver.Options{Log: f})
	if errors.Is(err, motoserver.ErrNotFound) {
		return nil, "", fmt.Errorf("%w (or give a running one with -moto URL)", err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w (see %s)", err, logPath)
	}
	return s, fmt.Sprintf("(pid %d, log %s)", s.PID(), logPath), nil
}

// newLogger is a readable text logger: time, level, component, message.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
		}
		return a
	}}))
}

func queueName(url string) string {
	return url[strings.LastIndex(url, "/")+1:]
}

// named prefixes a component's failure with its name, for errgroup.Group.Go.
func named(name string, f func() error) func() error {
	return func() error {
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
}
