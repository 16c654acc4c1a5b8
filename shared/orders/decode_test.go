package orders

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const validAddr = `{"name":"Ada Lovelace","line1":"1 Main St","city":"Berlin","postalCode":"10115","country":"DE"}`

func body(items, addr, extra string) string {
	return `{"items":` + items + `,"deliveryAddress":` + addr + extra + `}`
}

func TestDecodeOrderValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Order
	}{
		{"minimal", body(`[{"sku":"AB-12","quantity":2}]`, validAddr, ""), Order{
			Items:           []Item{{SKU: "AB-12", Quantity: 2}},
			DeliveryAddress: Address{Name: "Ada Lovelace", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE"},
		}},
		{"all fields, whitespace, null optionals", " \n" + `{"note":"ring twice","items":[{"quantity":1000,"sku":"X"},{"sku":"0-9","quantity":1}],
			"deliveryAddress":{"country":"FR","postalCode":"75001","city":"Paris","line2":null,"line1":"rue 1","name":"Zoë"}}` + "\n", Order{
			Items:           []Item{{SKU: "X", Quantity: 1000}, {SKU: "0-9", Quantity: 1}},
			DeliveryAddress: Address{Name: "Zoë", Line1: "rue 1", City: "Paris", PostalCode: "75001", Country: "FR"},
			Note:            "ring twice",
		}},
		{"escapes and whitespace everywhere", " {\t\"\\u0069tems\" : [ { \"sku\" : \"A\\u002dB\" , \"quantity\" : 7 } ] ,\r\n \"deliveryAddress\":" + validAddr + ", \"note\" : \"tab\\there \\\"q\\\" \\ud83d\\ude00\" } ", Order{
			Items:           []Item{{SKU: "A-B", Quantity: 7}},
			DeliveryAddress: Address{Name: "Ada Lovelace", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE"},
			Note:            "tab\there \"q\" \U0001F600",
		}},
		{"note of 500 characters", body(`[{"sku":"A","quantity":1}]`, validAddr, `,"note":"`+strings.Repeat("é", 500)+`"`), Order{
			Items:           []Item{{SKU: "A", Quantity: 1}},
			DeliveryAddress: Address{Name: "Ada Lovelace", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE"},
			Note:            strings.Repeat("é", 500),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeOrder([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeOrder: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeOrderInvalid(t *testing.T) {
	item := `[{"sku":"AB-12","quantity":2}]`
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"sku":"A","quantity":1},`, 101), ",") + "]"
	tests := []struct {
		name, in, code, field string
	}{
		{"empty", "", CodeInvalidJSON, ""},
		{"not json", "hello", CodeInvalidJSON, ""},
		{"truncated", `{"items":[`, CodeInvalidJSON, ""},
		{"invalid utf-8", "{\"note\":\"\xff\"}", CodeInvalidJSON, ""},
		{"array body", `[]`, CodeInvalidType, ""},
		{"trailing garbage", body(item, validAddr, "") + "x", CodeTrailingData, ""},
		{"two objects", body(item, validAddr, "") + "{}", CodeTrailingData, ""},
		{"unknown field", body(item, validAddr, `,"owner":"x"`), CodeUnknownField, "owner"},
		{"wrong case field", `{"Items":[]}`, CodeUnknownField, "Items"},
		{"unknown item field", body(`[{"sku":"A","quantity":1,"price":3}]`, validAddr, ""), CodeUnknownField, "items[0].price"},
		{"unknown address field", body(item, `{"name":"a","line1":"b","city":"c","postalCode":"d","country":"DE","email":"x"}`, ""), CodeUnknownField, "deliveryAddress.email"},
		{"duplicate field", body(item, validAddr, `,"note":"a","note":"b"`), CodeDuplicateField, "note"},
		{"items missing", `{"deliveryAddress":` + validAddr + `}`, CodeMissingField, "items"},
		{"items null", body("null", validAddr, ""), CodeInvalidType, "items"},
		{"items empty", body("[]", validAddr, ""), CodeInvalidItems, "items"},
		{"101 items", body(many, validAddr, ""), CodeInvalidItems, "items"},
		{"quantity 0", body(`[{"sku":"A","quantity":0}]`, validAddr, ""), CodeInvalidQuantity, "items[0].quantity"},
		{"quantity 1001", body(`[{"sku":"A","quantity":1001}]`, validAddr, ""), CodeInvalidQuantity, "items[0].quantity"},
		{"quantity 1.5", body(`[{"sku":"A","quantity":1.5}]`, validAddr, ""), CodeInvalidQuantity, "items[0].quantity"},
		{"quantity 1e2", body(`[{"sku":"A","quantity":1e2}]`, validAddr, ""), CodeInvalidQuantity, "items[0].quantity"},
		{"quantity huge", body(`[{"sku":"A","quantity":99999999999999999999999}]`, validAddr, ""), CodeInvalidQuantity, "items[0].quantity"},
		{"quantity string", body(`[{"sku":"A","quantity":"2"}]`, validAddr, ""), CodeInvalidType, "items[0].quantity"},
		{"quantity missing", body(`[{"sku":"A"}]`, validAddr, ""), CodeMissingField, "items[0].quantity"},
		{"sku lower case", body(`[{"sku":"ab","quantity":1}]`, validAddr, ""), CodeInvalidSKU, "items[0].sku"},
		{"sku empty", body(`[{"sku":"","quantity":1}]`, validAddr, ""), CodeInvalidSKU, "items[0].sku"},
		{"sku 65", body(`[{"sku":"`+strings.Repeat("A", 65)+`","quantity":1}]`, validAddr, ""), CodeInvalidSKU, "items[0].sku"},
		{"sku number", body(`[{"sku":12,"quantity":1}]`, validAddr, ""), CodeInvalidType, "items[0].sku"},
		{"note too long", body(item, validAddr, `,"note":"`+strings.Repeat("a", 501)+`"`), CodeNoteTooLong, "note"},
		{"address missing", `{"items":` + item + `}`, CodeMissingField, "deliveryAddress"},
		{"address string", body(item, `"Berlin"`, ""), CodeInvalidType, "deliveryAddress"},
		{"address city missing", body(item, `{"name":"a","line1":"b","postalCode":"d","country":"DE"}`, ""), CodeMissingField, "deliveryAddress.city"},
		{"address name blank", body(item, `{"name":" ","line1":"b","city":"c","postalCode":"d","country":"DE"}`, ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"address control char", body(item, `{"name":"a\u0000","line1":"b","city":"c","postalCode":"d","country":"DE"}`, ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"address line1 too long", body(item, `{"name":"a","line1":"`+strings.Repeat("b", 201)+`","city":"c","postalCode":"d","country":"DE"}`, ""), CodeInvalidAddress, "deliveryAddress.line1"},
		{"country lower", body(item, `{"name":"a","line1":"b","city":"c","postalCode":"d","country":"de"}`, ""), CodeInvalidCountry, "deliveryAddress.country"},
		{"country unassigned", body(item, `{"name":"a","line1":"b","city":"c","postalCode":"d","country":"XX"}`, ""), CodeInvalidCountry, "deliveryAddress.country"},
		{"empty object", `{}`, CodeMissingField, "items"},
		{"empty item", body(`[{}]`, validAddr, ""), CodeMissingField, "items[0].sku"},
		{"nested array item", body(`[[1]]`, validAddr, ""), CodeInvalidType, "items[0]"},
		{"second item bad", body(`[{"sku":"A","quantity":1},{"sku":"B","quantity":-0}]`, validAddr, ""), CodeInvalidQuantity, "items[1].quantity"},
		{"quantity 1000.0", body(`[{"sku":"A","quantity":1000.0}]`, validAddr, ""), CodeInvalidQuantity, "items[0].quantity"},
		{"quantity leading zero", body(`[{"sku":"A","quantity":01}]`, validAddr, ""), CodeInvalidJSON, ""},
		{"quantity true", body(`[{"sku":"A","quantity":true}]`, validAddr, ""), CodeInvalidType, "items[0].quantity"},
		{"sku null", body(`[{"sku":null,"quantity":1}]`, validAddr, ""), CodeInvalidType, "items[0].sku"},
		{"note object", body(item, validAddr, `,"note":{"a":1}`), CodeInvalidType, "note"},
		{"escaped unknown key", body(item, validAddr, `,"\u006fwner":"x"`), CodeUnknownField, "owner"},
		{"escaped duplicate key", body(item, validAddr, `,"note":"a","\u006eote":"b"`), CodeDuplicateField, "note"},
		{"escaped control char in value", body(item, `{"name":"a\nb","line1":"b","city":"c","postalCode":"d","country":"DE"}`, ""), CodeInvalidAddress, "deliveryAddress.name"},
		{"unterminated string", `{"note":"abc}`, CodeInvalidJSON, ""},
		{"country null", body(item, `{"name":"a","line1":"b","city":"c","postalCode":"d","country":null}`, ""), CodeInvalidType, "deliveryAddress.country"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeOrder([]byte(tt.in))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if ve.Code != tt.code || ve.Field != tt.field {
				t.Fatalf("got code %s field %q (%s), want %s %q", ve.Code, ve.Field, ve.Message, tt.code, tt.field)
			}
			if ve.Message == "" {
				t.Fatal("empty message")
			}
		})
	}
}

// Messages never echo submitted values: they may be PII.
func TestDecodeOrderMessagesHoldNoValues(t *testing.T) {
	secret := "Secret Person"
	in := body(`[{"sku":"A","quantity":1}]`, `{"name":"`+secret+`","line1":"`+strings.Repeat("x", 201)+`","city":"c","postalCode":"d","country":"DE"}`, "")
	_, err := DecodeOrder([]byte(in))
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "xxx") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidCountry(t *testing.T) {
	for _, c := range []string{"DE", "AD", "ZW", "US", "GB"} {
		if !ValidCountry(c) {
			t.Errorf("ValidCountry(%q) = false", c)
		}
	}
	for _, c := range []string{"", "D", "DEU", "de", "UK", "XX", "ZZ", " D"} {
		if ValidCountry(c) {
			t.Errorf("ValidCountry(%q) = true", c)
		}
	}
}

func BenchmarkDecodeOrder(b *testing.B) {
	in := []byte(body(`[{"sku":"AB-12","quantity":2},{"sku":"CD-34","quantity":1}]`, validAddr, `,"note":"leave at the door"`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeOrder(in); err != nil {
			b.Fatal(err)
		}
	}
}
