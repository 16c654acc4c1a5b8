package mototest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// AtomicURL returns the URL of a proxy to the server, for the test's
// lifetime, that makes DynamoDB's single-item writes atomic as DynamoDB
// documents them: moto checks a write's condition and applies it in two
// steps, so two concurrent conditional writes of one item can both pass. The
// proxy forwards PutItem, UpdateItem, DeleteItem and TransactWriteItems one
// at a time; every other call goes straight through. Tests where several
// processes race conditional writes (the claim protocol) point their
// AWS_ENDPOINT_URL here.
func (s *Server) AtomicURL(t testing.TB) string {
	t.Helper()
	up, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("mototest: server URL: %v", err)
	}
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.ErrorLog = log.New(io.Discard, "", 0) // a killed client's cancelled call is not news
	var writes sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// DynamoDB speaks JSON: the operation is the X-Amz-Target header.
		if target := r.Header.Get("X-Amz-Target"); strings.HasPrefix(target, "DynamoDB_") && isWrite(target) {
			writes.Lock()
			defer writes.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// isWrite reports whether a DynamoDB X-Amz-Target is a write of items.
func isWrite(target string) bool {
	_, op, _ := strings.Cut(target, ".")
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem":
		return true
	}
	return false
}
