package tracing

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestInstrumentOnlyInLambda(t *testing.T) {
	tests := []struct {
		name, taskRoot, flag, disabled string
		want                           bool
	}{
		{"outside Lambda", "", "", "", false},
		{"inside Lambda", "/var/task", "", "", true},
		{"forced on outside Lambda", "", "on", "", true},
		{"disabled inside Lambda", "/var/task", "", "TRUE", false},
		{"not disabled by false", "/var/task", "", "false", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LAMBDA_TASK_ROOT": tt.taskRoot, "HOMEREGION_XRAY": tt.flag, "AWS_XRAY_SDK_DISABLED": tt.disabled}
			getenv := func(k string) string { return env[k] }
			var cfg aws.Config
			if err := Instrument(&cfg, getenv); err != nil {
				t.Fatal(err)
			}
			if got := len(cfg.APIOptions) > 0; got != tt.want || Enabled(getenv) != tt.want {
				t.Fatalf("instrumented = %t, Enabled = %t, want %t", got, Enabled(getenv), tt.want)
			}
		})
	}
}

func TestDaemonAddress(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"", "127.0.0.1:2000", false},
		{"169.254.79.129:2000", "169.254.79.129:2000", false},
		{"xray-daemon:2000", "xray-daemon:2000", false},
		{"tcp:127.0.0.1:2000 udp:127.0.0.2:2001", "127.0.0.2:2001", false},
		{"udp:127.0.0.2:2001 tcp:127.0.0.1:2000", "127.0.0.2:2001", false},
		{"127.0.0.1", "", true},
		{"127.0.0.1:x", "", true},
		{"127.0.0.1:0", "", true},
		{"udp:127.0.0.1:2000 udp:127.0.0.1:2001", "", true},
		{"a b c", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := daemonAddress(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("daemonAddress(%q) = %q, %v; want %q, error %t", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	env := map[string]string{"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_DAEMON_ADDRESS": "nonsense"}
	var cfg aws.Config
	if err := Instrument(&cfg, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "AWS_XRAY_DAEMON_ADDRESS") {
		t.Fatalf("Instrument with a malformed daemon address: %v, want an error naming AWS_XRAY_DAEMON_ADDRESS", err)
	}
}

func TestHeader(t *testing.T) {
	t.Setenv("_X_AMZN_TRACE_ID", "Root=1-env")
	//lint:ignore SA1029 aws-lambda-go stores the trace header under this string key
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-ctx")
	if got := Header(ctx); got != "Root=1-ctx" {
		t.Errorf("Header(invocation ctx) = %q, want the invocation's", got)
	}
	if got := Header(context.Background()); got != "" {
		t.Errorf("Header(no value) = %q, want none (never the shared process environment)", got)
	}
}

// document is what the test daemon reads of a subsegment.
type document struct {
	Name      string  `json:"name"`
	ID        string  `json:"id"`
	TraceID   string  `json:"trace_id"`
	ParentID  string  `json:"parent_id"`
	Type      string  `json:"type"`
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	Namespace string  `json:"namespace"`
	Fault     bool    `json:"fault"`
	Error     bool    `json:"error"`
	Throttle  bool    `json:"throttle"`
	Cause     *struct {
		Exceptions []struct {
			Message string `json:"message"`
		} `json:"exceptions"`
	} `json:"cause"`
	HTTP struct {
		Response struct {
			Status int `json:"status"`
		} `json:"response"`
	} `json:"http"`
	AWS struct {
		Region    string `json:"region"`
		Operation string `json:"operation"`
		RequestID string `json:"request_id"`
	} `json:"aws"`
}

// fakeDaemon is a UDP listener standing in for the X-Ray daemon.
type fakeDaemon struct {
	conn *net.UDPConn
	docs chan string
}

func startDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDaemon{conn: conn, docs: make(chan string, 16)}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			d.docs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return d
}

// next returns the next document, or ok false when none came within wait.
func (d *fakeDaemon) next(t *testing.T, wait time.Duration) (document, bool) {
	t.Helper()
	select {
	case raw := <-d.docs:
		body, ok := strings.CutPrefix(raw, `{"format": "json", "version": 1}`+"\n")
		if !ok {
			t.Fatalf("datagram without the daemon header: %q", raw)
		}
		var doc document
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("subsegment %q: %v", body, err)
		}
		return doc, true
	case <-time.After(wait):
		return document{}, false
	}
}

// TestSubsegments runs real DynamoDB client calls, instrumented as in Lambda,
// against a fake service and checks what the daemon receives and what
// header the service sees.
func TestSubsegments(t *testing.T) {
	const (
		traceID = "1-5759e988-bd862e3fe1be46a994272793"
		parent  = "53995c3f42cd8ad8"
	)
	tests := []struct {
		name       string
		header     string // the invocation's; "" for no invocation
		status     int
		body       string
		wantDoc    bool
		wantHeader string // the downstream header's sampling, "" for none sent
		check      func(t *testing.T, d document)
	}{
		{name: "sampled call", header: "Root=" + traceID + ";Parent=" + parent + ";Sampled=1", status: 200, body: `{}`,
			wantDoc: true, wantHeader: "Sampled=1", check: func(t *testing.T, d document) {
				if d.Fault || d.Error || d.Throttle || d.Cause != nil {
					t.Errorf("a successful call marked failed: %+v", d)
				}
			}},
		{name: "condition failed", header: "Root=" + traceID + ";Parent=" + parent + ";Sampled=1", status: 400,
			body:    `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`,
			wantDoc: true, wantHeader: "Sampled=1", check: func(t *testing.T, d document) {
				if !d.Error || !d.Fault || d.Throttle || d.Cause == nil || len(d.Cause.Exceptions) != 1 || !strings.Contains(d.Cause.Exceptions[0].Message, "ConditionalCheckFailed") {
					t.Errorf("a refused call: %+v", d)
				}
			}},
		{name: "throttled", header: "Root=" + traceID + ";Parent=" + parent + ";Sampled=1", status: 429,
			body:    `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}`,
			wantDoc: true, wantHeader: "Sampled=1", check: func(t *testing.T, d document) {
				if !d.Throttle || !d.Error {
					t.Errorf("a throttled call: %+v", d)
				}
			}},
		{name: "not sampled", header: "Root=" + traceID + ";Parent=" + parent + ";Sampled=0", status: 200, body: `{}`,
			wantDoc: false, wantHeader: "Sampled=0"},
		{name: "no invocation", header: "", status: 200, body: `{}`, wantDoc: false, wantHeader: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Get("X-Amzn-Trace-Id"))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.Header().Set("x-amzn-RequestId", "REQ1")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			daemon := startDaemon(t)
			env := map[string]string{"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_DAEMON_ADDRESS": daemon.conn.LocalAddr().String()}
			cfg := aws.Config{
				Region:           "eu-west-1",
				Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
				BaseEndpoint:     aws.String(srv.URL),
				RetryMaxAttempts: 1,
			}
			if err := Instrument(&cfg, func(k string) string { return env[k] }); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.header != "" {
				//lint:ignore SA1029 aws-lambda-go stores the trace header under this string key
				ctx = context.WithValue(ctx, "x-amzn-trace-id", tt.header)
			}
			before := float64(time.Now().UnixNano()) / 1e9
			_, callErr := dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String("t"), Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}},
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			})
			if (callErr != nil) != (tt.status >= 400) {
				t.Fatalf("PutItem: %v", callErr)
			}
			var ccf *ddbtypes.ConditionalCheckFailedException
			if tt.status == 400 && !errors.As(callErr, &ccf) {
				t.Fatalf("PutItem: %v, want the service's error unchanged", callErr)
			}
			mu.Lock()
			if len(seen) != 1 {
				t.Fatalf("%d requests", len(seen))
			}
			sent := seen[0]
			mu.Unlock()

			doc, got := daemon.next(t, map[bool]time.Duration{true: 2 * time.Second, false: 200 * time.Millisecond}[tt.wantDoc])
			if got != tt.wantDoc {
				t.Fatalf("subsegment sent = %t, want %t (%+v)", got, tt.wantDoc, doc)
			}
			switch {
			case tt.wantHeader == "":
				if strings.Contains(sent, "Parent=") {
					t.Errorf("trace header %q sent without an invocation", sent)
				}
			default:
				if !strings.HasPrefix(sent, "Root="+traceID+";Parent=") || !strings.HasSuffix(sent, ";"+tt.wantHeader) || strings.Contains(sent, parent) {
					t.Errorf("downstream header %q: want the invocation's trace, a new parent and %s", sent, tt.wantHeader)
				}
			}
			if !got {
				return
			}
			if sent != "Root="+traceID+";Parent="+doc.ID+";Sampled=1" {
				t.Errorf("downstream header %q, want the subsegment %s as its parent", sent, doc.ID)
			}
			if doc.Type != "subsegment" || doc.TraceID != traceID || doc.ParentID != parent || len(doc.ID) != 16 ||
				doc.Name != "DynamoDB" || doc.Namespace != "aws" || doc.AWS.Operation != "PutItem" || doc.AWS.Region != "eu-west-1" ||
				doc.AWS.RequestID != "REQ1" || doc.HTTP.Response.Status != tt.status {
				t.Errorf("subsegment %+v", doc)
			}
			if doc.StartTime < before-1 || doc.EndTime < doc.StartTime {
				t.Errorf("times %f..%f (call at %f)", doc.StartTime, doc.EndTime, before)
			}
			if tt.check != nil {
				tt.check(t, doc)
			}
			if extra, more := daemon.next(t, 100*time.Millisecond); more {
				t.Errorf("a second subsegment for one call: %+v", extra)
			}
		})
	}
}
