package alarmlocal

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/httpapilocal"
	"github.com/homeregion/homeregion/internal/metricslocal"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/alarm"
)

// The template's OrdersApi5xxAlarm, evaluated from the HTTP API's metrics
// published to moto: three periods of failing requests raise it and invoke
// the failover function; healthy traffic brings it back to OK.
func TestMetricMathAlarmAgainstMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cw := cloudwatch.NewFromConfig(srv.Config("eu-west-1"), provision.CloudWatchQueryProtocol)
	// The provisioning test template with the 5xx alarm, its API and the
	// failover function added.
	defs, err := provision.LoadFiles("../provision/testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := template.Load("testdata/mathalarm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defs.Templates[0].Resources = append(defs.Templates[0].Resources, extra.Resources...)
	st, err := provision.Apply(ctx, defs, provision.Options{Endpoint: srv.URL, Regions: []string{"eu-west-1"}, StackName: "alarmmath"})
	if err != nil {
		t.Fatal(err)
	}
	r := st.Region("eu-west-1")
	var a provision.AlarmDef
	for _, x := range r.Alarms {
		if x.LogicalID == "OrdersApi5xxAlarm" {
			a = x
		}
	}
	if len(a.Queries) != 3 || a.Queries[0].Dimensions["ApiId"] == "" || a.Queries[0].ReturnData || !a.Queries[2].ReturnData || a.Queries[1].Stat != "SampleCount" {
		t.Fatalf("alarm queries %+v", a.Queries)
	}
	apiID := a.Queries[0].Dimensions["ApiId"]
	var payloads [][]byte
	base := time.Now().Truncate(time.Second).Add(-time.Minute)
	var now time.Time
	e, err := New(Options{Logger: quiet, Region: r, CloudWatch: cw, SQS: sqs.NewFromConfig(srv.Config("eu-west-1")), Period: time.Second,
		Now:      func() time.Time { return now },
		Invokers: map[string]Invoker{"failover": func(_ context.Context, p []byte) error { payloads = append(payloads, p); return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if e.math[a.Name] == nil {
		t.Fatal("the 5xx alarm is not evaluated")
	}
	pub := metricslocal.New(cw, quiet)
	period := 0
	// traffic sends n requests answered with status in the next local
	// period, publishes them and evaluates at the period's end.
	traffic := func(n, status int) {
		t.Helper()
		start := base.Add(time.Duration(period) * time.Second)
		for i := 0; i < n; i++ {
			pub.HTTPAPI(httpapilocal.MetricSample{APIID: apiID, Stage: httpapilocal.Stage, Time: start.Add(time.Duration(i) * 10 * time.Millisecond),
				Status: status, Latency: 3 * time.Millisecond, Integrated: true, IntegrationLatency: 2 * time.Millisecond})
		}
		if err := pub.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		period++
		now = base.Add(time.Duration(period)*time.Second + MetricDelay + 400*time.Millisecond)
		if err := e.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	state := func() cwtypes.StateValue {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{a.Name}})
		if err != nil || len(out.MetricAlarms) != 1 {
			t.Fatalf("describe: %v", err)
		}
		return out.MetricAlarms[0].StateValue
	}
	// 19 failing requests are below the expression's 20-request floor.
	traffic(19, 503)
	for i := 0; i < 2; i++ {
		traffic(30, 503)
		if s := state(); s != cwtypes.StateValueOk {
			t.Fatalf("after %d failing periods: %s, want OK", i+1, s)
		}
	}
	traffic(30, 503)
	if s := state(); s != cwtypes.StateValueAlarm {
		t.Fatalf("after 3 failing periods: %s, want ALARM (points %v)", s, e.points[a.Name])
	}
	if len(payloads) != 1 {
		t.Fatalf("%d deliveries, want 1", len(payloads))
	}
	tr, err := alarm.Parse(payloads[0])
	if err != nil || tr.To != alarm.StateAlarm || tr.AlarmName != a.Name {
		t.Fatalf("payload %+v, %v", tr, err)
	}
	var ev alarm.LambdaEvent
	if err := json.Unmarshal(payloads[0], &ev); err != nil || len(ev.AlarmData.Configuration.Metrics) != 3 ||
		ev.AlarmData.Configuration.Metrics[2].Expression != a.Queries[2].Expression || ev.AlarmData.Configuration.Metrics[1].MetricStat.Metric.Name != "Count" {
		t.Fatalf("payload configuration %+v, %v", ev.AlarmData.Configuration, err)
	}
	// Healthy traffic: 2 of the last 5 breaching after 3 healthy periods.
	for i := 0; i < 2; i++ {
		traffic(30, 202)
		if s := state(); s != cwtypes.StateValueAlarm {
			t.Fatalf("after %d healthy periods: %s, want ALARM", i+1, s)
		}
	}
	traffic(30, 202)
	if s := state(); s != cwtypes.StateValueOk {
		t.Fatalf("after 3 healthy periods: %s, want OK (points %v)", s, e.points[a.Name])
	}
	if len(payloads) != 2 {
		t.Fatalf("%d deliveries, want 2", len(payloads))
	}
	if tr, err := alarm.Parse(payloads[1]); err != nil || tr.From != alarm.StateAlarm || tr.To != alarm.StateOK {
		t.Fatalf("second payload %+v, %v", tr, err)
	}
}
