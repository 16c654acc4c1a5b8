package orders

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// validationCodes are the only codes DecodeOrder may answer with.
var validationCodes = map[string]bool{
	CodeInvalidJSON: true, CodeTrailingData: true, CodeUnknownField: true, CodeDuplicateField: true,
	CodeInvalidType: true, CodeMissingField: true, CodeInvalidItems: true, CodeInvalidQuantity: true,
	CodeInvalidSKU: true, CodeNoteTooLong: true, CodeInvalidNote: true, CodeInvalidAddress: true, CodeInvalidCountry: true,
	CodeInvalidText: true,
}

// FuzzDecodeOrder checks, for any body, that DecodeOrder never panics, that
// every refusal is a *ValidationError with a known code that does not echo
// submitted values (they may be PII), and that every accepted order is within
// the contract's limits and survives a JSON round trip unchanged.
func FuzzDecodeOrder(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"Ada Lovelace","line1":"1 Main St","city":"Berlin","postalCode":"10115","country":"DE"}}`,
		`{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"A","line1":"B","line2":"C","city":"D","postalCode":"E","country":"FR"},"note":"ring twice"}`,
		`{"items":[],"deliveryAddress":{}}`,
		`{"items":[{"sku":"ab","quantity":1001}]}`,
		`{"items":[{"sku":"AB-12","quantity":2.5}],"deliveryAddress":null}`,
		`{"items":[{"sku":"AB-12","quantity":2,"quantity":3}]}`,
		`{"Items":[]}`,
		`{} {}`,
		`[]`,
		`{"items":[{"sku":"AB-12","quantity":1e3}],"deliveryAddress":{"name":"\u0000","line1":"x","city":"y","postalCode":"z","country":"XX"}}`,
		"\xff\xfe",
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := DecodeOrder(body)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if !validationCodes[ve.Code] {
				t.Fatalf("unknown code %q", ve.Code)
			}
			if v := echoed(err, body); v != "" {
				t.Fatalf("error %q echoes a submitted value %q", err, v)
			}
			return
		}
		if problem := orderProblem(o); problem != "" {
			t.Fatal(problem)
		}
		again, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal accepted order: %v", err)
		}
		o2, err := DecodeOrder(again)
		if err != nil {
			t.Fatalf("re-encoded accepted order refused: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(o, o2) {
			t.Fatalf("round trip changed the order:\n%+v\n%+v", o, o2)
		}
	})
}

// orderProblem says how o breaks the contract's limits ("" when it does not).
func orderProblem(o Order) string {
	if n := len(o.Items); n < MinItems || n > MaxItems {
		return fmt.Sprintf("accepted %d items", n)
	}
	for i, it := range o.Items {
		if it.Quantity < MinQuantity || it.Quantity > MaxQuantity {
			return fmt.Sprintf("item %d: accepted quantity %d", i, it.Quantity)
		}
		if len(it.SKU) < 1 || len(it.SKU) > MaxSKULen || strings.Trim(it.SKU, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return fmt.Sprintf("item %d: accepted sku %q", i, it.SKU)
		}
	}
	if n := utf8.RuneCountInString(o.Note); n > MaxNoteLen {
		return fmt.Sprintf("accepted a note of %d characters", n)
	}
	a := o.DeliveryAddress
	for name, v := range map[string]string{"name": a.Name, "line1": a.Line1, "city": a.City, "postalCode": a.PostalCode} {
		if strings.TrimSpace(v) == "" {
			return "accepted a blank " + name
		}
	}
	if !ValidCountry(a.Country) {
		return fmt.Sprintf("accepted country %q", a.Country)
	}
	return ""
}

// echoed returns a distinctive submitted value that err quotes ("" if none).
func echoed(err error, body []byte) string {
	for _, v := range submittedStrings(body) {
		if strings.Contains(err.Error(), v) {
			return v
		}
	}
	return ""
}

// TestFuzzChecksCatchBrokenResults proves FuzzDecodeOrder's checks can fail:
// each broken result below (what a buggy DecodeOrder could return) is caught.
func TestFuzzChecksCatchBrokenResults(t *testing.T) {
	good := Order{Items: []Item{{SKU: "AB-12", Quantity: 2}}, DeliveryAddress: Address{Name: "N", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}}
	if p := orderProblem(good); p != "" {
		t.Fatalf("valid order flagged: %s", p)
	}
	broken := map[string]func(o *Order){
		"no items":        func(o *Order) { o.Items = nil },
		"101 items":       func(o *Order) { o.Items = make([]Item, 101) },
		"quantity 0":      func(o *Order) { o.Items = []Item{{SKU: "A", Quantity: 0}} },
		"quantity 1001":   func(o *Order) { o.Items = []Item{{SKU: "A", Quantity: 1001}} },
		"lowercase sku":   func(o *Order) { o.Items = []Item{{SKU: "ab", Quantity: 1}} },
		"long note":       func(o *Order) { o.Note = strings.Repeat("é", 501) },
		"blank name":      func(o *Order) { o.DeliveryAddress.Name = " " },
		"unknown country": func(o *Order) { o.DeliveryAddress.Country = "XX" },
	}
	for name, mutate := range broken {
		t.Run(name, func(t *testing.T) {
			o := good
			o.Items = append([]Item(nil), good.Items...)
			mutate(&o)
			if orderProblem(o) == "" {
				t.Error("not caught")
			}
		})
	}
	t.Run("error echoing the address", func(t *testing.T) {
		body := []byte(`{"deliveryAddress":{"name":"Ada Lovelace"}}`)
		if echoed(&ValidationError{Message: "name Ada Lovelace is wrong"}, body) == "" {
			t.Error("not caught")
		}
	})
}

// submittedStrings returns the distinctive string values (not keys) of body,
// when it is JSON: values that could not be mistaken for a field path.
func submittedStrings(body []byte) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch y := x.(type) {
		case map[string]any:
			for _, c := range y {
				walk(c)
			}
		case []any:
			for _, c := range y {
				walk(c)
			}
		case string:
			if len(y) >= 6 && strings.ContainsAny(y, " @#!?/") {
				out = append(out, y)
			}
		}
	}
	walk(v)
	return out
}
