package tracing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-xray-sdk-go/v2/header"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/exception"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// traceIDHeader is the HTTP header that carries the trace downstream.
const traceIDHeader = "X-Amzn-Trace-Id"

// subsegment is one AWS call as X-Ray's segment document describes it: the
// fields and values the X-Ray SDK's awsv2 instrumentor records.
type subsegment struct {
	Name      string    `json:"name"`
	ID        string    `json:"id"`
	TraceID   string    `json:"trace_id"`
	ParentID  string    `json:"parent_id"`
	Type      string    `json:"type"`
	StartTime float64   `json:"start_time"`
	EndTime   float64   `json:"end_time"`
	Namespace string    `json:"namespace"`
	Fault     bool      `json:"fault,omitempty"`
	Error     bool      `json:"error,omitempty"`
	Throttle  bool      `json:"throttle,omitempty"`
	Cause     *cause    `json:"cause,omitempty"`
	HTTP      *httpData `json:"http,omitempty"`
	AWS       awsData   `json:"aws"`
	sampled   bool      // the facade segment is sampled: emit this one
	header    string    // the X-Amzn-Trace-Id sent downstream
}

type cause struct {
	WorkingDirectory string                `json:"working_directory,omitempty"`
	Exceptions       []exception.Exception `json:"exceptions,omitempty"`
}

type httpData struct {
	Response httpResponse `json:"response"`
}

type httpResponse struct {
	Status        int `json:"status,omitempty"`
	ContentLength int `json:"content_length,omitempty"`
}

type awsData struct {
	Region    string `json:"region,omitempty"`
	Operation string `json:"operation,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// begin returns the subsegment of a call to service named in ctx's
// invocation, or nil when ctx carries no trace header (no Lambda invocation:
// nothing to be a subsegment of).
func begin(ctx context.Context, service string) *subsegment {
	h := Header(ctx)
	if h == "" {
		return nil
	}
	facade := header.FromString(h)
	if facade.TraceID == "" || facade.ParentID == "" {
		return nil
	}
	s := &subsegment{
		Name:      service,
		ID:        newID(),
		TraceID:   facade.TraceID,
		ParentID:  facade.ParentID,
		Type:      "subsegment",
		StartTime: epochSeconds(time.Now()),
		Namespace: "aws",
		AWS:       awsData{Region: awsmiddleware.GetRegion(ctx), Operation: awsmiddleware.GetOperationName(ctx)},
		sampled:   facade.SamplingDecision == header.Sampled,
	}
	if len(s.Name) > 200 {
		s.Name = s.Name[:200]
	}
	down := header.Header{TraceID: s.TraceID, ParentID: s.ID, SamplingDecision: header.NotSampled}
	if s.sampled {
		down.SamplingDecision = header.Sampled
	}
	s.header = down.String()
	return s
}

// response records one attempt's HTTP response: the last one counts.
func (s *subsegment) response(resp *smithyhttp.Response, requestID string) {
	s.HTTP = &httpData{Response: httpResponse{Status: resp.StatusCode, ContentLength: int(resp.ContentLength)}}
	if requestID != "" {
		s.AWS.RequestID = requestID
	}
	// As the X-Ray SDK's HttpCaptureResponse.
	s.Error = resp.StatusCode >= 400 && resp.StatusCode < 500
	s.Throttle = resp.StatusCode == 429
	s.Fault = resp.StatusCode >= 500 && resp.StatusCode < 600
}

// end closes the subsegment; a call that failed is a fault with err as its
// cause, as the X-Ray SDK's Segment.Close(err) records it.
func (s *subsegment) end(err error) {
	s.EndTime = epochSeconds(time.Now())
	if err != nil {
		s.Fault = true
		wd, _ := os.Getwd()
		s.Cause = &cause{WorkingDirectory: wd, Exceptions: []exception.Exception{exceptions.ExceptionFromError(err)}}
	}
}

// exceptions formats a call's error as the X-Ray SDK does.
var exceptions = &exception.DefaultFormattingStrategy{FrameCount: 32}

func epochSeconds(t time.Time) float64 { return float64(t.UnixNano()) / float64(time.Second) }

// newID is a subsegment id: 64 random bits in 16 hex digits. X-Ray needs
// them unique within a trace, not secret; math/rand/v2's generator is
// seeded by the runtime and costs no init.
func newID() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

// middleware adds the subsegment of each call to a client's stack, as the
// X-Ray SDK's awsv2 instrumentor does: begun after the Initialize step's
// other middleware (one subsegment spans every retry), the trace header set
// and the response recorded before each attempt's deserialization.
type middleware struct {
	daemon *daemon
}

type subsegmentKey struct{}

func (m *middleware) add(stack *smithymiddleware.Stack) error {
	if err := stack.Initialize.Add(smithymiddleware.InitializeMiddlewareFunc("XRayInitializeMiddlewareAfter", m.initialize), smithymiddleware.After); err != nil {
		return err
	}
	return stack.Deserialize.Add(smithymiddleware.DeserializeMiddlewareFunc("XRayDeserializeMiddleware", deserialize), smithymiddleware.Before)
}

func (m *middleware) initialize(ctx context.Context, in smithymiddleware.InitializeInput, next smithymiddleware.InitializeHandler) (smithymiddleware.InitializeOutput, smithymiddleware.Metadata, error) {
	s := begin(ctx, awsmiddleware.GetServiceID(ctx))
	if s == nil {
		return next.HandleInitialize(ctx, in)
	}
	out, md, err := next.HandleInitialize(context.WithValue(ctx, subsegmentKey{}, s), in)
	s.end(err)
	if s.sampled {
		m.daemon.send(s)
	}
	return out, md, err
}

func deserialize(ctx context.Context, in smithymiddleware.DeserializeInput, next smithymiddleware.DeserializeHandler) (smithymiddleware.DeserializeOutput, smithymiddleware.Metadata, error) {
	s, _ := ctx.Value(subsegmentKey{}).(*subsegment)
	if s == nil {
		return next.HandleDeserialize(ctx, in)
	}
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		req.Header.Set(traceIDHeader, s.header)
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
		id, _ := awsmiddleware.GetRequestIDMetadata(md)
		s.response(resp, id)
	}
	return out, md, err
}

// daemonHeader starts every document sent to the daemon.
const daemonHeader = `{"format": "json", "version": 1}` + "\n"

// daemon sends finished subsegments to the X-Ray daemon over UDP, one
// document per datagram, opening its socket at the first send.
type daemon struct {
	addr string
	mu   sync.Mutex
	conn net.Conn
}

func newDaemon(addr string) *daemon { return &daemon{addr: addr} }

// send emits s; a failure loses the subsegment, never the call.
func (d *daemon) send(s *subsegment) {
	b, err := json.Marshal(s)
	if err != nil {
		slog.Debug("x-ray subsegment not sent", slog.String("error", err.Error()))
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		if d.conn, err = net.Dial("udp", d.addr); err != nil {
			d.conn = nil
			slog.Debug("x-ray subsegment not sent", slog.String("error", err.Error()))
			return
		}
	}
	if _, err := d.conn.Write(append([]byte(daemonHeader), b...)); err != nil {
		slog.Debug("x-ray subsegment not sent", slog.String("error", err.Error()))
	}
}

// daemonAddress is the UDP address in AWS_XRAY_DAEMON_ADDRESS's value v:
// "host:port", or "tcp:host:port udp:host:port" in either order; empty is
// the default, 127.0.0.1:2000.
func daemonAddress(v string) (string, error) {
	if v == "" {
		return "127.0.0.1:2000", nil
	}
	fields := strings.Fields(v)
	switch len(fields) {
	case 1:
		return hostPort(fields[0])
	case 2:
		var udp, tcp string
		for _, f := range fields {
			proto, addr, _ := strings.Cut(f, ":")
			switch proto {
			case "udp":
				udp = addr
			case "tcp":
				tcp = addr
			}
		}
		if udp == "" || tcp == "" {
			return "", errors.New("want host:port or tcp:host:port udp:host:port")
		}
		if _, err := hostPort(tcp); err != nil {
			return "", err
		}
		return hostPort(udp)
	}
	return "", errors.New("want host:port or tcp:host:port udp:host:port")
}

func hostPort(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" {
		return "", errors.New("want host:port or tcp:host:port udp:host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", errors.New("port is not a number from 1 to 65535")
	}
	return v, nil
}
