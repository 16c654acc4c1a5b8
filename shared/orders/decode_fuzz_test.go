package orders

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeOrderAgreesWithEncodingJSON is a differential check: every body
// DecodeOrder accepts is also accepted by encoding/json (unknown fields
// disallowed) and read as the same Order. DecodeOrder is stricter (exact
// field names, no duplicates, no fractions), never laxer.
func FuzzDecodeOrderAgreesWithEncodingJSON(f *testing.F) {
	f.Add([]byte(body(`[{"sku":"AB-12","quantity":2}]`, validAddr, "")))
	f.Add([]byte(body(`[{"sku":"A","quantity":1},{"sku":"B-2","quantity":1000}]`, validAddr, `,"note":"x\u00e9\n\ud83d\ude00"`)))
	f.Add([]byte(body(`[{"sku":"A","quantity":1}]`, `{"name":"N","line1":"L","line2":null,"city":"C","postalCode":"P","country":"IE"}`, `,"note":null`)))
	f.Fuzz(func(t *testing.T, in []byte) {
		o, err := DecodeOrder(in)
		if err != nil {
			return
		}
		var ref Order
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ref); err != nil {
			t.Fatalf("accepted %q, encoding/json refuses it: %v", in, err)
		}
		if !reflect.DeepEqual(o, ref) {
			t.Fatalf("accepted %q as %+v, encoding/json reads %+v", in, o, ref)
		}
	})
}
