package ddbattr

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.FixedZone("CET", 3600))
	item := map[string]types.AttributeValue{
		"s":    S("v"),
		"n":    N(-42),
		"b":    Bool(true),
		"t":    Time(at),
		"ms":   N(at.UnixMilli()),
		"sec":  N(at.Unix()),
		"zero": N(0),
	}
	r := NewReader(item)
	if got := r.S("s"); got != "v" {
		t.Errorf("S = %q", got)
	}
	if got := r.N("n"); got != -42 {
		t.Errorf("N = %d", got)
	}
	if !r.Bool("b") {
		t.Error("Bool = false")
	}
	if got := r.Time("t"); !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", got, at)
	}
	if got := r.UnixMilli("ms"); !got.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("UnixMilli = %v", got)
	}
	if got := r.Unix("sec"); !got.Equal(at.Truncate(time.Second)) {
		t.Errorf("Unix = %v", got)
	}
	if got := r.UnixMilli("zero"); !got.Equal(time.UnixMilli(0)) {
		t.Errorf("UnixMilli(0) = %v, want the epoch", got)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if v := item["t"].(*types.AttributeValueMemberS).Value; v != "2026-11-22T00:02:03.456789Z" {
		t.Errorf("stored time %q, want UTC RFC 3339", v)
	}
}

func TestAbsentReadsAsZero(t *testing.T) {
	r := NewReader(nil)
	if r.S("x") != "" || r.N("x") != 0 || r.Bool("x") || !r.Time("x").IsZero() || !r.UnixMilli("x").IsZero() || !r.Unix("x").IsZero() {
		t.Error("an absent attribute read as a non-zero value")
	}
	if err := r.Err(); err != nil {
		t.Fatalf("absent attributes reported: %v", err)
	}
}

func TestMalformedIsReported(t *testing.T) {
	tests := []struct {
		name string
		av   types.AttributeValue
		read func(*Reader)
	}{
		{"string is a number", N(1), func(r *Reader) { r.S("a") }},
		{"number is a string", S("1"), func(r *Reader) { r.N("a") }},
		{"number is not an integer", &types.AttributeValueMemberN{Value: "1.5"}, func(r *Reader) { r.N("a") }},
		{"bool is a string", S("true"), func(r *Reader) { r.Bool("a") }},
		{"time is not RFC 3339", S("yesterday"), func(r *Reader) { r.Time("a") }},
		{"milliseconds are a string", S("1"), func(r *Reader) { r.UnixMilli("a") }},
		{"seconds are not an integer", &types.AttributeValueMemberN{Value: "x"}, func(r *Reader) { r.Unix("a") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(map[string]types.AttributeValue{"a": tt.av})
			tt.read(r)
			if r.Err() == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestKey(t *testing.T) {
	k := Key("pk", "ORDER#1")
	if len(k) != 1 || k["pk"].(*types.AttributeValueMemberS).Value != "ORDER#1" {
		t.Fatalf("Key = %v", k)
	}
}
