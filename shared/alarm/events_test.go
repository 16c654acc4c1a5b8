package alarm

import (
	"os"
	"testing"
)

// TestSampleEvents keeps the events/ samples (for sam local invoke
// FailoverFunction -e ...) parseable as alarm state changes.
func TestSampleEvents(t *testing.T) {
	for _, name := range []string{"alarm-metric-alarm.json", "alarm-sns.json"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile("../../events/" + name)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tr.AlarmName == "" || tr.To == "" || !tr.IsChange() {
				t.Fatalf("transition = %+v, want a named state change", tr)
			}
		})
	}
}
