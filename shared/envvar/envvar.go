// Package envvar reads bounded settings from environment variables: one
// rule per setting (its variable, its name in a constructor's errors, its
// bounds), applied the same way when a variable is parsed and when a
// constructor is handed a Config built in code. Errors name the variable
// and quote its value, in the form "NAME "value": want ...".
package envvar

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is the rule of one duration setting.
type Duration struct {
	Env      string // its environment variable
	What     string // its name in a constructor's errors, e.g. "wait time"
	Min, Max time.Duration
	Whole    bool // whole seconds only (an API that takes seconds)
}

// Check reports whether d is within b's bounds.
func (b Duration) Check(d time.Duration) error {
	if d < b.Min || d > b.Max || (b.Whole && d%time.Second != 0) {
		unit := "a duration"
		if b.Whole {
			unit = "whole seconds"
		}
		return fmt.Errorf("want %s between %s and %s (e.g. 30s)", unit, b.Min, b.Max)
	}
	return nil
}

// Read sets *dst from b's variable when it is set (surrounding spaces
// ignored) and leaves it alone otherwise. A malformed or out-of-bounds value
// is an error naming the variable.
func (b Duration) Read(getenv func(string) string, dst *time.Duration) error {
	v := strings.TrimSpace(getenv(b.Env))
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err == nil {
		err = b.Check(d)
	} else {
		err = b.Check(-1) // the same wording for a value that does not parse
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", b.Env, v, err)
	}
	*dst = d
	return nil
}

// Int is the rule of one integer setting.
type Int struct {
	Env      string // its environment variable
	What     string // its name in a constructor's errors
	Min, Max int
}

// Check reports whether n is within b's bounds.
func (b Int) Check(n int) error {
	if n < b.Min || n > b.Max {
		return fmt.Errorf("want an integer %d..%d", b.Min, b.Max)
	}
	return nil
}

// Read sets *dst from b's variable when it is set and leaves it alone
// otherwise. A malformed or out-of-bounds value is an error naming the
// variable.
func (b Int) Read(getenv func(string) string, dst *int) error {
	v := strings.TrimSpace(getenv(b.Env))
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err == nil {
		err = b.Check(n)
	} else {
		err = b.Check(b.Min - 1)
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", b.Env, v, err)
	}
	*dst = n
	return nil
}

// Bool is the rule of one boolean setting: "true" or "false".
type Bool struct {
	Env     string // its environment variable
	Default bool   // its value when unset
}

// Read returns b's value: the variable's when it is set (surrounding spaces
// ignored), else b.Default. Any other value than "true" or "false" is an
// error naming the variable.
func (b Bool) Read(getenv func(string) string) (bool, error) {
	switch v := strings.TrimSpace(getenv(b.Env)); v {
	case "":
		return b.Default, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, fmt.Errorf("%s %q: want true or false", b.Env, v)
	}
}

// DurationField pairs a duration rule with the Config field it governs.
type DurationField struct {
	Rule Duration
	Dst  *time.Duration
}

// ReadDurations reads every field's variable (Duration.Read); the error
// names the first bad one.
func ReadDurations(getenv func(string) string, fields []DurationField) error {
	for _, f := range fields {
		if err := f.Rule.Read(getenv, f.Dst); err != nil {
			return err
		}
	}
	return nil
}

// CheckDurations checks every field that is not zero (zero takes a
// default) against its rule; the error names the field by its What.
func CheckDurations(fields []DurationField) error {
	for _, f := range fields {
		if *f.Dst == 0 {
			continue
		}
		if err := f.Rule.Check(*f.Dst); err != nil {
			return fmt.Errorf("%s %s: %w", f.Rule.What, *f.Dst, err)
		}
	}
	return nil
}
