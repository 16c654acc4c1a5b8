package envvar

import (
	"strings"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	b := Duration{Env: "WAIT", What: "wait", Min: time.Second, Max: 20 * time.Second, Whole: true}
	for _, tc := range []struct {
		v       string
		want    time.Duration
		wantErr string
	}{
		{"", 7 * time.Second, ""}, // unset: unchanged
		{" 5s ", 5 * time.Second, ""},
		{"20s", 20 * time.Second, ""},
		{"21s", 0, `WAIT "21s": want whole seconds between 1s and 20s`},
		{"1500ms", 0, "whole seconds"},
		{"soon", 0, `WAIT "soon": want whole seconds`},
		{"0s", 0, "between 1s"},
	} {
		t.Run(tc.v, func(t *testing.T) {
			d := 7 * time.Second
			err := b.Read(func(string) string { return tc.v }, &d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if d != 7*time.Second {
					t.Fatalf("a bad value changed the setting to %s", d)
				}
				return
			}
			if err != nil || d != tc.want {
				t.Fatalf("Read = %s, %v; want %s", d, err, tc.want)
			}
		})
	}
	if err := (Duration{Min: time.Nanosecond, Max: time.Hour}).Check(1500 * time.Millisecond); err != nil {
		t.Fatalf("a fractional duration without Whole: %v", err)
	}
}

func TestInt(t *testing.T) {
	b := Int{Env: "N", What: "n", Min: 1, Max: 20}
	for _, tc := range []struct {
		v       string
		want    int
		wantErr string
	}{
		{"", 3, ""},
		{"1", 1, ""},
		{" 20", 20, ""},
		{"0", 0, `N "0": want an integer 1..20`},
		{"21", 0, "1..20"},
		{"lots", 0, `N "lots": want an integer 1..20`},
	} {
		t.Run(tc.v, func(t *testing.T) {
			n := 3
			err := b.Read(func(string) string { return tc.v }, &n)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || n != 3 {
					t.Fatalf("Read = %d, %v; want %q and the setting unchanged", n, err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.want {
				t.Fatalf("Read = %d, %v; want %d", n, err, tc.want)
			}
		})
	}
}

func TestBool(t *testing.T) {
	b := Bool{Env: "B", Default: true}
	for _, tc := range []struct {
		v       string
		want    bool
		wantErr string
	}{
		{"", true, ""},
		{" false ", false, ""},
		{"true", true, ""},
		{"yes", false, `B "yes": want true or false`},
		{"FALSE", false, "want true or false"},
	} {
		got, err := b.Read(func(string) string { return tc.v })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Read(%q) = %v, %v; want %q", tc.v, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Fatalf("Read(%q) = %v, %v; want %v", tc.v, got, err, tc.want)
		}
	}
}
