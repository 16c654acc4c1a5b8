package orders

import (
	"errors"
	"strings"
	"testing"
)

// addr returns an address object whose field f is the JSON string literal v
// (already quoted and escaped) and whose other fields are valid.
func addr(f, v string) string {
	fields := map[string]string{"name": `"N"`, "line1": `"L"`, "city": `"C"`, "postalCode": `"P"`, "country": `"DE"`}
	fields[f] = v
	var b strings.Builder
	b.WriteString("{")
	for i, k := range []string{"name", "line1", "line2", "city", "postalCode", "country"} {
		v, ok := fields[k]
		if !ok {
			continue
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + k + `":` + v)
	}
	b.WriteString("}")
	return b.String()
}

// Issue 11, items 1-3: text that some hop (SQS, PostgreSQL) cannot carry, and
// names that are blank to a reader, are refused with 400-class errors.
func TestDecodeOrderRefusesUnstorableText(t *testing.T) {
	item := `[{"sku":"A","quantity":1}]`
	note := func(v string) string { return body(item, validAddr, `,"note":`+v) }
	tests := []struct {
		name, in, code, field string
	}{
		// 1: NUL (PostgreSQL JSONB refuses \u0000, SQLSTATE 22P05).
		{"note NUL escape", note(`"a\u0000b"`), CodeInvalidNote, "note"},
		{"note other C0", note(`"a\u001bb"`), CodeInvalidNote, "note"},
		{"note DEL", note("\"a\x7fb\""), CodeInvalidNote, "note"},
		{"note C1 NEL", note("\"a\u0085b\""), CodeInvalidNote, "note"},
		// 2: code points SQS refuses in a message body, raw and escaped.
		{"note U+FFFE raw", note("\"a\uFFFEb\""), CodeInvalidNote, "note"},
		{"note U+FFFF escaped", note(`"a\uffffb"`), CodeInvalidNote, "note"},
		{"note U+FDD0", note("\"\uFDD0\""), CodeInvalidNote, "note"},
		{"note U+1FFFE", note("\"\U0001FFFE\""), CodeInvalidNote, "note"},
		{"note U+10FFFF", note("\"\U0010FFFF\""), CodeInvalidNote, "note"},
		{"note lone high surrogate", note(`"a\ud800b"`), CodeInvalidText, ""},
		{"note lone low surrogate", note(`"\udc00"`), CodeInvalidText, ""},
		{"note reversed pair", note(`"\ude00\ud83d"`), CodeInvalidText, ""},
		{"note high at the end", note(`"x\ud83d"`), CodeInvalidText, ""},
		{"name U+FFFF", body(item, addr("name", "\"Ada\uFFFF\""), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"line1 U+FFFE", body(item, addr("line1", `"1 Main St\ufffe"`), ""), CodeInvalidAddress, "deliveryAddress.line1"},
		{"line2 U+FFFF", body(item, addr("line2", `"\uffff"`), ""), CodeInvalidAddress, "deliveryAddress.line2"},
		{"line2 NUL", body(item, addr("line2", `"\u0000"`), ""), CodeInvalidAddress, "deliveryAddress.line2"},
		{"city U+FDEF", body(item, addr("city", `"Berlin\ufdef"`), ""), CodeInvalidAddress, "deliveryAddress.city"},
		{"postalCode U+FFFF", body(item, addr("postalCode", `"10115\uffff"`), ""), CodeInvalidAddress, "deliveryAddress.postalCode"},
		{"city lone surrogate", body(item, addr("city", `"\udbff"`), ""), CodeInvalidText, ""},
		{"line1 tab", body(item, addr("line1", `"a\tb"`), ""), CodeInvalidAddress, "deliveryAddress.line1"},
		{"city carriage return", body(item, addr("city", `"a\rb"`), ""), CodeInvalidAddress, "deliveryAddress.city"},
		// 3: names that show nothing.
		{"name ZWSP", body(item, addr("name", `"\u200b"`), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"name ZWNJ ZWJ", body(item, addr("name", `"\u200c\u200d"`), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"name word joiner", body(item, addr("name", `"\u2060"`), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"name BOM", body(item, addr("name", `"\ufeff"`), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"name mixed invisibles", body(item, addr("name", "\" \u200b\u00a0\u2060\u3000\ufeff\u180e\u3164\ufe0f \""), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"name combining mark only", body(item, addr("name", `"\u0301"`), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"name soft hyphen only", body(item, addr("name", `"\u00ad"`), ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"line1 invisibles", body(item, addr("line1", `"\u200b\u200b"`), ""), CodeInvalidAddress, "deliveryAddress.line1"},
		{"city invisibles", body(item, addr("city", `"\u2062"`), ""), CodeInvalidAddress, "deliveryAddress.city"},
		{"postalCode invisibles", body(item, addr("postalCode", `"\u200d"`), ""), CodeInvalidAddress, "deliveryAddress.postalCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeOrder([]byte(tt.in))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError %s", err, tt.code)
			}
			if ve.Code != tt.code || ve.Field != tt.field {
				t.Fatalf("got code %s field %q (%s), want %s %q", ve.Code, ve.Field, ve.Message, tt.code, tt.field)
			}
		})
	}
}

// What the rule must keep accepting: real names and addresses in any script,
// emoji sequences with joiners, and a multi-line note.
func TestDecodeOrderAcceptsText(t *testing.T) {
	item := `[{"sku":"A","quantity":1}]`
	tests := []struct {
		name, in string
		check    func(Order) bool
	}{
		{"note with tab and line breaks", body(item, validAddr, `,"note":"ring\ttwice\r\nthen wait"`),
			func(o Order) bool { return o.Note == "ring\ttwice\r\nthen wait" }},
		{"note of only blanks", body(item, validAddr, `,"note":" \u200b "`), nil},
		{"note surrogate pair", body(item, validAddr, `,"note":"\ud83d\ude00"`),
			func(o Order) bool { return o.Note == "😀" }},
		{"note last BMP before specials", body(item, validAddr, `,"note":"\ufffd\ud7ff\ue000`+"\U0010FFFD\U00010000\""), nil},
		{"name with ZWJ emoji", body(item, addr("name", "\"👩\u200d👩\u200d👧 Family\""), ""), nil},
		{"name in Hangul", body(item, addr("name", `"김민준"`), ""), nil},
		{"name with combining accent", body(item, addr("name", "\"Zoe\u0308\""), ""), nil},
		{"name with RTL mark", body(item, addr("name", "\"\u200fمحمد\""), ""), nil},
		{"name one visible among invisibles", body(item, addr("name", `"\u200bA\u200b"`), ""), nil},
		{"line1 NBSP", body(item, addr("line1", "\"1\u00a0Main St\""), ""), nil},
		{"line1 private use", body(item, addr("line1", "\"x\ue000\""), ""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := DecodeOrder([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeOrder: %v", err)
			}
			if tt.check != nil && !tt.check(o) {
				t.Fatalf("decoded %+v", o)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	if p := CheckText("\U0010FFFD", 1, true, false); p != TextBlank {
		// private use is allowed but shows nothing we can rely on
		t.Errorf("private use only = %q, want blank", p)
	}
	if p := CheckText("\xff", 10, false, false); p != TextInvalidUTF {
		t.Errorf("invalid UTF-8 = %q", p)
	}
	if p := CheckText("\uFFFD", 10, true, false); p != TextOK {
		t.Errorf("U+FFFD itself = %q", p)
	}
	if p := CheckText("ab", 1, true, false); p != TextTooLong {
		t.Errorf("too long = %q", p)
	}
}
