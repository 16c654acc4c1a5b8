package alarmlocal

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/homeregion/homeregion/internal/provision"
)

// mathAlarm is a metric math alarm the emulator evaluates: the metrics it
// reads and the expressions over them.
type mathAlarm struct {
	name    string
	ret     string // the id whose value the threshold applies to
	exprs   map[string]*Expr
	metrics map[string]provision.MetricQuery
}

// compileMath parses a's queries. An error (an unsupported function, no or
// several ReturnData entries, an id that names nothing) means the alarm is
// not evaluable locally.
func compileMath(a provision.AlarmDef) (*mathAlarm, error) {
	m := &mathAlarm{name: a.Name, exprs: map[string]*Expr{}, metrics: map[string]provision.MetricQuery{}}
	for _, q := range a.Queries {
		if q.ReturnData {
			if m.ret != "" {
				return nil, fmt.Errorf("both %s and %s return data", m.ret, q.ID)
			}
			m.ret = q.ID
		}
		switch {
		case q.Expression != "":
			x, err := ParseExpr(q.Expression)
			if err != nil {
				return nil, err
			}
			m.exprs[q.ID] = x
		case q.MetricName != "":
			m.metrics[q.ID] = q
		default:
			return nil, fmt.Errorf("query %s has neither a metric nor an expression", q.ID)
		}
	}
	if m.ret == "" {
		return nil, errors.New("no query returns data")
	}
	for id, x := range m.exprs {
		for _, ref := range x.IDs() {
			if _, ok := m.metrics[ref]; !ok && m.exprs[ref] == nil {
				return nil, fmt.Errorf("expression %s reads unknown id %s", id, ref)
			}
		}
	}
	return m, nil
}

// MetricDelay is how long after a local period ends its metrics are read
// for a metric math alarm: datapoints published in batches (metricslocal
// flushes more often than that) arrive a little after the request they
// count, as CloudWatch too evaluates a period once its data has arrived.
const MetricDelay = time.Second

// mathSample reads every metric of m over the last local period (which
// stands for the template's period of each metric; whole seconds, at least
// one) with one GetMetricData call and evaluates the returned expression.
// The window ends at the current second less MetricDelay, so successive
// ticks read adjacent windows when Period is whole seconds.
//
// GetMetricData, not GetMetricStatistics: moto 5.2.1's GetMetricStatistics
// also counts datapoints with more dimensions than asked (API Gateway's
// ApiId+Stage ones under ApiId), while its GetMetricData matches the
// dimensions exactly, as CloudWatch does.
func (e *Emulator) mathSample(ctx context.Context, m *mathAlarm, now time.Time) (float64, bool, error) {
	window := e.o.Period.Truncate(time.Second)
	if window < time.Second {
		window = time.Second
	}
	end := now.Truncate(time.Second).Add(-MetricDelay)
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(end.Add(-window)), EndTime: aws.Time(end)}
	ids := make([]string, 0, len(m.metrics))
	for id := range m.metrics {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		q := m.metrics[id]
		var dims []cwtypes.Dimension
		for _, k := range sortedKeys(q.Dimensions) {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(q.Dimensions[k])})
		}
		in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(true),
			MetricStat: &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String(q.Namespace), MetricName: aws.String(q.MetricName), Dimensions: dims},
				Period: aws.Int32(int32(window / time.Second)), Stat: aws.String(q.Stat)}})
	}
	got := map[string]Datapoint{}
	for _, id := range ids {
		got[id] = Datapoint{Missing: true}
	}
	for {
		out, err := e.o.CloudWatch.GetMetricData(ctx, in)
		if err != nil {
			return 0, false, fmt.Errorf("metric data: %w", err)
		}
		for _, r := range out.MetricDataResults {
			if id := aws.ToString(r.Id); len(r.Values) > 0 && got[id].Missing {
				got[id] = Datapoint{Value: r.Values[0]}
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	d, err := m.eval(m.ret, got, map[string]bool{})
	if err != nil {
		return 0, false, err
	}
	return d.Value, !d.Missing, nil
}

// eval returns id's datapoint: a metric's, or its expression's over the
// others.
func (m *mathAlarm) eval(id string, metrics map[string]Datapoint, visiting map[string]bool) (Datapoint, error) {
	if d, ok := metrics[id]; ok {
		return d, nil
	}
	x := m.exprs[id]
	if x == nil {
		return Datapoint{}, fmt.Errorf("unknown id %s", id)
	}
	if visiting[id] {
		return Datapoint{}, fmt.Errorf("expression %s refers to itself", id)
	}
	visiting[id] = true
	defer delete(visiting, id)
	return x.Eval(func(ref string) (Datapoint, error) { return m.eval(ref, metrics, visiting) })
}
