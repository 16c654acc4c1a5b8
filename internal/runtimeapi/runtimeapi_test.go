package runtimeapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// fakeRuntime plays the runtime side of one invocation over HTTP.
func fakeRuntime(t *testing.T, addr, kind string) {
	t.Helper()
	base := "http://" + addr + Prefix
	resp, err := http.Get(base + "invocation/next")
	if err != nil {
		t.Errorf("next: %v", err)
		return
	}
	payload, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if _, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64); err != nil {
		t.Errorf("deadline header: %v", err)
	}
	out, err := http.Post(base+"invocation/"+id+"/"+kind, "application/json", bytes.NewReader(append([]byte("echo:"), payload...)))
	if err != nil {
		t.Errorf("post %s: %v", kind, err)
		return
	}
	out.Body.Close()
	if out.StatusCode != http.StatusAccepted {
		t.Errorf("post %s: status %d, want 202", kind, out.StatusCode)
	}
}

func TestInvoke(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		wantErr bool
	}{
		{"response", "response", false},
		{"error", "error", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, ok := s.FirstNextTime(); ok {
				t.Fatal("first next recorded before any request")
			}
			go fakeRuntime(t, s.Addr(), tc.kind)
			r, err := s.Invoke(context.Background(), []byte(`{"a":1}`), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(r.Payload), `echo:{"a":1}`; got != want {
				t.Errorf("payload = %q, want %q", got, want)
			}
			if r.Err != tc.wantErr {
				t.Errorf("Err = %v, want %v", r.Err, tc.wantErr)
			}
			select {
			case <-s.FirstNext():
			default:
				t.Error("FirstNext not closed after a next request")
			}
			if _, ok := s.FirstNextTime(); !ok {
				t.Error("FirstNextTime not recorded")
			}
		})
	}
}

func TestInitErrorAndUnknownRoutes(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"init error", http.MethodPost, Prefix + "init/error", http.StatusAccepted},
		{"unknown id", http.MethodPost, Prefix + "invocation/nope/response", http.StatusBadRequest},
		{"bad kind", http.MethodPost, Prefix + "invocation/x/other", http.StatusNotFound},
		{"outside prefix", http.MethodGet, "/other", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewReader([]byte(`{"errorMessage":"boom"}`)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	select {
	case <-s.InitError():
	default:
		t.Fatal("InitError not closed")
	}
	if got := string(s.InitErrorBody()); got != `{"errorMessage":"boom"}` {
		t.Errorf("init error body = %q", got)
	}
}

func TestInvokeTimesOutWithoutRuntime(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Invoke(context.Background(), []byte(`{}`), 50*time.Millisecond); err == nil {
		t.Fatal("Invoke without a runtime returned no error")
	}
}
