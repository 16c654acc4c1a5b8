// Package ddbattr builds and reads the DynamoDB attribute values homeregion
// stores: strings, integers, booleans and instants. It is written by hand on
// purpose: the SDK's attributevalue package marshals by reflection, which
// grows every bootstrap and its cold start for the handful of scalar
// attributes these tables hold.
//
// Instants are stored in one of two ways, chosen by the table layout: as an
// RFC 3339 string with nanoseconds in UTC (Time), or as an integer count of
// seconds or milliseconds since the epoch (N with time.Time.Unix or
// UnixMilli; DynamoDB's TTL needs seconds).
package ddbattr

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TimeFormat is the layout of instants stored as strings.
const TimeFormat = time.RFC3339Nano

// S is a string attribute value.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// N is a number attribute value holding the integer v.
func N(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// Bool is a boolean attribute value.
func Bool(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

// Time is a string attribute value holding t in TimeFormat, in UTC.
func Time(t time.Time) types.AttributeValue { return S(t.UTC().Format(TimeFormat)) }

// Key is the key of an item in a table with one string partition key, name.
func Key(name, value string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{name: S(value)}
}

// Reader reads the attributes of one item. An absent attribute reads as the
// zero value, so callers check the values they require; a present attribute
// of the wrong type, or one that does not parse, reads as the zero value and
// is reported by Err.
type Reader struct {
	item map[string]types.AttributeValue
	errs []error
}

// NewReader returns a Reader of item.
func NewReader(item map[string]types.AttributeValue) *Reader { return &Reader{item: item} }

// Err reports every attribute that could not be read, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

func (r *Reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("attribute %s: "+format, append([]any{name}, args...)...))
}

// S reads string attribute name.
func (r *Reader) S(name string) string {
	switch v := r.item[name].(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberS:
		return v.Value
	}
	r.fail(name, "not a string")
	return ""
}

// N reads number attribute name as an integer.
func (r *Reader) N(name string) int64 {
	switch v := r.item[name].(type) {
	case nil:
		return 0
	case *types.AttributeValueMemberN:
		x, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			r.fail(name, "%q is not an integer", v.Value)
			return 0
		}
		return x
	}
	r.fail(name, "not a number")
	return 0
}

// Bool reads boolean attribute name.
func (r *Reader) Bool(name string) bool {
	switch v := r.item[name].(type) {
	case nil:
		return false
	case *types.AttributeValueMemberBOOL:
		return v.Value
	}
	r.fail(name, "not a boolean")
	return false
}

// Time reads string attribute name as an instant in TimeFormat, in UTC.
func (r *Reader) Time(name string) time.Time {
	s := r.S(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		r.fail(name, "%q is not an RFC 3339 time", s)
		return time.Time{}
	}
	return t.UTC()
}

// UnixMilli reads number attribute name as milliseconds since the epoch, in
// UTC; absent, it reads as the zero time.Time.
func (r *Reader) UnixMilli(name string) time.Time {
	if _, ok := r.item[name]; !ok {
		return time.Time{}
	}
	return time.UnixMilli(r.N(name)).UTC()
}

// Unix reads number attribute name as seconds since the epoch, in UTC;
// absent, it reads as the zero time.Time.
func (r *Reader) Unix(name string) time.Time {
	if _, ok := r.item[name]; !ok {
		return time.Time{}
	}
	return time.Unix(r.N(name), 0).UTC()
}
