package alarmlocal

import (
	"strings"
	"testing"

	"github.com/homeregion/homeregion/shared/alarm"
)

func pts(vals ...float64) []Datapoint {
	out := make([]Datapoint, len(vals))
	for i, v := range vals {
		if v < 0 {
			out[i] = Datapoint{Missing: true}
		} else {
			out[i] = Datapoint{Value: v}
		}
	}
	return out
}

const miss = -1

func TestRuleEvaluate(t *testing.T) {
	depth := Rule{Threshold: 20, ComparisonOperator: "GreaterThanOrEqualToThreshold", EvaluationPeriods: 3, DatapointsToAlarm: 2}
	stalled := Rule{Threshold: 300, ComparisonOperator: "GreaterThanThreshold", EvaluationPeriods: 5, DatapointsToAlarm: 3, TreatMissingData: "breaching"}
	heartbeat := Rule{Threshold: 1, ComparisonOperator: "LessThanThreshold", EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: "breaching"}
	with := func(r Rule, treat string) Rule { r.TreatMissingData = treat; return r }
	tests := []struct {
		name    string
		rule    Rule
		points  []Datapoint
		current alarm.State
		want    alarm.State
	}{
		{"2 of 3 breach", depth, pts(25, 5, 30), alarm.StateOK, alarm.StateAlarm},
		{"1 of 3 breach", depth, pts(5, 5, 30), alarm.StateAlarm, alarm.StateOK},
		{"threshold is inclusive for >=", depth, pts(20, 20), alarm.StateOK, alarm.StateAlarm},
		{"only last N count", depth, pts(30, 30, 1, 1, 30), alarm.StateOK, alarm.StateOK},
		{"fewer than N points can alarm", depth, pts(30, 30), alarm.StateInsufficientData, alarm.StateAlarm},
		{"all missing (missing)", depth, pts(miss, miss, miss), alarm.StateOK, alarm.StateInsufficientData},
		{"all missing (ignore) keeps state", with(depth, "ignore"), pts(miss, miss, miss), alarm.StateAlarm, alarm.StateAlarm},
		{"missing skipped (missing)", depth, pts(30, miss, 30), alarm.StateOK, alarm.StateAlarm},
		{"missing is good (notBreaching)", with(depth, "notBreaching"), pts(miss, miss, 30), alarm.StateAlarm, alarm.StateOK},
		{"missing is bad (breaching)", with(depth, "breaching"), pts(miss, 1, miss), alarm.StateOK, alarm.StateAlarm},
		{"> is strict", stalled, pts(300, 300, 300, 300, 300), alarm.StateOK, alarm.StateOK},
		{"3 of 5 stalled", stalled, pts(0, 301, 0, 400, 500), alarm.StateOK, alarm.StateAlarm},
		{"heartbeat missing alarms", heartbeat, pts(miss, miss), alarm.StateOK, alarm.StateAlarm},
		{"heartbeat present", heartbeat, pts(miss, 1), alarm.StateAlarm, alarm.StateOK},
		{"<= operator", Rule{Threshold: 0, ComparisonOperator: "LessThanOrEqualToThreshold", EvaluationPeriods: 1, DatapointsToAlarm: 1}, pts(0), alarm.StateOK, alarm.StateAlarm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rule.Evaluate(tt.points, tt.current)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Evaluate = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRuleValidate(t *testing.T) {
	ok := Rule{ComparisonOperator: "GreaterThanThreshold", EvaluationPeriods: 2, DatapointsToAlarm: 2}
	tests := []struct {
		name string
		mod  func(*Rule)
		want string
	}{
		{"zero periods", func(r *Rule) { r.EvaluationPeriods = 0 }, "EvaluationPeriods"},
		{"M > N", func(r *Rule) { r.DatapointsToAlarm = 3 }, "DatapointsToAlarm"},
		{"bad operator", func(r *Rule) { r.ComparisonOperator = "Bigger" }, "ComparisonOperator"},
		{"bad treat", func(r *Rule) { r.TreatMissingData = "maybe" }, "TreatMissingData"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid rule: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.mod(&r)
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
