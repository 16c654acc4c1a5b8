package alarm

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzParse checks, for any payload, that Parse never panics, that it is
// deterministic (a re-delivery of the same bytes gives the same Transition
// and so the same idempotency Key), and that every accepted event names its
// alarm, a valid new state and the time it entered it.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{}`, `[]`, `null`, ``,
		`{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:eu-west-1:000000000000:alarm:a","region":"eu-west-1","time":"2026-01-01T00:00:00.000+0000","alarmData":{"alarmName":"a","state":{"value":"ALARM","reason":"r","timestamp":"2026-01-01T00:00:00.000+0000"},"previousState":{"value":"OK","timestamp":"2025-12-31T00:00:00.000+0000"}}}`,
		`{"alarmData":{"state":{"value":"BOGUS","timestamp":"x"}}}`,
		`{"Records":[{"Sns":{"Message":"{\"AlarmName\":\"a\",\"NewStateValue\":\"OK\",\"OldStateValue\":\"ALARM\",\"StateChangeTime\":\"2026-01-01T00:00:00.000+0000\",\"AlarmArn\":\"arn:aws:cloudwatch:eu-west-1:000000000000:alarm:a\"}"}}]}`,
		`{"Records":[]}`,
		`{"NewStateValue":"ALARM","AlarmName":"a"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		tr, err := Parse(payload)
		tr2, err2 := Parse(payload)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(tr, tr2) {
			t.Fatalf("Parse is not deterministic: %+v %v / %+v %v", tr, err, tr2, err2)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if p := transitionProblem(tr); p != "" {
			t.Fatalf("%s: %+v", p, tr)
		}
		if tr.Key() != tr2.Key() {
			t.Fatal("Key is not deterministic")
		}
	})
}

// transitionProblem says why an accepted Transition is unusable ("" if it is not).
func transitionProblem(tr Transition) string {
	switch {
	case tr.AlarmARN == "" && tr.AlarmName == "":
		return "accepted an event that names no alarm"
	case !tr.To.Valid():
		return fmt.Sprintf("accepted new state %q", tr.To)
	case tr.At.IsZero():
		return "accepted an event without a state time"
	}
	return ""
}

// TestFuzzChecksCatchBrokenTransitions proves FuzzParse's checks can fail.
func TestFuzzChecksCatchBrokenTransitions(t *testing.T) {
	good := Transition{AlarmARN: "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:a", To: StateAlarm, At: time.Unix(1, 0)}
	if p := transitionProblem(good); p != "" {
		t.Fatalf("valid transition flagged: %s", p)
	}
	for name, mutate := range map[string]func(*Transition){
		"no alarm":  func(tr *Transition) { tr.AlarmARN, tr.AlarmName = "", "" },
		"bad state": func(tr *Transition) { tr.To = "BOGUS" },
		"no time":   func(tr *Transition) { tr.At = time.Time{} },
	} {
		t.Run(name, func(t *testing.T) {
			tr := good
			mutate(&tr)
			if transitionProblem(tr) == "" {
				t.Error("not caught")
			}
		})
	}
}
