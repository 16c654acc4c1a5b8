package alarm

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON compares two documents as generic JSON values.
func sameJSON(t *testing.T, want, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want: %v", err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got: %v", err)
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("round trip differs:\nwant %s\ngot  %s", want, got)
	}
}

func TestLambdaEventRoundTrip(t *testing.T) {
	for _, name := range []string{"lambda-metric-alarm.json", "lambda-composite-alarm.json"} {
		t.Run(name, func(t *testing.T) {
			in := readSample(t, name)
			var ev LambdaEvent
			dec := json.NewDecoder(strings.NewReader(string(in)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("decode (no unknown fields): %v", err)
			}
			out, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, in, out)
		})
	}
}

func TestSNSEventRoundTrip(t *testing.T) {
	in := readSample(t, "sns-single-metric.json")
	var ev events.SNSEvent
	if err := json.Unmarshal(in, &ev); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, in, out)

	msg := []byte(ev.Records[0].SNS.Message)
	var p events.CloudWatchAlarmSNSPayload
	if err := json.Unmarshal(msg, &p); err != nil {
		t.Fatal(err)
	}
	out, err = json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, msg, out)
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		file string
		want Transition
	}{
		{"lambda-metric-alarm.json", Transition{
			AlarmARN: "arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo-metric-alarm", AlarmName: "lambda-demo-metric-alarm",
			From: StateInsufficientData, To: StateAlarm, At: time.Date(2023, 8, 4, 12, 36, 15, 490e6, time.UTC),
			Reason: "test", Region: "us-east-1", Form: FormLambda,
		}},
		{"lambda-composite-alarm.json", Transition{
			AlarmARN: "arn:aws:cloudwatch:us-east-1:111122223333:alarm:SuppressionDemo.Main", AlarmName: "CompositeDemo.Main",
			From: StateAlarm, To: StateAlarm, At: time.Date(2023, 8, 4, 18, 26, 30, 622e6, time.UTC),
			Reason: "arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild transitioned to ALARM at Friday 04 August, 2023 17:54:36 UTC",
			Region: "us-east-1", Deferred: true, Form: FormLambda,
		}},
		{"sns-single-metric.json", Transition{
			AlarmARN: "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE", AlarmName: "EXAMPLE",
			From: StateInsufficientData, To: StateAlarm, At: time.Date(2015, 6, 3, 17, 43, 27, 123e6, time.UTC),
			Reason: "Threshold Crossed: 1 out of the last 1 datapoints [1234.0 (06/03/15 17:43:27)] was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).",
			Region: "EXAMPLE", Form: FormSNS,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Parse(readSample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !got.At.Equal(tc.want.At) {
				t.Errorf("At = %v, want %v", got.At, tc.want.At)
			}
			got.At, tc.want.At = time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if !got.IsChange() {
				t.Error("IsChange = false, want true")
			}
		})
	}
}

func TestParseRawNotificationAndKey(t *testing.T) {
	raw := `{"AlarmName":"a","AlarmArn":"arn:aws:cloudwatch:eu-west-1:1:alarm:a","NewStateValue":"OK","OldStateValue":"OK","StateChangeTime":"2024-01-02T03:04:05.000+0000"}`
	tr, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Form != FormRaw || tr.IsChange() {
		t.Errorf("got form %s change %v, want raw, no change", tr.Form, tr.IsChange())
	}
	if want := "arn:aws:cloudwatch:eu-west-1:1:alarm:a|OK|2024-01-02T03:04:05Z"; tr.Key() != want {
		t.Errorf("Key = %q, want %q", tr.Key(), want)
	}
}

func TestParseMalformed(t *testing.T) {
	lambda := func(mut func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(readSample(t, "lambda-metric-alarm.json"), &m); err != nil {
			t.Fatal(err)
		}
		mut(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	data := func(m map[string]any) map[string]any { return m["alarmData"].(map[string]any) }
	tests := []struct {
		name, payload, want string
	}{
		{"empty", ``, "not a JSON object"},
		{"array", `[1]`, "not a JSON object"},
		{"broken json", `{"alarmData":`, "invalid JSON"},
		{"unrelated", `{"hello":"world"}`, "neither"},
		{"wrong source", lambda(func(m map[string]any) { m["source"] = "aws.ec2" }), "source"},
		{"bad state", lambda(func(m map[string]any) { data(m)["state"].(map[string]any)["value"] = "BROKEN" }), "new state"},
		{"bad previous", lambda(func(m map[string]any) { data(m)["previousState"].(map[string]any)["value"] = "x" }), "previous state"},
		{"no timestamp", lambda(func(m map[string]any) { delete(data(m)["state"].(map[string]any), "timestamp") }), "timestamp"},
		{"bad timestamp", lambda(func(m map[string]any) { data(m)["state"].(map[string]any)["timestamp"] = "yesterday" }), "timestamp"},
		{"no identity", lambda(func(m map[string]any) { delete(m, "alarmArn"); delete(data(m), "alarmName") }), "no alarm ARN"},
		{"state wrong type", lambda(func(m map[string]any) { data(m)["state"] = 5 }), "alarm action event"},
		{"sns two records", `{"Records":[{"Sns":{"Message":"{}"}},{"Sns":{"Message":"{}"}}]}`, "2 records"},
		{"sns empty message", `{"Records":[{"Sns":{"Message":" "}}]}`, "empty"},
		{"sns not alarm", `{"Records":[{"Sns":{"Message":"hello"}}]}`, "not an alarm notification"},
		{"sns no state", `{"Records":[{"Sns":{"Message":"{\"AlarmName\":\"a\",\"StateChangeTime\":\"2024-01-02T03:04:05.000+0000\"}"}}]}`, "new state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.payload))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2023-08-04T12:36:15.490+0000", time.Date(2023, 8, 4, 12, 36, 15, 490e6, time.UTC), true},
		{"2023-08-04T14:36:15+0200", time.Date(2023, 8, 4, 12, 36, 15, 0, time.UTC), true},
		{"2023-08-04T12:36:15.5Z", time.Date(2023, 8, 4, 12, 36, 15, 500e6, time.UTC), true},
		{"", time.Time{}, false},
		{"04/08/2023", time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"lambda-metric-alarm.json", "sns-single-metric.json"} {
		p := readSample(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
