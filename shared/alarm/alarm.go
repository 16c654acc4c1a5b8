// Package alarm decodes the two forms in which a CloudWatch alarm state change
// reaches a Lambda function and turns either into one Transition.
//
// The forms are:
//
//   - the alarm → Lambda action payload (LambdaEvent: "source":
//     "aws.cloudwatch", alarmArn, alarmData{state, previousState, ...}), for
//     which aws-lambda-go has no type;
//   - the same alarm delivered through an SNS topic: an events.SNSEvent whose
//     record's Message is the classic alarm JSON (events.CloudWatchAlarmSNSPayload:
//     AlarmName, NewStateValue, OldStateValue, StateChangeTime, ...).
//
// Parse accepts either (and the bare classic JSON, as found in an SQS body or a
// test), validates what a caller acts on and never panics on bad input.
package alarm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// State is an alarm state value.
type State string

// The three states of a CloudWatch alarm.
const (
	StateOK               State = "OK"
	StateAlarm            State = "ALARM"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// Valid reports whether s is one of the three alarm states.
func (s State) Valid() bool {
	return s == StateOK || s == StateAlarm || s == StateInsufficientData
}

// LambdaEvent is the payload CloudWatch sends to a Lambda function named as an
// alarm action (metric and composite alarms).
type LambdaEvent struct {
	Source    string    `json:"source"`
	AlarmARN  string    `json:"alarmArn"`
	AccountID string    `json:"accountId"`
	Time      string    `json:"time"`
	Region    string    `json:"region"`
	AlarmData AlarmData `json:"alarmData"`
}

// AlarmData is the alarm part of a LambdaEvent.
type AlarmData struct {
	AlarmName     string        `json:"alarmName"`
	State         StateValue    `json:"state"`
	PreviousState StateValue    `json:"previousState"`
	Configuration Configuration `json:"configuration"`
}

// StateValue is one alarm state with its reason and time.
type StateValue struct {
	Value      State  `json:"value"`
	Reason     string `json:"reason,omitempty"`
	ReasonData string `json:"reasonData,omitempty"`
	Timestamp  string `json:"timestamp"`
	// ActionsSuppressedBy and ActionsSuppressedReason are set (composite
	// alarms) when the actions of this state were suppressed.
	ActionsSuppressedBy     string `json:"actionsSuppressedBy,omitempty"`
	ActionsSuppressedReason string `json:"actionsSuppressedReason,omitempty"`
}

// Configuration is the alarm's configuration as carried in a LambdaEvent:
// metrics for a metric alarm, a rule (and suppressor) for a composite alarm.
type Configuration struct {
	Description                      string            `json:"description,omitempty"`
	Metrics                          []MetricDataQuery `json:"metrics,omitempty"`
	AlarmRule                        string            `json:"alarmRule,omitempty"`
	ActionsSuppressor                string            `json:"actionsSuppressor,omitempty"`
	ActionsSuppressorWaitPeriod      int64             `json:"actionsSuppressorWaitPeriod,omitempty"`
	ActionsSuppressorExtensionPeriod int64             `json:"actionsSuppressorExtensionPeriod,omitempty"`
}

// MetricDataQuery is one metric or expression of a metric alarm.
type MetricDataQuery struct {
	ID         string      `json:"id"`
	MetricStat *MetricStat `json:"metricStat,omitempty"`
	Expression string      `json:"expression,omitempty"`
	Label      string      `json:"label,omitempty"`
	ReturnData bool        `json:"returnData"`
}

// MetricStat is a metric with its period and statistic.
type MetricStat struct {
	Metric Metric `json:"metric"`
	Period int64  `json:"period"`
	Stat   string `json:"stat"`
	Unit   string `json:"unit,omitempty"`
}

// Metric names a CloudWatch metric.
type Metric struct {
	Namespace  string            `json:"namespace"`
	Name       string            `json:"name"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

// Form says through which path a Transition arrived.
type Form string

// The forms Parse recognises.
const (
	FormLambda Form = "lambda" // alarm → Lambda action
	FormSNS    Form = "sns"    // alarm → SNS topic → Lambda
	FormRaw    Form = "raw"    // the classic alarm JSON on its own
)

// Transition is one alarm state change, whatever form it arrived in.
type Transition struct {
	// AlarmARN identifies the alarm (the key of every decision about it).
	AlarmARN string
	// AlarmName is the alarm's name.
	AlarmName string
	// From and To are the previous and the new state.
	From, To State
	// At is when the alarm entered To (the state timestamp, not the delivery
	// time): the same for every re-delivery of one change.
	At time.Time
	// Reason is CloudWatch's human-readable reason for To.
	Reason string
	// Region is the alarm's region.
	Region string
	// Deferred is set when the actions of the previous state were suppressed
	// (composite alarms) and are delivered now: such an event is acted on
	// even when From == To.
	Deferred bool
	// Form is the path the event came through.
	Form Form
}

// IsChange reports whether t is a state change an action should consider:
// From differs from To, or an action suppressed earlier is delivered now.
func (t Transition) IsChange() bool { return t.From != t.To || t.Deferred }

// Key identifies this change of this alarm; re-deliveries share it.
func (t Transition) Key() string {
	return t.AlarmARN + "|" + string(t.To) + "|" + t.At.UTC().Format(time.RFC3339Nano)
}

// ErrMalformed is wrapped by every error Parse returns for a payload it cannot
// use (as opposed to a payload it recognises but rejects).
var ErrMalformed = errors.New("malformed alarm event")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// sniff holds the top-level keys that tell the forms apart.
type sniff struct {
	Source        string          `json:"source"`
	AlarmData     json.RawMessage `json:"alarmData"`
	Records       json.RawMessage `json:"Records"`
	NewStateValue string          `json:"NewStateValue"`
}

// Parse decodes payload in any of the supported forms into a Transition.
// It returns an error wrapping ErrMalformed, naming the problem, when the
// payload is not an alarm event or lacks what an action needs.
func Parse(payload []byte) (Transition, error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return Transition{}, malformed("payload is not a JSON object")
	}
	var s sniff
	if err := json.Unmarshal(payload, &s); err != nil {
		return Transition{}, malformed("invalid JSON: %v", err)
	}
	switch {
	case len(s.AlarmData) > 0:
		var ev LambdaEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return Transition{}, malformed("alarm action event: %v", err)
		}
		return FromLambda(ev)
	case len(s.Records) > 0:
		var ev events.SNSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return Transition{}, malformed("SNS event: %v", err)
		}
		return FromSNS(ev)
	case s.NewStateValue != "":
		var p events.CloudWatchAlarmSNSPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return Transition{}, malformed("alarm notification: %v", err)
		}
		t, err := FromNotification(p)
		t.Form = FormRaw
		return t, err
	default:
		return Transition{}, malformed("neither a CloudWatch alarm action event (alarmData), an SNS event (Records) nor an alarm notification (NewStateValue)")
	}
}

// FromLambda turns an alarm → Lambda action payload into a Transition.
func FromLambda(ev LambdaEvent) (Transition, error) {
	if ev.Source != "" && ev.Source != "aws.cloudwatch" {
		return Transition{}, malformed("source %q is not aws.cloudwatch", ev.Source)
	}
	d := ev.AlarmData
	t := Transition{
		AlarmARN:  ev.AlarmARN,
		AlarmName: d.AlarmName,
		From:      d.PreviousState.Value,
		To:        d.State.Value,
		Reason:    d.State.Reason,
		Region:    ev.Region,
		Deferred:  d.PreviousState.ActionsSuppressedBy != "",
		Form:      FormLambda,
	}
	at, err := ParseTime(d.State.Timestamp)
	if err != nil {
		return Transition{}, malformed("alarmData.state.timestamp: %v", err)
	}
	t.At = at
	return t, t.validate()
}

// FromSNS turns an SNS event carrying an alarm notification into a Transition.
// Lambda delivers exactly one SNS record per invocation.
func FromSNS(ev events.SNSEvent) (Transition, error) {
	if len(ev.Records) != 1 {
		return Transition{}, malformed("SNS event has %d records, want 1", len(ev.Records))
	}
	msg := strings.TrimSpace(ev.Records[0].SNS.Message)
	if msg == "" {
		return Transition{}, malformed("SNS message is empty")
	}
	var p events.CloudWatchAlarmSNSPayload
	if err := json.Unmarshal([]byte(msg), &p); err != nil {
		return Transition{}, malformed("SNS message is not an alarm notification: %v", err)
	}
	t, err := FromNotification(p)
	t.Form = FormSNS
	return t, err
}

// FromNotification turns the classic alarm notification JSON into a Transition.
func FromNotification(p events.CloudWatchAlarmSNSPayload) (Transition, error) {
	t := Transition{
		AlarmARN:  p.AlarmARN,
		AlarmName: p.AlarmName,
		From:      State(p.OldStateValue),
		To:        State(p.NewStateValue),
		Reason:    p.NewStateReason,
		Region:    p.Region,
		Form:      FormRaw,
	}
	at, err := ParseTime(p.StateChangeTime)
	if err != nil {
		return Transition{}, malformed("StateChangeTime: %v", err)
	}
	t.At = at
	return t, t.validate()
}

func (t *Transition) validate() error {
	if t.AlarmARN == "" {
		if t.AlarmName == "" {
			return malformed("no alarm ARN and no alarm name")
		}
		// Old notifications may lack the ARN; the name is unique per account
		// and region, so it still identifies the alarm.
		t.AlarmARN = "alarm:" + t.AlarmName
	}
	if !t.To.Valid() {
		return malformed("new state %q is not OK, ALARM or INSUFFICIENT_DATA", t.To)
	}
	if t.From != "" && !t.From.Valid() {
		return malformed("previous state %q is not OK, ALARM or INSUFFICIENT_DATA", t.From)
	}
	return nil
}

// timeLayouts are the timestamp formats CloudWatch uses ("+0000" offsets with
// milliseconds) and RFC 3339.
var timeLayouts = []string{
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
	time.RFC3339Nano,
}

// ParseTime parses a CloudWatch alarm timestamp such as
// "2023-08-04T12:36:15.490+0000" (RFC 3339 is accepted too).
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing timestamp")
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not in CloudWatch's format (2006-01-02T15:04:05.000+0000)", s)
}
