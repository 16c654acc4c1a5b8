package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/homeregion/homeregion/internal/alarmlocal"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/awsconfig"
)

// alarmPeriod is the local evaluation period (one datapoint per alarm).
const alarmPeriod = 2 * time.Second

// startAlarms runs internal/alarmlocal per region; every transition
// invokes the failover function's handler (shared/alarmaction) for the
// alarm's ACTION in-process, configured from the function's environment in
// the template. Each line it returns is "name\tdescription".
func startAlarms(ctx context.Context, p *provisioned, log *slog.Logger, g *errgroup.Group) ([]string, error) {
	st := p.stack
	var parts []string
	for _, r := range st.Regions {
		if len(r.Alarms) == 0 {
			continue
		}
		cfg, err := awsconfig.Load(ctx, r.Region, p.endpoints.env(r.Region, nil), awsconfig.Options{})
		if err != nil {
			return nil, err
		}
		alog := log.With("component", r.Region+"/alarms")
		invokers := map[string]alarmlocal.Invoker{}
		var actions []string
		for _, action := range []string{"failover", "promote", "scale"} {
			f, ok := r.FunctionByAction(action)
			if !ok {
				continue
			}
			// The function's cold start as deployed (alarmaction.Setup:
			// ParseEnv, awsconfig.Load, NewFromAWS) over its environment from
			// the template.
			getenv := p.endpoints.env(r.Region, localTimings(action, f.Env))
			h, err := alarmaction.Setup(ctx, getenv, log.With("component", r.Region+"/"+action))
			if err != nil {
				// Like a Lambda whose cold start fails: its alarm actions fail, the rest runs.
				alog.Error("alarm function not started: its transitions will fail", "function", f.LogicalID, "action", action, "err", err)
				actions = append(actions, action+" (NOT STARTED: "+err.Error()+")")
				continue
			}
			invoke := lambda.NewHandler(h.Handle).Invoke
			invokers[action] = alarmlocal.FromLambda(invoke)
			if every, ok := rateEvery(p.schedules[f.LogicalID]); ok {
				tickSchedule(ctx, g, r.Region, f.LogicalID, every, invoke, log.With("component", r.Region+"/"+action))
				action += " (+ " + p.schedules[f.LogicalID] + " tick)"
			}
			actions = append(actions, action)
		}
		em, err := alarmlocal.New(alarmlocal.Options{
			Region:     r,
			CloudWatch: cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol),
			SQS:        sqs.NewFromConfig(cfg),
			Period:     alarmPeriod,
			Invokers:   invokers,
			Logger:     alog,
			OnEvent: func(e alarmlocal.Event) {
				if e.Err != nil { // the emulator logs every transition; make failures stand out
					alog.Error("alarm action failed", "alarm", e.Alarm, "to", string(e.To), "action", e.Action, "err", e.Err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("%s alarms: %w", r.Region, err)
		}
		g.Go(named(r.Region+" alarms", func() error {
			if err := em.Run(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		}))
		sort.Strings(actions)
		parts = append(parts, fmt.Sprintf("%s alarms\t%d evaluated every %s, transitions invoke: %s", r.Region, len(r.Alarms), alarmPeriod, strings.Join(actions, ", ")))
	}
	if len(parts) == 0 {
		return []string{"alarms\tnone defined by the template"}, nil
	}
	return parts, nil
}

// tickSchedule invokes a function with an EventBridge "Scheduled Event"
// every period, as its Schedule event source would.
func tickSchedule(ctx context.Context, g *errgroup.Group, region, function string, every time.Duration, invoke func(context.Context, []byte) ([]byte, error), log *slog.Logger) {
	g.Go(named(region+" "+function+" schedule", func() error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				payload, _ := json.Marshal(map[string]any{
					"version": "0", "id": uuid.NewString(), "detail-type": "Scheduled Event", "source": "aws.events",
					"account": provision.DefaultAccountID, "time": now.UTC().Format(time.RFC3339), "region": region,
					"resources": []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s-schedule", region, provision.DefaultAccountID, function)},
					"detail":    map[string]any{},
				})
				if _, err := invoke(ctx, payload); err != nil && ctx.Err() == nil {
					log.Error("scheduled invocation failed", "function", function, "err", err)
				} else {
					log.Debug("scheduled invocation", "function", function)
				}
			}
		}
	}))
}

// localHoldDown is the failover function's HOLD_DOWN_SECONDS in the local
// stack (the template's minimum is 60): a fail-back a demo can wait for.
const localHoldDown = "20"

// localTimings is env with the local stack's shorter timings for action.
func localTimings(action string, env map[string]string) map[string]string {
	if action != "failover" {
		return env
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	out["HOLD_DOWN_SECONDS"] = localHoldDown
	return out
}
