package alarmlocal

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/alarm"
)

type fakeCW struct {
	states     map[string]cwtypes.StateValue
	sets       []string
	metricData func(*cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error)
}

func (f *fakeCW) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	out := &cloudwatch.DescribeAlarmsOutput{}
	for _, n := range in.AlarmNames {
		if s, ok := f.states[n]; ok {
			out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: aws.String(n), StateValue: s})
		}
	}
	return out, nil
}

func (f *fakeCW) SetAlarmState(_ context.Context, in *cloudwatch.SetAlarmStateInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.SetAlarmStateOutput, error) {
	f.states[*in.AlarmName] = in.StateValue
	f.sets = append(f.sets, *in.AlarmName+"="+string(in.StateValue))
	return &cloudwatch.SetAlarmStateOutput{}, nil
}

func (f *fakeCW) GetMetricStatistics(context.Context, *cloudwatch.GetMetricStatisticsInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error) {
	return &cloudwatch.GetMetricStatisticsOutput{}, nil
}

func (f *fakeCW) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	if f.metricData == nil {
		return &cloudwatch.GetMetricDataOutput{}, nil
	}
	return f.metricData(in)
}

type fakeSQS struct{ visible, inFlight int }

func (f *fakeSQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("http://q/" + *in.QueueName)}, nil
}

func (f *fakeSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
		"ApproximateNumberOfMessages": strconv.Itoa(f.visible), "ApproximateNumberOfMessagesNotVisible": strconv.Itoa(f.inFlight),
	}}, nil
}

func testRegion() *provision.Region {
	return &provision.Region{
		Region: "eu-west-1",
		Functions: map[string]provision.Function{
			"ScaleFunction":   {LogicalID: "ScaleFunction", ARN: "arn:scale", Action: "scale"},
			"PromoteFunction": {LogicalID: "PromoteFunction", ARN: "arn:promote", Action: "promote"},
		},
		Alarms: []provision.AlarmDef{
			{Name: "depth", ARN: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:depth", Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible",
				Dimensions: map[string]string{"QueueName": "orders"}, Statistic: "Maximum", Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 2,
				Threshold: 20, ComparisonOperator: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching",
				AlarmActions: []string{"arn:scale"}, OKActions: []string{"arn:scale"}},
			{Name: "stalled", ARN: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:stalled", Namespace: "AWS/SQS", MetricName: "ApproximateAgeOfOldestMessage",
				Dimensions: map[string]string{"QueueName": "orders"}, Period: 60, EvaluationPeriods: 2, DatapointsToAlarm: 2,
				Threshold: 300, ComparisonOperator: "GreaterThanThreshold", AlarmActions: []string{"arn:promote"}},
		},
	}
}

func TestEmulatorTransitions(t *testing.T) {
	cw := &fakeCW{states: map[string]cwtypes.StateValue{"depth": "INSUFFICIENT_DATA", "stalled": "INSUFFICIENT_DATA"}}
	q := &fakeSQS{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var got []alarm.Transition
	var actions []string
	inv := func(action string) Invoker {
		return func(_ context.Context, p []byte) error {
			tr, err := alarm.Parse(p)
			if err != nil {
				t.Fatalf("payload does not parse: %v\n%s", err, p)
			}
			got = append(got, tr)
			actions = append(actions, action)
			return nil
		}
	}
	e, err := New(Options{Logger: quiet, Region: testRegion(), CloudWatch: cw, SQS: q, Period: 2 * time.Second,
		Invokers: map[string]Invoker{"scale": inv("scale"), "promote": inv("promote")}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tick := func(visible int) {
		t.Helper()
		q.visible = visible
		now = now.Add(2 * time.Second)
		if err := e.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name     string
		visible  int
		byHand   cwtypes.StateValue
		wantSets int
		wantLast string // action:alarm:to of the last delivery
	}{
		{"first datapoint: OK", 0, "", 2, "scale:depth:OK"},
		{"one breach of 2 needed", 30, "", 2, "scale:depth:OK"},
		{"second breach: ALARM, scale", 40, "", 3, "scale:depth:ALARM"},
		{"backlog drains: OK needs 2 good of 3", 0, "", 3, "scale:depth:ALARM"},
		{"OK again", 0, "", 4, "scale:depth:OK"},
		{"stalled set by hand: promote", 0, "ALARM", 4, "promote:stalled:ALARM"},
		{"next period re-evaluates stalled to OK (no OK action)", 0, "", 5, "promote:stalled:ALARM"},
	}
	for _, s := range steps {
		if s.byHand != "" {
			cw.states["stalled"] = s.byHand
		}
		tick(s.visible)
		if len(cw.sets) != s.wantSets {
			t.Fatalf("%s: SetAlarmState calls %v, want %d", s.name, cw.sets, s.wantSets)
		}
		last := got[len(got)-1]
		if g := actions[len(actions)-1] + ":" + last.AlarmName + ":" + string(last.To); g != s.wantLast {
			t.Fatalf("%s: last delivery %s, want %s", s.name, g, s.wantLast)
		}
	}
	if got[0].From != alarm.StateInsufficientData || got[0].Region != "eu-west-1" || got[0].AlarmARN == "" {
		t.Errorf("first transition = %+v", got[0])
	}
}

func TestAgeOfOldestMessageEstimate(t *testing.T) {
	q := &fakeSQS{}
	now := time.Unix(1000, 0)
	e, err := New(Options{Logger: quiet, Region: testRegion(), CloudWatch: &fakeCW{states: map[string]cwtypes.StateValue{}}, SQS: q, Period: 2 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	a := testRegion().Alarms[1]
	steps := []struct {
		visible, inFlight int
		dt                time.Duration
		want              float64
	}{
		{0, 0, 0, 0},
		{5, 0, 2 * time.Second, 0},  // messages appear
		{5, 0, 2 * time.Second, 60}, // 2 s stuck = one 60 s template period
		{5, 0, 4 * time.Second, 180},
		{4, 0, 2 * time.Second, 0}, // progress: the total went down
		{9, 0, 2 * time.Second, 60},
		{9, 1, 2 * time.Second, 0}, // progress: a consumer holds one
		{12, 0, 2 * time.Second, 60},
		{0, 0, 2 * time.Second, 0},
	}
	for i, s := range steps {
		now = now.Add(s.dt)
		q.visible, q.inFlight = s.visible, s.inFlight
		v, ok, err := e.sample(context.Background(), a, now)
		if err != nil || !ok || v != s.want {
			t.Fatalf("step %d: age = %v, %v, %v; want %v", i, v, ok, err, s.want)
		}
	}
}

func TestNewRejectsBadRule(t *testing.T) {
	r := testRegion()
	r.Alarms[0].DatapointsToAlarm = 9
	if _, err := New(Options{Logger: quiet, Region: r, CloudWatch: &fakeCW{}, SQS: &fakeSQS{}}); err == nil {
		t.Fatal("New accepted DatapointsToAlarm > EvaluationPeriods")
	}
}

// A metric math alarm the emulator cannot evaluate (here: no queries) is
// never sampled or set by it; a state set by hand is still delivered.
func TestMetricMathAlarmOnlyByHand(t *testing.T) {
	r := testRegion()
	r.Alarms = []provision.AlarmDef{{Name: "rate", ARN: "arn:rate", MetricMath: true, Namespace: "AWS/ApiGateway", MetricName: "5xx",
		EvaluationPeriods: 1, DatapointsToAlarm: 1, Threshold: 5, ComparisonOperator: "GreaterThanThreshold", AlarmActions: []string{"arn:scale"}}}
	cw := &fakeCW{states: map[string]cwtypes.StateValue{"rate": "OK"}}
	var got []string
	e, err := New(Options{Logger: quiet, Region: r, CloudWatch: cw, SQS: &fakeSQS{}, Invokers: map[string]Invoker{"scale": func(_ context.Context, p []byte) error {
		tr, err := alarm.Parse(p)
		got = append(got, string(tr.To))
		return err
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if i == 1 {
			cw.states["rate"] = "ALARM"
		}
		if err := e.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(cw.sets) != 0 || len(got) != 1 || got[0] != "ALARM" {
		t.Fatalf("sets %v, deliveries %v; want none and [ALARM]", cw.sets, got)
	}
}

// quiet keeps the emulator's transition log out of test output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
