package alarmlocal

import (
	"errors"
	"fmt"
	"testing"
)

func TestExprEval(t *testing.T) {
	const rate = "IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)"
	none := Datapoint{Missing: true}
	v := func(f float64) Datapoint { return Datapoint{Value: f} }
	tests := []struct {
		name, expr string
		vars       map[string]Datapoint
		want       Datapoint
	}{
		{"rate: all failing", rate, map[string]Datapoint{"requests": v(30), "errors": v(30)}, v(100)},
		{"rate: some failing", rate, map[string]Datapoint{"requests": v(40), "errors": v(2)}, v(5)},
		{"rate: no error datapoint is FILLed with 0", rate, map[string]Datapoint{"requests": v(40), "errors": none}, v(0)},
		{"rate: too few requests", rate, map[string]Datapoint{"requests": v(19), "errors": v(19)}, v(0)},
		{"rate: no traffic at all is no datapoint", rate, map[string]Datapoint{"requests": none, "errors": none}, none},
		{"division by zero is missing", "errors / requests", map[string]Datapoint{"requests": v(0), "errors": v(3)}, none},
		{"arithmetic over a missing series is missing", "errors + 1", map[string]Datapoint{"errors": none}, none},
		{"precedence", "1 + 2 * 3 - 4 / 2", nil, v(5)},
		{"parentheses and unary minus", "-(1 + 2) * 2", nil, v(-6)},
		{"comparisons", "(m >= 2) + (m > 2) * 10 + (m <= 2) * 100 + (m < 2) * 1000 + (m == 2) * 10000 + (m != 2) * 100000", map[string]Datapoint{"m": v(2)}, v(10101)},
		{"AND OR NOT", "(m > 1 AND m < 3) + (m > 5 || m == 2) * 10 + (NOT m) * 100 + !0 * 1000", map[string]Datapoint{"m": v(2)}, v(1011)},
		{"&& ||", "m > 1 && m > 5 || m == 2", map[string]Datapoint{"m": v(2)}, v(1)},
		{"IF false without else is missing", "IF(m > 5, 1)", map[string]Datapoint{"m": v(2)}, none},
		{"IF on a missing condition is missing", "IF(m, 1, 2)", map[string]Datapoint{"m": none}, none},
		{"IF true branch series with no datapoint is 0", "IF(c, m, 2)", map[string]Datapoint{"c": v(1), "m": none}, v(0)},
		{"IF false branch series with no datapoint is 0", "IF(c, a, b)", map[string]Datapoint{"c": v(0), "a": v(7), "b": none}, v(0)},
		{"IF false branch with no datapoint after a scalar is missing", "IF(c, 1, b)", map[string]Datapoint{"c": v(0), "b": none}, none},
		{"IF scalar condition picks a branch", "IF(0, 1, b)", map[string]Datapoint{"b": none}, none},
		{"FILL with a series", "FILL(m, n)", map[string]Datapoint{"m": none, "n": v(4)}, v(4)},
		{"FILL keeps a datapoint", "FILL(m, 9)", map[string]Datapoint{"m": v(3)}, v(3)},
		{"numbers", "1.5e2 + .5", nil, v(150.5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Eval(func(id string) (Datapoint, error) {
				d, ok := tt.vars[id]
				if !ok {
					return Datapoint{}, fmt.Errorf("no metric %s", id)
				}
				return d, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("%s = %+v, want %+v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestParseExprRefuses(t *testing.T) {
	tests := []struct {
		expr        string
		unsupported bool
	}{
		{"ANOMALY_DETECTION_BAND(m1, 2)", true},
		{"FILL(m1, REPEAT)", true},
		{"m1 ^ 2", true},
		{"METRICS()", true},
		{"IF(m1)", false},
		{"(m1 + 1", false},
		{"m1 +", false},
		{"m1 m2", false},
	}
	for _, tt := range tests {
		_, err := ParseExpr(tt.expr)
		if err == nil || errors.Is(err, ErrUnsupported) != tt.unsupported {
			t.Errorf("ParseExpr(%q) = %v, want an error (unsupported %v)", tt.expr, err, tt.unsupported)
		}
	}
}

func TestExprIDs(t *testing.T) {
	e, err := ParseExpr("IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.IDs()); got != "[requests errors requests]" {
		t.Fatalf("IDs = %s", got)
	}
}
