package alarmaction

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/alarm"
)

func BenchmarkDecideScale(b *testing.B) {
	cfg := scaleConfig()
	st := State{Version: 7, ChangedAt: time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC)}
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d := DecideScale(cfg, st, i%200, 3, now)
		if d.Desired < 0 {
			b.Fatal(d)
		}
	}
}

func BenchmarkDecideFailover(b *testing.B) {
	cfg := failoverConfig(FailbackAuto)
	st := State{Version: 7, FailedOver: true, ChangedAt: time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC), LastAlarm: alarm.StateOK}
	now := time.Date(2026, 1, 2, 2, 5, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if d := DecideFailover(cfg, st, true, Trigger{To: alarm.StateOK}, now); d.Change {
			b.Fatal(d)
		}
	}
}

// BenchmarkProcess is the whole in-process path of one delivery with
// in-memory fakes: parse, claim, load, decide, conditional save, act, finish
// (no network: the AWS round trips are 4-6 per acted event in production).
func BenchmarkProcess(b *testing.B) {
	for _, form := range []string{"lambda", "sns"} {
		b.Run("failover-"+form, func(b *testing.B) {
			c := newClock()
			hc := &fakeHealthChecks{}
			h := mustNew(b, failoverConfig(FailbackAuto), Deps{HealthChecks: hc, Store: newMemStore(), Now: c.now})
			payloads := make([]json.RawMessage, 1024)
			for i := range payloads {
				from, to := alarm.StateOK, alarm.StateAlarm
				if i%2 == 1 {
					from, to = to, from
				}
				ts := c.at(time.Duration(i) * time.Minute)
				arn := fmt.Sprintf("arn:aws:cloudwatch:eu-west-1:1:alarm:a%d", i/1024)
				if form == "sns" {
					payloads[i] = snsEvent(arn, from, to, ts)
				} else {
					payloads[i] = event(arn, from, to, ts)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if i%len(payloads) == 0 && i > 0 {
					b.StopTimer()
					h.deps.Store = newMemStore()
					b.StartTimer()
				}
				c.advance(time.Minute)
				if _, err := h.Process(context.Background(), payloads[i%len(payloads)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("scale-tick", func(b *testing.B) {
		c := newClock()
		svc := &fakeServices{desired: 2}
		visible := 0
		h := mustNew(b, scaleConfig(), Deps{Services: svc, Queue: queueFunc(func() (int, error) { return visible, nil }), Store: newMemStore(), Now: c.now})
		tickPayload := json.RawMessage(tick)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			visible = (i % 7) * 9
			c.advance(time.Minute)
			if _, err := h.Process(context.Background(), tickPayload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		c := newClock()
		h := mustNew(b, failoverConfig(FailbackAuto), Deps{HealthChecks: &fakeHealthChecks{}, Store: newMemStore(), Now: c.now})
		p := event("arn:aws:cloudwatch:eu-west-1:1:alarm:a", alarm.StateOK, alarm.StateAlarm, c.at(0))
		if _, err := h.Process(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if r, err := h.Process(context.Background(), p); err != nil || r.Outcome != OutcomeDuplicate {
				b.Fatal(r, err)
			}
		}
	})
}
