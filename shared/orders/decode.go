package orders

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/homeregion/homeregion/shared/iso3166"
)

// Limits of the POST /orders body (docs/orders-api.md).
const (
	MaxBodyBytes    = 64 << 10 // the whole request body
	MinItems        = 1
	MaxItems        = 100
	MinQuantity     = 1
	MaxQuantity     = 1000
	MaxSKULen       = 64
	MaxNoteLen      = 500 // characters (runes)
	MaxNameLen      = 200 // characters, deliveryAddress.name
	MaxLineLen      = 200 // characters, deliveryAddress.line1 and line2
	MaxCityLen      = 100 // characters
	MaxPostalCodeLn = 16  // characters
)

// Codes of the errors DecodeOrder returns; the API sends them to clients as
// the error code of a 400 answer.
const (
	CodeInvalidJSON     = "INVALID_JSON"     // not JSON, empty, or not valid UTF-8
	CodeTrailingData    = "TRAILING_DATA"    // anything but whitespace after the object
	CodeUnknownField    = "UNKNOWN_FIELD"    // a field the contract does not define
	CodeDuplicateField  = "DUPLICATE_FIELD"  // the same field twice in one object
	CodeInvalidType     = "INVALID_TYPE"     // e.g. a string where a number belongs
	CodeMissingField    = "MISSING_FIELD"    // a required field is absent
	CodeInvalidItems    = "INVALID_ITEMS"    // not 1-100 items
	CodeInvalidQuantity = "INVALID_QUANTITY" // not an integer from 1 to 1000
	CodeInvalidSKU      = "INVALID_SKU"      // not 1-64 of [A-Z0-9-]
	CodeNoteTooLong     = "NOTE_TOO_LONG"    // note over 500 characters
	CodeInvalidNote     = "INVALID_NOTE"     // a character CheckText forbids
	CodeInvalidAddress  = "INVALID_ADDRESS"  // blank, too long or a character CheckText forbids
	CodeInvalidText     = "INVALID_TEXT"     // an unpaired surrogate escape (\ud800) in any string
	CodeInvalidCountry  = "INVALID_COUNTRY"  // not an ISO 3166-1 alpha-2 code
)

// ValidationError is why a body is not a valid order. Code is one of the
// Code* constants, Field the JSON path of the offending value (e.g.
// "items[2].quantity", empty for the whole body). Message never quotes the
// submitted value: values may be PII.
type ValidationError struct {
	Code    string
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "orders: " + e.Message
	}
	return "orders: " + e.Field + ": " + e.Message
}

func invalid(code, field, format string, args ...any) *ValidationError {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + " " + msg
	}
	return &ValidationError{Code: code, Field: field, Message: msg}
}

// DecodeOrder strictly decodes and validates a POST /orders body: exactly one
// JSON object of the allow-listed shape (field names match exactly, no
// unknown or repeated fields, no trailing data, no null for required
// values), within the contract's limits. Every problem is a *ValidationError.
// The caller enforces MaxBodyBytes before calling.
func DecodeOrder(body []byte) (Order, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Order{}, invalid(CodeInvalidJSON, "", "request body is empty")
	}
	if !utf8.Valid(body) {
		return Order{}, invalid(CodeInvalidJSON, "", "request body is not valid UTF-8")
	}
	if !json.Valid(body) {
		// One complete value followed by more is trailing data; anything
		// else is malformed.
		var first json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&first); err == nil {
			return Order{}, invalid(CodeTrailingData, "", "request body must hold exactly one JSON object")
		} else if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return Order{}, invalid(CodeInvalidJSON, "", "request body is not valid JSON (offset %d)", se.Offset)
		}
		return Order{}, invalid(CodeInvalidJSON, "", "request body is not valid JSON")
	}
	// From here on the body is one syntactically valid JSON value: the
	// scanner below only checks shapes, names and values.
	d := &decoder{b: body}
	var o Order
	if err := d.order(&o); err != nil {
		return Order{}, err
	}
	return o, nil
}

// decoder walks a body already known to be valid JSON.
type decoder struct {
	b []byte
	i int
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the first byte of the next value (after whitespace).
func (d *decoder) peek() byte {
	d.ws()
	return d.b[d.i]
}

// str reads a string token, unescaping only when it has escapes.
func (d *decoder) readString() (string, error) {
	start := d.i // at '"'
	d.i++
	escaped := false
	for d.b[d.i] != '"' {
		if d.b[d.i] == '\\' {
			escaped = true
			d.i++
		}
		d.i++
	}
	d.i++
	if !escaped {
		return string(d.b[start+1 : d.i-1]), nil
	}
	if loneSurrogate(d.b[start+1 : d.i-1]) {
		// encoding/json would silently turn it into U+FFFD.
		return "", invalid(CodeInvalidText, "", "request body holds a \\u escape of an unpaired surrogate")
	}
	var v string
	if err := json.Unmarshal(d.b[start:d.i], &v); err != nil {
		return "", invalid(CodeInvalidJSON, "", "request body is not valid JSON")
	}
	return v, nil
}

// loneSurrogate reports whether the escaped contents of a JSON string hold a
// \uD800-\uDFFF escape that is not a high surrogate followed by a low one.
func loneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
		return rune(v), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // a one-character escape such as \\ or \"
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}

// skipNumber reads a number token and returns its text.
func (d *decoder) readNumber() []byte {
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
		default:
			return d.b[start:d.i]
		}
	}
	return d.b[start:d.i]
}

// object reads one JSON object, calling field for each member after checking
// the name is allowed and not repeated; field consumes the value. Paths are
// built only for errors.
func (d *decoder) object(path string, allowed []string, field func(name string) error) (seen uint32, err error) {
	if d.peek() != '{' {
		if path == "" {
			return 0, invalid(CodeInvalidType, "", "request body must be a JSON object")
		}
		return 0, invalid(CodeInvalidType, path, "must be a JSON object")
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return 0, nil
	}
	for {
		d.ws()
		name, err := d.readString()
		if err != nil {
			return 0, err
		}
		idx := -1
		for i, a := range allowed {
			if a == name {
				idx = i
				break
			}
		}
		if idx < 0 {
			fp := join(path, name)
			return 0, &ValidationError{Code: CodeUnknownField, Field: clip(fp, 128),
				Message: fmt.Sprintf("unknown field %s (allowed: %s)", strconv.Quote(clip(name, 64)), strings.Join(allowed, ", "))}
		}
		if seen&(1<<idx) != 0 {
			return 0, invalid(CodeDuplicateField, join(path, name), "appears more than once")
		}
		seen |= 1 << idx
		d.ws()
		d.i++ // ':'
		d.ws()
		if err := field(allowed[idx]); err != nil {
			return 0, err
		}
		if d.peek() == '}' {
			d.i++
			return seen, nil
		}
		d.i++ // ','
	}
}

func (d *decoder) order(o *Order) error {
	allowed := []string{"items", "deliveryAddress", "note"}
	seen, err := d.object("", allowed, func(name string) error {
		switch name {
		case "items":
			return d.items(name, &o.Items)
		case "deliveryAddress":
			return d.address(name, &o.DeliveryAddress)
		default: // note
			s, null, err := d.str(name, true)
			if err != nil || null {
				return err
			}
			switch CheckText(s, MaxNoteLen, false, true) {
			case TextOK:
			case TextTooLong:
				return invalid(CodeNoteTooLong, name, "must be at most %d characters", MaxNoteLen)
			default:
				return invalid(CodeInvalidNote, name, "must not contain control characters (other than tab and line breaks) or noncharacters")
			}
			o.Note = s
			return nil
		}
	})
	if err != nil {
		return err
	}
	if seen&1 == 0 {
		return invalid(CodeMissingField, "items", "is required")
	}
	if seen&2 == 0 {
		return invalid(CodeMissingField, "deliveryAddress", "is required")
	}
	return nil
}

func itemPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func (d *decoder) items(path string, out *[]Item) error {
	if d.peek() != '[' {
		return invalid(CodeInvalidType, path, "must be an array")
	}
	d.i++
	items := make([]Item, 0, 4)
	if d.peek() == ']' {
		d.i++
		return invalid(CodeInvalidItems, path, "must have %d to %d entries", MinItems, MaxItems)
	}
	itemFields := []string{"sku", "quantity"}
	for {
		if len(items) == MaxItems {
			return invalid(CodeInvalidItems, path, "must have %d to %d entries", MinItems, MaxItems)
		}
		n := len(items)
		var it Item
		seen, err := d.object(itemPath(path, n), itemFields, func(name string) error {
			if name == "sku" {
				s, _, err := d.str(itemPath(path, n)+".sku", false)
				if err != nil {
					return err
				}
				if !validSKU(s) {
					return invalid(CodeInvalidSKU, itemPath(path, n)+".sku", "must be 1 to %d characters of A-Z, 0-9 and -", MaxSKULen)
				}
				it.SKU = s
				return nil
			}
			q, err := d.quantity(path, n)
			it.Quantity = q
			return err
		})
		if err != nil {
			return err
		}
		if seen&1 == 0 {
			return invalid(CodeMissingField, itemPath(path, n)+".sku", "is required")
		}
		if seen&2 == 0 {
			return invalid(CodeMissingField, itemPath(path, n)+".quantity", "is required")
		}
		items = append(items, it)
		if d.peek() == ']' {
			d.i++
			*out = items
			return nil
		}
		d.i++ // ','
	}
}

func (d *decoder) quantity(path string, n int) (int, error) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, invalid(CodeInvalidType, itemPath(path, n)+".quantity", "must be a number")
	}
	num := d.readNumber()
	q, ok := 0, len(num) <= 4 // at most "1000"; rejects fractions, exponents, signs
	for _, c := range num {
		if c < '0' || c > '9' {
			ok = false
			break
		}
		q = q*10 + int(c-'0')
	}
	if !ok || q < MinQuantity || q > MaxQuantity {
		return 0, invalid(CodeInvalidQuantity, itemPath(path, n)+".quantity", "must be an integer from %d to %d", MinQuantity, MaxQuantity)
	}
	return q, nil
}

// str reads a string value; null is accepted (null=true) only when optional.
func (d *decoder) str(path string, optional bool) (s string, null bool, err error) {
	switch d.peek() {
	case '"':
		s, err := d.readString()
		return s, false, err
	case 'n':
		if optional {
			d.i += len("null")
			return "", true, nil
		}
	}
	return "", false, invalid(CodeInvalidType, path, "must be a string")
}

// address field bits, in the order of addressFields.
var addressFields = []string{"name", "line1", "line2", "city", "postalCode", "country"}

func (d *decoder) address(path string, a *Address) error {
	seen, err := d.object(path, addressFields, func(name string) error {
		fp := func() string { return path + "." + name }
		s, null, err := d.str(path+"."+name, name == "line2")
		if err != nil || null {
			return err
		}
		switch name {
		case "name":
			a.Name, err = text(fp, s, MaxNameLen, true)
		case "line1":
			a.Line1, err = text(fp, s, MaxLineLen, true)
		case "line2":
			a.Line2, err = text(fp, s, MaxLineLen, false)
		case "city":
			a.City, err = text(fp, s, MaxCityLen, true)
		case "postalCode":
			a.PostalCode, err = text(fp, s, MaxPostalCodeLn, true)
		case "country":
			if !ValidCountry(s) {
				return invalid(CodeInvalidCountry, fp(), "must be an ISO 3166-1 alpha-2 code such as DE")
			}
			a.Country = s
		}
		return err
	})
	if err != nil {
		return err
	}
	for i, f := range addressFields {
		if f != "line2" && seen&(1<<i) == 0 {
			return invalid(CodeMissingField, path+"."+f, "is required")
		}
	}
	return nil
}

// text validates a free-text address field with CheckText: a single line of
// at most max characters, visible when required.
func text(path func() string, s string, max int, required bool) (string, error) {
	switch CheckText(s, max, required, false) {
	case TextOK:
		return s, nil
	case TextBlank:
		return "", invalid(CodeInvalidAddress, path(), "must not be blank (it needs a visible character)")
	case TextTooLong:
		return "", invalid(CodeInvalidAddress, path(), "must be at most %d characters", max)
	default:
		return "", invalid(CodeInvalidAddress, path(), "must not contain control characters or noncharacters")
	}
}

func validSKU(s string) bool {
	if len(s) == 0 || len(s) > MaxSKULen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidCountry reports whether s is an officially assigned ISO 3166-1
// alpha-2 country code (upper case): iso3166.Assigned, the list's one home.
func ValidCountry(s string) bool { return iso3166.Assigned(s) }

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// clip shortens s to at most n bytes on a rune boundary (unknown field names
// are echoed in messages; they are names, not values, but stay bounded).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
