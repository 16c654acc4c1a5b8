package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the site database's driver (shared/orderstore's)

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/sealed"
)

// queuedBody returns the body of the queue message the orders API sent for
// order id. The on-prem processor takes a message within milliseconds of its
// sending, so receiving it first would be a race; instead this reads moto's
// record of every message SQS was sent (its /moto-api/data.json, which keeps
// a message after its deletion): the message exactly as the queue held it.
// It waits up to 10 s for the message to appear.
func (w *walk) queuedBody(ctx context.Context, id string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := w.motoMessage(ctx, id)
		if err != nil || body != "" {
			return body, err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("moto received no message for order %s", id)
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// motoMessage looks order id's message up in moto's model data; "" when
// there is none yet.
func (w *walk) motoMessage(ctx context.Context, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(w.st.MotoURL, "/")+"/moto-api/data.json", nil)
	if err != nil {
		return "", err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("moto's model data: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("moto's model data: HTTP %d", resp.StatusCode)
	}
	var data struct {
		SQS struct {
			Message []struct {
				Body string `json:"body"`
			} `json:"Message"`
		} `json:"sqs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return "", fmt.Errorf("moto's model data: %w", err)
	}
	for _, m := range data.SQS.Message {
		var head struct {
			OrderID string `json:"orderId"`
		}
		if json.Unmarshal([]byte(m.Body), &head) == nil && head.OrderID == id {
			return m.Body, nil
		}
	}
	return "", nil
}

// checkSealed checks that body, the queue message of order id, is a version
// 2 message sealed to the key pub (a SITE_PUBLIC_KEY value; "" skips that
// check) in which no value of the posted order (orderJSON, the POST body)
// can be read. It describes the message without quoting the ciphertext.
func checkSealed(body, id, pub, orderJSON string) (string, error) {
	var posted orders.Order
	if err := json.Unmarshal([]byte(orderJSON), &posted); err != nil {
		return "", fmt.Errorf("the posted order: %w", err)
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal([]byte(body), &head); err != nil {
		return "", fmt.Errorf("the queued message is not JSON: %w", err)
	}
	if head.Version != orders.SealedVersion {
		return "", fmt.Errorf("the queued message is version %d, not sealed (version %d): the order can be read in the queue", head.Version, orders.SealedVersion)
	}
	var m orders.SealedEnvelope
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields() // no "order" (version 1) or any other readable field
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("the queued message is not a sealed (version 2) message: %w", err)
	}
	if m.OrderID != id {
		return "", fmt.Errorf("the queued message is order %q's, want %s's", m.OrderID, id)
	}
	ct, err := base64.RawURLEncoding.DecodeString(m.Sealed.Ciphertext)
	if err != nil || len(ct) == 0 {
		return "", fmt.Errorf("sealed.ct is not a base64url ciphertext (%d characters)", len(m.Sealed.Ciphertext))
	}
	if pub != "" {
		k, err := sealed.ParsePublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("the stack's site public key: %w", err)
		}
		if m.Sealed.KeyID != k.KeyID() {
			return "", fmt.Errorf("sealed.kid %q, want the site key's id %s", m.Sealed.KeyID, k.KeyID())
		}
	}
	values := orderValues(posted)
	fields := slices.Sorted(maps.Keys(values))
	for _, name := range fields {
		if strings.Contains(body, values[name]) {
			return "", fmt.Errorf("the posted order's %s can be read in the queued message", name)
		}
	}
	return fmt.Sprintf("queued message: version %d, orderId %s, sealed.kid %s, ciphertext %d bytes; none of the order's %d values (%s) in its %d bytes",
		m.Version, m.OrderID, m.Sealed.KeyID, len(ct), len(fields), strings.Join(fields, ", "), len(body)), nil
}

// orderValues are the regulated values of o that must never be readable
// outside the site, by field name (empty ones left out).
func orderValues(o orders.Order) map[string]string {
	a := o.DeliveryAddress
	out := map[string]string{}
	for name, v := range map[string]string{"name": a.Name, "line1": a.Line1, "line2": a.Line2, "city": a.City, "postalCode": a.PostalCode, "note": o.Note} {
		if v != "" {
			out[name] = v
		}
	}
	for i, it := range o.Items {
		if it.SKU != "" {
			out[fmt.Sprintf("items[%d].sku", i)] = it.SKU
		}
	}
	return out
}

// storedOrder reads order id's row from the site's SQLite database (the
// stack's siteDb): its envelope version and its order as stored.
func storedOrder(ctx context.Context, path, id string) (int, orders.Order, error) {
	if path == "" {
		return 0, orders.Order{}, errors.New("the stack names no site database")
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return 0, orders.Order{}, fmt.Errorf("site database: %w", err)
	}
	defer db.Close()
	var version int
	var body string
	err = db.QueryRowContext(ctx, `SELECT envelope_version, body FROM orders WHERE order_id = ?`, id).Scan(&version, &body)
	if err != nil {
		return 0, orders.Order{}, fmt.Errorf("site database %s: order %s: %w", path, id, err)
	}
	var o orders.Order
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return 0, orders.Order{}, fmt.Errorf("site database %s: order %s: its body is not an order: %w", path, id, err)
	}
	return version, o, nil
}

// checkStored checks that the order stored at the site is the one posted.
func checkStored(stored orders.Order, orderJSON string) error {
	var posted orders.Order
	if err := json.Unmarshal([]byte(orderJSON), &posted); err != nil {
		return fmt.Errorf("the posted order: %w", err)
	}
	if !reflect.DeepEqual(stored, posted) {
		return errors.New("the order stored at the site differs from the one posted")
	}
	return nil
}
