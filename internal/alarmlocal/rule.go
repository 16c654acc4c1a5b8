// Package alarmlocal emulates CloudWatch alarm evaluation and alarm actions
// for the local stack, because moto stores alarms but never evaluates them or
// fires their actions.
//
// Every local period (seconds, not minutes) the Emulator takes one datapoint
// per alarm from the real state in moto (SQS queue attributes for AWS/SQS
// metrics, GetMetricStatistics for any other namespace, or a caller-supplied
// source such as the processor's heartbeat), applies the alarm's M-of-N rule
// (DatapointsToAlarm of EvaluationPeriods, with its TreatMissingData), and
// sets the new state in moto with SetAlarmState when it changes. It also reads
// every alarm's state back with DescribeAlarms so states set by hand
// (`aws cloudwatch set-alarm-state --endpoint-url ...`) are picked up. Each
// transition is delivered to the alarm's action functions as the CloudWatch
// alarm -> Lambda action payload (shared/alarm.LambdaEvent).
//
// Alarms on metric math expressions (e.g. the orders API's 5xx rate over
// the HTTP API's metrics, published to moto by internal/metricslocal) read
// their metrics with one GetMetricData call per period and evaluate the
// expression here (Expr: IF, FILL, arithmetic, comparisons, AND/OR/NOT). An
// expression using anything else is logged once and left to states set by
// hand, which are delivered all the same.
package alarmlocal

import (
	"fmt"

	"github.com/homeregion/homeregion/shared/alarm"
)

// Rule is an alarm's evaluation rule: DatapointsToAlarm (M) of the last
// EvaluationPeriods (N) datapoints must breach the threshold.
type Rule struct {
	Threshold          float64
	ComparisonOperator string
	EvaluationPeriods  int
	DatapointsToAlarm  int
	// TreatMissingData: missing (default), notBreaching, breaching, ignore.
	TreatMissingData string
}

// Datapoint is one period's value; Missing when the period had no data.
type Datapoint struct {
	Value   float64
	Missing bool
}

// Validate reports a rule CloudWatch would refuse.
func (r Rule) Validate() error {
	if r.EvaluationPeriods < 1 {
		return fmt.Errorf("alarmlocal: EvaluationPeriods %d < 1", r.EvaluationPeriods)
	}
	if r.DatapointsToAlarm < 1 || r.DatapointsToAlarm > r.EvaluationPeriods {
		return fmt.Errorf("alarmlocal: DatapointsToAlarm %d not in 1..%d", r.DatapointsToAlarm, r.EvaluationPeriods)
	}
	if _, err := r.breaches(0); err != nil {
		return err
	}
	switch r.TreatMissingData {
	case "", "missing", "notBreaching", "breaching", "ignore":
	default:
		return fmt.Errorf("alarmlocal: unknown TreatMissingData %q", r.TreatMissingData)
	}
	return nil
}

func (r Rule) breaches(v float64) (bool, error) {
	switch r.ComparisonOperator {
	case "GreaterThanOrEqualToThreshold":
		return v >= r.Threshold, nil
	case "GreaterThanThreshold":
		return v > r.Threshold, nil
	case "LessThanThreshold":
		return v < r.Threshold, nil
	case "LessThanOrEqualToThreshold":
		return v <= r.Threshold, nil
	}
	return false, fmt.Errorf("alarmlocal: unsupported ComparisonOperator %q", r.ComparisonOperator)
}

// Evaluate returns the state the rule gives for the most recent datapoints
// (oldest first; only the last EvaluationPeriods are used) when the alarm is
// currently in state current:
//   - ALARM when at least DatapointsToAlarm datapoints breach (missing ones
//     count as breaching under "breaching", as good under "notBreaching");
//   - with "missing" or "ignore", missing datapoints are skipped; when every
//     datapoint is missing the state is INSUFFICIENT_DATA ("missing") or
//     stays as it is ("ignore");
//   - OK otherwise.
func (r Rule) Evaluate(points []Datapoint, current alarm.State) (alarm.State, error) {
	if err := r.Validate(); err != nil {
		return current, err
	}
	if len(points) > r.EvaluationPeriods {
		points = points[len(points)-r.EvaluationPeriods:]
	}
	breaching, present := 0, 0
	for _, p := range points {
		if p.Missing {
			switch r.TreatMissingData {
			case "breaching":
				breaching++
				present++
			case "notBreaching":
				present++
			}
			continue
		}
		present++
		b, _ := r.breaches(p.Value)
		if b {
			breaching++
		}
	}
	switch {
	case breaching >= r.DatapointsToAlarm:
		return alarm.StateAlarm, nil
	case present == 0 && r.TreatMissingData == "ignore":
		return current, nil
	case present == 0:
		return alarm.StateInsufficientData, nil
	}
	return alarm.StateOK, nil
}
