package alarmlocal

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/alarm"
)

// BenchmarkRuleEvaluate is one alarm's M-of-N evaluation per local period.
func BenchmarkRuleEvaluate(b *testing.B) {
	r := Rule{Threshold: 1, ComparisonOperator: "LessThanThreshold", EvaluationPeriods: 5, DatapointsToAlarm: 3, TreatMissingData: "breaching"}
	pts := pts(1, miss, 0, 1, miss)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Evaluate(pts, alarm.StateOK); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPayload builds and encodes one alarm action payload (per transition).
func BenchmarkPayload(b *testing.B) {
	a := testRegion().Alarms[0]
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(Payload(a, "eu-west-1", "123456789012", alarm.StateOK, alarm.StateAlarm, "r", at)); err != nil {
			b.Fatal(err)
		}
	}
}
