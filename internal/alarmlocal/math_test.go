package alarmlocal

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/alarm"
)

func rateAlarm(name, expr string) provision.AlarmDef {
	dims := map[string]string{"ApiId": "api1"}
	return provision.AlarmDef{Name: name, ARN: "arn:" + name, MetricMath: true, Namespace: "AWS/ApiGateway", MetricName: "5xx", Dimensions: dims,
		EvaluationPeriods: 1, DatapointsToAlarm: 1, Threshold: 5, ComparisonOperator: "GreaterThanThreshold", TreatMissingData: "notBreaching",
		AlarmActions: []string{"arn:failover"},
		Queries: []provision.MetricQuery{
			{ID: "requests", Namespace: "AWS/ApiGateway", MetricName: "Count", Dimensions: dims, Period: 60, Stat: "SampleCount"},
			{ID: "errors", Namespace: "AWS/ApiGateway", MetricName: "5xx", Dimensions: dims, Period: 60, Stat: "Sum"},
			{ID: "rate", Expression: expr, ReturnData: true},
		}}
}

// One GetMetricData call per tick reads every metric of the alarm over the
// last local period, delayed by MetricDelay; the expression is evaluated here.
func TestMathAlarmReadsLastPeriod(t *testing.T) {
	r := &provision.Region{Region: "eu-west-1", Alarms: []provision.AlarmDef{rateAlarm("rate", "IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)")},
		Functions: map[string]provision.Function{"FailoverFunction": {ARN: "arn:failover", Action: "failover"}}}
	var calls []string
	cw := &fakeCW{states: map[string]cwtypes.StateValue{"rate": "OK"}, metricData: func(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
		var qs []string
		out := &cloudwatch.GetMetricDataOutput{}
		for _, q := range in.MetricDataQueries {
			ms := q.MetricStat
			qs = append(qs, fmt.Sprintf("%s=%s/%s%v %s %ds return=%v", aws.ToString(q.Id), aws.ToString(ms.Metric.Namespace), aws.ToString(ms.Metric.MetricName),
				*ms.Metric.Dimensions[0].Value, aws.ToString(ms.Stat), aws.ToInt32(ms.Period), aws.ToBool(q.ReturnData)))
			v := map[string]float64{"requests": 40, "errors": 4}[aws.ToString(q.Id)]
			out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, Values: []float64{v}})
		}
		calls = append(calls, fmt.Sprintf("%s..%s %s", in.StartTime.Format("15:04:05.000"), in.EndTime.Format("15:04:05.000"), strings.Join(qs, "; ")))
		return out, nil
	}}
	var got []alarm.Transition
	now := time.Date(2026, 1, 2, 10, 0, 5, 700e6, time.UTC)
	e, err := New(Options{Logger: quiet, Region: r, CloudWatch: cw, SQS: &fakeSQS{}, Period: 2 * time.Second, Now: func() time.Time { return now },
		Invokers: map[string]Invoker{"failover": func(_ context.Context, p []byte) error {
			tr, err := alarm.Parse(p)
			got = append(got, tr)
			return err
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "10:00:02.000..10:00:04.000 errors=AWS/ApiGateway/5xxapi1 Sum 2s return=true; requests=AWS/ApiGateway/Countapi1 SampleCount 2s return=true"
	if len(calls) != 1 || calls[0] != want {
		t.Fatalf("GetMetricData calls\n got %q\nwant %q", calls, want)
	}
	// 4 of 40 is 10 % > 5.
	if len(cw.sets) != 1 || cw.sets[0] != "rate=ALARM" || len(got) != 1 || got[0].To != alarm.StateAlarm {
		t.Fatalf("sets %v, deliveries %+v", cw.sets, got)
	}
	if !strings.Contains(got[0].Reason, "[10]") {
		t.Errorf("reason %q", got[0].Reason)
	}
}

// An alarm whose expression uses a function not evaluated here, or whose
// queries do not hold together, is left to states set by hand: logged once,
// never read, never an error.
func TestMathAlarmNotEvaluable(t *testing.T) {
	bad := []provision.AlarmDef{
		rateAlarm("anomaly", "ANOMALY_DETECTION_BAND(errors, 2)"),
		rateAlarm("unknown-id", "errors / nothing"),
	}
	noReturn := rateAlarm("no-return", "errors")
	noReturn.Queries[2].ReturnData = false
	bad = append(bad, noReturn)
	r := &provision.Region{Region: "eu-west-1", Alarms: bad}
	cw := &fakeCW{states: map[string]cwtypes.StateValue{"anomaly": "OK", "unknown-id": "OK", "no-return": "OK"},
		metricData: func(*cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
			t.Fatal("GetMetricData called")
			return nil, nil
		}}
	var logs logtest.Buffer
	e, err := New(Options{Logger: logs.Logger(), Region: r, CloudWatch: cw, SQS: &fakeSQS{}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := e.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String()
	for _, a := range bad {
		if n := strings.Count(out, `"alarm":"`+a.Name+`"`); n != 1 {
			t.Errorf("%s logged %d times:\n%s", a.Name, n, out)
		}
	}
	if len(cw.sets) != 0 {
		t.Fatalf("sets %v", cw.sets)
	}
}
