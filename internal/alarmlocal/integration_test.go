package alarmlocal

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/alarm"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func TestEmulatorAgainstMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	defs, err := provision.LoadFiles("../provision/testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := provision.Apply(ctx, defs, provision.Options{Endpoint: srv.URL, Regions: []string{"eu-west-1"}, StackName: "alarmlocal"})
	if err != nil {
		t.Fatal(err)
	}
	r := st.Region("eu-west-1")
	cfg := srv.Config("eu-west-1")
	cw := cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol)
	q := sqs.NewFromConfig(cfg)
	var mu sync.Mutex
	var got []alarm.Transition
	var actions []string
	inv := func(action string) Invoker {
		return func(_ context.Context, p []byte) error {
			tr, err := alarm.Parse(p)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			got, actions = append(got, tr), append(actions, action)
			return nil
		}
	}
	e, err := New(Options{Logger: quiet, Region: r, CloudWatch: cw, SQS: q, Period: 100 * time.Millisecond,
		Invokers: map[string]Invoker{"scale": inv("scale"), "promote": inv("promote")}})
	if err != nil {
		t.Fatal(err)
	}
	depth, _ := r.Alarm("QueueDepthAlarm")
	stalled, _ := r.Alarm("StalledSiteAlarm")
	state := func(name string) cwtypes.StateValue {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
		if err != nil || len(out.MetricAlarms) != 1 {
			t.Fatalf("describe %s: %v", name, err)
		}
		return out.MetricAlarms[0].StateValue
	}
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if s := state(depth.Name); s != cwtypes.StateValueOk {
		t.Fatalf("empty queue: depth alarm %s, want OK", s)
	}
	// A backlog above the threshold (20) for 2 of 3 periods.
	for i := 0; i < 3; i++ {
		var batch []sqstypes.SendMessageBatchRequestEntry
		for j := 0; j < 10; j++ {
			batch = append(batch, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String("{}")})
		}
		if _, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(r.OrdersQueueURL), Entries: batch}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := e.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := state(depth.Name); s != cwtypes.StateValueAlarm {
		t.Fatalf("backlog of 30: depth alarm %s, want ALARM", s)
	}
	// Stalled site set by hand, as with aws cloudwatch set-alarm-state.
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(stalled.Name), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("by hand")}); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var seen []string
	for i, tr := range got {
		seen = append(seen, fmt.Sprintf("%s:%s:%s->%s", actions[i], tr.AlarmName, tr.From, tr.To))
	}
	// moto creates alarms in OK (CloudWatch: INSUFFICIENT_DATA), so the
	// first evaluation of an empty queue is no transition here.
	want := []string{
		"scale:" + depth.Name + ":OK->ALARM",
		"promote:" + stalled.Name + ":OK->ALARM",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("deliveries\n got %v\nwant %v", seen, want)
	}
	if got[1].Reason != "by hand" {
		t.Errorf("manual reason = %q", got[1].Reason)
	}
}

// A metric published to moto (the processor's heartbeat) is read back over
// the template's period; a site that published nothing has no datapoint.
func TestStatisticFromMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	cfg := srv.Config("eu-west-1")
	cw := cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol)
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Homeregion/Processor"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Heartbeat"), Value: aws.Float64(1), Timestamp: aws.Time(time.Now()),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("Site"), Value: aws.String("stat-site")}}}}}); err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Logger: quiet, Region: &provision.Region{Region: "eu-west-1"}, CloudWatch: cw, SQS: sqs.NewFromConfig(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		site string
		ok   bool
	}{{"stat-site", true}, {"silent-site", false}} {
		a := provision.AlarmDef{Name: "hb", Namespace: "Homeregion/Processor", MetricName: "Heartbeat", Statistic: "Sum", Period: 60,
			Dimensions: map[string]string{"Site": tt.site}}
		v, ok, err := e.sample(ctx, a, time.Now())
		if err != nil || ok != tt.ok || (ok && v != 1) {
			t.Errorf("%s: sample = %v, %v, %v; want ok=%v value 1", tt.site, v, ok, err, tt.ok)
		}
	}
}
