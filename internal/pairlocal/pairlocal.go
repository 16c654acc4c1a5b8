// Package pairlocal is a proxy in front of moto_server for the local stack
// that makes one moto DynamoDB table serve as a global table with
// multi-Region strong consistency (MRSC) in several regions, as DynamoDB
// documents MRSC: the same items, linearizable conditional writes and
// strongly consistent reads in every replica region, and no transactions and
// no time to live on the table.
//
// moto has no global tables: it keys its backends on the region a request is
// signed for. The proxy is configured with each MRSC table's owning region
// (where the one moto table lives) and sends every DynamoDB call naming that
// table (TableName, or the RequestItems of BatchGetItem and BatchWriteItem),
// signed for any region, to the owning region's backend by rewriting the
// SigV4 credential scope (SetSigningRegion). Item writes to the table
// (PutItem, UpdateItem, DeleteItem, BatchWriteItem) are applied one at a
// time, because moto checks a condition and applies the write in two steps.
// As DynamoDB refuses them on an MRSC table, TransactWriteItems and
// TransactGetItems naming the table and UpdateTimeToLive on it are refused
// with a ValidationException. Everything else (other tables, other
// services, PartiQL statements, DynamoDB Streams) passes through untouched,
// so the local stack can point AWS_ENDPOINT_URL_DYNAMODB, or
// AWS_ENDPOINT_URL, at it.
//
// SetDown isolates a region: while it is down, every request signed for that
// region is answered 503 ServiceUnavailable, whichever table or service it
// names; the other regions keep reading and writing the MRSC table, as with a
// witness region in AWS.
//
// Limits of the emulation: DescribeTable in a replica region reports the
// owning region's table (its ARN names the owning region); a batch naming an
// MRSC table and a regional table at once, signed for a region other than
// the owner, is refused rather than split.
package pairlocal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// targetPrefix is the X-Amz-Target prefix of the DynamoDB JSON protocol.
const targetPrefix = "DynamoDB_20120810."

// maxBody bounds a DynamoDB request body (BatchWriteItem: 16 MB).
const maxBody = 16<<20 + 1<<20

// Config configures a Proxy.
type Config struct {
	// Upstream is moto_server's URL, e.g. http://127.0.0.1:5000.
	Upstream string
	// Tables maps each MRSC table's name to its owning region: the region
	// whose moto backend holds the one table (create it there).
	Tables map[string]string
}

// Proxy is an http.Handler in front of moto_server (see the package doc).
type Proxy struct {
	tables map[string]string
	rp     *httputil.ReverseProxy

	// writes serialises item writes to the MRSC tables.
	writes sync.Mutex

	mu   sync.Mutex
	down map[string]bool
}

// New checks cfg and returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	up, err := url.Parse(cfg.Upstream)
	if err != nil || up.Scheme == "" || up.Host == "" {
		return nil, fmt.Errorf("pairlocal: Upstream %q is not a URL", cfg.Upstream)
	}
	tables := make(map[string]string, len(cfg.Tables))
	for name, region := range cfg.Tables {
		if name == "" || region == "" {
			return nil, errors.New("pairlocal: a table needs a name and an owning region")
		}
		tables[name] = region
	}
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.ErrorLog = log.New(io.Discard, "", 0) // a cancelled client call is not news
	return &Proxy{tables: tables, rp: rp, down: map[string]bool{}}, nil
}

// SetDown takes region down (true) or back up (false): while down, every
// request signed for region is answered 503 ServiceUnavailable.
func (p *Proxy) SetDown(region string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if down {
		p.down[region] = true
	} else {
		delete(p.down, region)
	}
}

func (p *Proxy) isDown(region string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down[region]
}

// ServeHTTP answers one call.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region := SigningRegion(r.Header)
	if region != "" && p.isDown(region) {
		writeUnavailable(w, r, region)
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok || r.Method != http.MethodPost || len(p.tables) == 0 {
		p.rp.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeJSONError(w, http.StatusBadRequest, "ValidationException", "pairlocal: cannot read the request body")
		return
	}
	owner, other, names := p.owner(op, body)
	switch {
	case names == "":
		// Names no MRSC table.
	case refused[op] != "":
		writeJSONError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf(refused[op], names))
		return
	case other && owner != region:
		writeJSONError(w, http.StatusBadRequest, "ValidationException",
			"pairlocal: a request naming the multi-Region strongly consistent table "+names+" and a regional table is not emulated outside the table's owning region")
		return
	}
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	if names != "" {
		SetSigningRegion(out.Header, owner)
		if isWrite(op) {
			p.writes.Lock()
			defer p.writes.Unlock()
		}
	}
	p.rp.ServeHTTP(w, out)
}

// refused are the operations DynamoDB refuses on an MRSC table, with the
// message (%s: the table's name). DynamoDB documents that MRSC tables
// support neither transactions nor time to live; the wording is ours.
var refused = map[string]string{
	"TransactWriteItems": "Transactions are not supported on table %s: it is a global table with multi-Region strong consistency",
	"TransactGetItems":   "Transactions are not supported on table %s: it is a global table with multi-Region strong consistency",
	"UpdateTimeToLive":   "Time to Live is not supported on table %s: it is a global table with multi-Region strong consistency",
}

// isWrite reports whether op writes items.
func isWrite(op string) bool {
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem":
		return true
	}
	return false
}

// request is the part of a DynamoDB request that names tables.
type request struct {
	TableName     string                     `json:"TableName"`
	RequestItems  map[string]json.RawMessage `json:"RequestItems"`
	TransactItems []map[string]struct {
		TableName string `json:"TableName"`
	} `json:"TransactItems"`
}

// owner reads the tables a call names and returns the owning region of the
// MRSC table(s) among them, whether it also names a table that is not MRSC,
// and the MRSC tables' names ("" when it names none). A body that does not
// parse names no table: moto answers it.
func (p *Proxy) owner(op string, body []byte) (owner string, other bool, names string) {
	var in request
	if json.Unmarshal(body, &in) != nil {
		return "", false, ""
	}
	var tables []string
	if in.TableName != "" {
		tables = append(tables, in.TableName)
	}
	for t := range in.RequestItems {
		tables = append(tables, t)
	}
	for _, it := range in.TransactItems {
		for _, v := range it {
			tables = append(tables, v.TableName)
		}
	}
	var named []string
	for _, t := range tables {
		o, ok := p.tables[tableName(t)]
		if !ok {
			other = true
			continue
		}
		if owner != "" && o != owner {
			other = true // two MRSC tables with different owners: cannot route to one backend
		}
		owner = o
		named = append(named, tableName(t))
	}
	return owner, other, strings.Join(named, ", ")
}

// tableName is a TableName given as a name or as a table ARN
// (arn:aws:dynamodb:<region>:<account>:table/<name>).
func tableName(s string) string {
	if !strings.HasPrefix(s, "arn:") {
		return s
	}
	_, name, ok := strings.Cut(s, ":table/")
	if !ok {
		return s
	}
	name, _, _ = strings.Cut(name, "/")
	return name
}

// writeJSONError answers a DynamoDB error in the JSON 1.0 protocol's shape,
// which the SDK parses into its error types.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": msg})
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-RequestId", "pairlocal")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeUnavailable answers 503 ServiceUnavailable in the request's protocol:
// JSON when it names an X-Amz-Target, the query protocol's XML otherwise.
func writeUnavailable(w http.ResponseWriter, r *http.Request, region string) {
	msg := "pairlocal: region " + region + " is down"
	if r.Header.Get("X-Amz-Target") != "" {
		writeJSONError(w, http.StatusServiceUnavailable, "ServiceUnavailable", msg)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("X-Amzn-RequestId", "pairlocal")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>%s</Message></Error><RequestId>pairlocal</RequestId></ErrorResponse>`, msg)
}
