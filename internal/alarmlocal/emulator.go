package alarmlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/alarm"
)

// CloudWatchAPI is the part of the CloudWatch client the emulator uses. Build
// it with provision.CloudWatchQueryProtocol: moto 5.2.1 does not speak CBOR.
type CloudWatchAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	SetAlarmState(ctx context.Context, in *cloudwatch.SetAlarmStateInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.SetAlarmStateOutput, error)
	GetMetricStatistics(ctx context.Context, in *cloudwatch.GetMetricStatisticsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// SQSAPI is the part of the SQS client the emulator uses.
type SQSAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Invoker delivers an alarm action payload to a function, e.g.
// lambda.NewHandler(h.Handle).Invoke wrapped to drop the response.
type Invoker func(ctx context.Context, payload []byte) error

// Source returns an alarm's current datapoint (ok=false: no data this period).
type Source func(ctx context.Context, a provision.AlarmDef, now time.Time) (value float64, ok bool, err error)

// Event reports one delivered (or failed) transition, for the local stack's output.
type Event struct {
	Alarm    string
	From, To alarm.State
	Manual   bool
	Action   string // failover, promote, scale; "" when the alarm has no action for To
	Err      error
}

// Options configure an Emulator.
type Options struct {
	// Region is the provisioned region whose alarms are evaluated.
	Region *provision.Region
	// AccountID for the payload (default provision.DefaultAccountID).
	AccountID  string
	CloudWatch CloudWatchAPI
	SQS        SQSAPI
	// Period is the local evaluation period (default 2s): one datapoint per
	// alarm per period, whatever the template's Period says.
	Period time.Duration
	// Invokers by ACTION (failover, promote, scale).
	Invokers map[string]Invoker
	// Sources by "Namespace/MetricName" override the built-in metric reading.
	Sources map[string]Source
	// OnEvent, when set, is called for every transition.
	OnEvent func(Event)
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Now (default time.Now).
	Now func() time.Time
}

// Emulator evaluates one region's alarms.
type Emulator struct {
	o      Options
	mu     sync.Mutex
	points map[string][]Datapoint
	state  map[string]alarm.State // last state known to be in moto
	queues map[string]*queueTrack
	math   map[string]*mathAlarm // metric math alarms evaluated here, by name
}

type queueTrack struct {
	url        string
	lastTotal  int
	stuckSince time.Time
}

// New returns an Emulator for o.Region's alarms.
func New(o Options) (*Emulator, error) {
	if o.Region == nil || o.CloudWatch == nil || o.SQS == nil {
		return nil, errors.New("alarmlocal: Region, CloudWatch and SQS are required")
	}
	for _, a := range o.Region.Alarms {
		if err := ruleOf(a).Validate(); err != nil {
			return nil, fmt.Errorf("alarm %s: %w", a.Name, err)
		}
	}
	if o.Period <= 0 {
		o.Period = 2 * time.Second
	}
	if o.AccountID == "" {
		o.AccountID = provision.DefaultAccountID
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Emulator{o: o, points: map[string][]Datapoint{}, state: map[string]alarm.State{}, queues: map[string]*queueTrack{}, math: map[string]*mathAlarm{}}
	for _, a := range o.Region.Alarms {
		if !a.MetricMath {
			continue
		}
		m, err := compileMath(a)
		if err != nil {
			o.Logger.Warn("metric math alarm not evaluated locally: only states set by hand", "region", o.Region.Region, "alarm", a.Name, "error", err)
			continue
		}
		e.math[a.Name] = m
	}
	return e, nil
}

func ruleOf(a provision.AlarmDef) Rule {
	return Rule{Threshold: a.Threshold, ComparisonOperator: a.ComparisonOperator, EvaluationPeriods: a.EvaluationPeriods,
		DatapointsToAlarm: a.DatapointsToAlarm, TreatMissingData: a.TreatMissingData}
}

// Run evaluates every Period until ctx is done.
func (e *Emulator) Run(ctx context.Context) error {
	t := time.NewTicker(e.o.Period)
	defer t.Stop()
	for {
		if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.o.Logger.Warn("alarm evaluation failed", "region", e.o.Region.Region, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick does one evaluation round: picks up states set by hand, takes one
// datapoint per alarm, evaluates, sets changed states and delivers every
// transition.
func (e *Emulator) Tick(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	alarms := e.o.Region.Alarms
	if len(alarms) == 0 {
		return nil
	}
	names := make([]string, 0, len(alarms))
	for _, a := range alarms {
		names = append(names, a.Name)
	}
	now := e.o.Now()
	current, err := e.describe(ctx, names)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range alarms {
		cur, ok := current[a.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("alarm %s not found in moto", a.Name))
			continue
		}
		prev, known := e.state[a.Name]
		if !known {
			prev = cur.value
			e.state[a.Name] = cur.value
		}
		if cur.value != prev {
			// Set by hand (or by anyone but us): deliver it like CloudWatch,
			// and let it stand until the next period's evaluation.
			e.state[a.Name] = cur.value
			e.deliver(ctx, a, prev, cur.value, cur.reason, true, now)
			continue
		}
		var v float64
		var has bool
		if a.MetricMath {
			m := e.math[a.Name]
			if m == nil {
				// Not evaluable here (logged by New): only states set by hand.
				continue
			}
			v, has, err = e.mathSample(ctx, m, now)
		} else {
			v, has, err = e.sample(ctx, a, now)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("alarm %s: %w", a.Name, err))
			continue
		}
		pts := append(e.points[a.Name], Datapoint{Value: v, Missing: !has})
		if len(pts) > a.EvaluationPeriods {
			pts = pts[len(pts)-a.EvaluationPeriods:]
		}
		e.points[a.Name] = pts
		next, err := ruleOf(a).Evaluate(pts, e.state[a.Name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if next == e.state[a.Name] {
			continue
		}
		reason := e.reason(a, pts, next)
		if _, err := e.o.CloudWatch.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
			AlarmName: aws.String(a.Name), StateValue: cwtypes.StateValue(next), StateReason: aws.String(reason),
		}); err != nil {
			errs = append(errs, fmt.Errorf("set alarm state %s: %w", a.Name, err))
			continue
		}
		from := e.state[a.Name]
		e.state[a.Name] = next
		e.deliver(ctx, a, from, next, reason, false, now)
	}
	return errors.Join(errs...)
}

type stateNow struct {
	value  alarm.State
	reason string
}

func (e *Emulator) describe(ctx context.Context, names []string) (map[string]stateNow, error) {
	out := map[string]stateNow{}
	in := &cloudwatch.DescribeAlarmsInput{AlarmNames: names}
	for {
		res, err := e.o.CloudWatch.DescribeAlarms(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe alarms: %w", err)
		}
		for _, m := range res.MetricAlarms {
			out[aws.ToString(m.AlarmName)] = stateNow{value: alarm.State(m.StateValue), reason: aws.ToString(m.StateReason)}
		}
		if res.NextToken == nil {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

func (e *Emulator) reason(a provision.AlarmDef, pts []Datapoint, to alarm.State) string {
	var vals []string
	for _, p := range pts {
		if p.Missing {
			vals = append(vals, "missing")
		} else {
			vals = append(vals, strconv.FormatFloat(p.Value, 'f', -1, 64))
		}
	}
	return fmt.Sprintf("Local evaluation: %d of the last %d datapoints %v vs threshold %v (%s, %s): %s",
		a.DatapointsToAlarm, a.EvaluationPeriods, vals, a.Threshold, a.ComparisonOperator, treat(a.TreatMissingData), to)
}

func treat(s string) string {
	if s == "" {
		return "missing"
	}
	return s
}

// sample takes the alarm's datapoint for this period.
func (e *Emulator) sample(ctx context.Context, a provision.AlarmDef, now time.Time) (float64, bool, error) {
	if src, ok := e.o.Sources[a.Namespace+"/"+a.MetricName]; ok {
		return src(ctx, a, now)
	}
	if a.Namespace == "AWS/SQS" && a.Dimensions["QueueName"] != "" {
		return e.sqsMetric(ctx, a, now)
	}
	return e.statistic(ctx, a, now)
}

// sqsMetric reads the queue's attributes. ApproximateAgeOfOldestMessage has
// no attribute: it is estimated as how long the queue has held messages with
// no sign of a consumer (its total, visible + in flight, not going down and
// nothing in flight), scaled by the ratio of the template's period to the
// local one so thresholds keep their meaning (600 s with 60 s periods is 20 s
// locally with 2 s periods). A consumer that receives but never deletes is not
// seen as stalled by this estimate; the processor's heartbeat alarm covers it.
func (e *Emulator) sqsMetric(ctx context.Context, a provision.AlarmDef, now time.Time) (float64, bool, error) {
	name := a.Dimensions["QueueName"]
	q := e.queues[name]
	if q == nil {
		out, err := e.o.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return 0, false, fmt.Errorf("queue %s: %w", name, err)
		}
		q = &queueTrack{url: aws.ToString(out.QueueUrl)}
		e.queues[name] = q
	}
	out, err := e.o.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, false, fmt.Errorf("queue %s attributes: %w", name, err)
	}
	at := func(k sqstypes.QueueAttributeName) float64 {
		f, _ := strconv.ParseFloat(out.Attributes[string(k)], 64)
		return f
	}
	visible := at(sqstypes.QueueAttributeNameApproximateNumberOfMessages)
	inFlight := at(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
	total := int(visible + inFlight)
	switch {
	case total == 0:
		q.stuckSince = time.Time{}
	case q.stuckSince.IsZero() || total < q.lastTotal || inFlight > 0:
		// Progress: the queue went down, or a consumer holds messages.
		q.stuckSince = now
	}
	q.lastTotal = total
	switch a.MetricName {
	case "ApproximateNumberOfMessagesVisible":
		return visible, true, nil
	case "ApproximateNumberOfMessagesNotVisible":
		return inFlight, true, nil
	case "ApproximateNumberOfMessagesDelayed":
		return at(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed), true, nil
	case "ApproximateAgeOfOldestMessage":
		if q.stuckSince.IsZero() {
			return 0, true, nil
		}
		return now.Sub(q.stuckSince).Seconds() * e.timeScale(a), true, nil
	}
	return 0, false, fmt.Errorf("SQS metric %s is not emulated", a.MetricName)
}

// timeScale is template period / local period (1 when unknown).
func (e *Emulator) timeScale(a provision.AlarmDef) float64 {
	if a.Period <= 0 {
		return 1
	}
	return float64(a.Period) / e.o.Period.Seconds()
}

// statistic reads a metric published to moto (e.g. the processor's
// heartbeat, namespace Homeregion/Processor) over the last template period.
func (e *Emulator) statistic(ctx context.Context, a provision.AlarmDef, now time.Time) (float64, bool, error) {
	stat := a.Statistic
	if stat == "" {
		stat = string(cwtypes.StatisticAverage)
	}
	var dims []cwtypes.Dimension
	for _, k := range sortedKeys(a.Dimensions) {
		dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(a.Dimensions[k])})
	}
	// Look back one template period (metrics such as a heartbeat are
	// published at real-time intervals), or one local period when shorter.
	window := e.o.Period
	if p := time.Duration(a.Period) * time.Second; p > window {
		window = p
	}
	out, err := e.o.CloudWatch.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String(a.Namespace), MetricName: aws.String(a.MetricName), Dimensions: dims,
		StartTime: aws.Time(now.Add(-window)), EndTime: aws.Time(now.Add(time.Second)),
		Period: aws.Int32(int32(window/time.Second) + 1), Statistics: []cwtypes.Statistic{cwtypes.Statistic(stat)},
	})
	if err != nil {
		return 0, false, fmt.Errorf("metric %s/%s: %w", a.Namespace, a.MetricName, err)
	}
	if len(out.Datapoints) == 0 {
		return 0, false, nil
	}
	d := out.Datapoints[len(out.Datapoints)-1]
	switch cwtypes.Statistic(stat) {
	case cwtypes.StatisticMaximum:
		return aws.ToFloat64(d.Maximum), true, nil
	case cwtypes.StatisticMinimum:
		return aws.ToFloat64(d.Minimum), true, nil
	case cwtypes.StatisticSum:
		return aws.ToFloat64(d.Sum), true, nil
	case cwtypes.StatisticSampleCount:
		return aws.ToFloat64(d.SampleCount), true, nil
	}
	return aws.ToFloat64(d.Average), true, nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// deliver builds the alarm action payload and invokes the functions the
// alarm's actions for state `to` name.
func (e *Emulator) deliver(ctx context.Context, a provision.AlarmDef, from, to alarm.State, reason string, manual bool, now time.Time) {
	ev := Event{Alarm: a.Name, From: from, To: to, Manual: manual}
	actions := e.actionsFor(a, to)
	if len(actions) == 0 {
		e.report(ev)
		return
	}
	payload, err := json.Marshal(Payload(a, e.o.Region.Region, e.o.AccountID, from, to, reason, now))
	if err != nil {
		ev.Err = err
		e.report(ev)
		return
	}
	for _, act := range actions {
		ev.Action = act
		inv := e.o.Invokers[act]
		if inv == nil {
			ev.Err = fmt.Errorf("no local function for action %q", act)
		} else {
			ev.Err = inv(ctx, payload)
		}
		e.report(ev)
	}
}

func (e *Emulator) report(ev Event) {
	lvl := slog.LevelInfo
	attrs := []any{"region", e.o.Region.Region, "alarm", ev.Alarm, "from", ev.From, "to", ev.To, "manual", ev.Manual, "action", ev.Action}
	if ev.Err != nil {
		lvl = slog.LevelWarn
		attrs = append(attrs, "error", ev.Err)
	}
	e.o.Logger.Log(context.Background(), lvl, "alarm transition", attrs...)
	if e.o.OnEvent != nil {
		e.o.OnEvent(ev)
	}
}

// actionsFor returns the ACTIONs of the functions a's actions for state `to`
// invoke (AlarmActions for ALARM, OKActions for OK).
func (e *Emulator) actionsFor(a provision.AlarmDef, to alarm.State) []string {
	var arns []string
	switch to {
	case alarm.StateAlarm:
		arns = a.AlarmActions
	case alarm.StateOK:
		arns = a.OKActions
	}
	seen := map[string]bool{}
	var out []string
	for _, arn := range arns {
		for _, f := range e.o.Region.Functions {
			if (f.ARN == arn || f.Name == arn) && f.Action != "" && !seen[f.Action] {
				seen[f.Action] = true
				out = append(out, f.Action)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TimeFormat is CloudWatch's timestamp layout in alarm action payloads.
const TimeFormat = "2006-01-02T15:04:05.000-0700"

// Payload builds the CloudWatch alarm -> Lambda action event for a's
// transition from -> to.
func Payload(a provision.AlarmDef, region, account string, from, to alarm.State, reason string, at time.Time) alarm.LambdaEvent {
	ts := at.UTC().Format(TimeFormat)
	ev := alarm.LambdaEvent{
		Source: "aws.cloudwatch", AlarmARN: a.ARN, AccountID: account, Time: ts, Region: region,
		AlarmData: alarm.AlarmData{
			AlarmName:     a.Name,
			State:         alarm.StateValue{Value: to, Reason: reason, Timestamp: ts},
			PreviousState: alarm.StateValue{Value: from, Timestamp: ts},
		},
	}
	for _, q := range a.Queries {
		mq := alarm.MetricDataQuery{ID: q.ID, Expression: q.Expression, ReturnData: q.ReturnData}
		if q.MetricName != "" {
			mq.MetricStat = &alarm.MetricStat{Metric: alarm.Metric{Namespace: q.Namespace, Name: q.MetricName, Dimensions: q.Dimensions},
				Period: int64(q.Period), Stat: q.Stat}
		}
		ev.AlarmData.Configuration.Metrics = append(ev.AlarmData.Configuration.Metrics, mq)
	}
	if a.MetricName != "" && len(a.Queries) == 0 {
		ev.AlarmData.Configuration.Metrics = []alarm.MetricDataQuery{{
			ID: "m1", ReturnData: true,
			MetricStat: &alarm.MetricStat{Metric: alarm.Metric{Namespace: a.Namespace, Name: a.MetricName, Dimensions: a.Dimensions},
				Period: int64(a.Period), Stat: a.Statistic},
		}}
	}
	return ev
}

// FromLambda adapts an in-process Lambda invoke function, such as
// lambda.NewHandler(h.Handle).Invoke, to an Invoker (the response is dropped;
// an error fails the delivery, as a failed asynchronous invocation would).
func FromLambda(invoke func(ctx context.Context, payload []byte) ([]byte, error)) Invoker {
	return func(ctx context.Context, payload []byte) error {
		_, err := invoke(ctx, payload)
		return err
	}
}
