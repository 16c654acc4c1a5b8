package httpapilocal

import "time"

// Stage is the HTTP API's stage: the template's API has only the $default
// stage, deployed automatically.
const Stage = "$default"

// MetricNamespace is the namespace of API Gateway's metrics.
const MetricNamespace = "AWS/ApiGateway"

// MetricSample is one answered request as API Gateway's metrics see it.
type MetricSample struct {
	APIID, Stage string
	// Time is when the request was received.
	Time time.Time
	// Status is the status code the client got, whoever answered it (the
	// integration, or API Gateway itself: 401 from the authorizer, 404 for
	// no route, 500 or 503 when the integration failed).
	Status int
	// Latency is from receiving the request to answering it.
	Latency time.Duration
	// Integrated is false when the request never reached the integration
	// (refused by the authorizer, no route, a CORS preflight);
	// IntegrationLatency is then zero.
	Integrated         bool
	IntegrationLatency time.Duration
}

// Metric is one CloudWatch datapoint of a MetricSample, in MetricNamespace.
type Metric struct {
	Name       string
	Dimensions map[string]string
	Value      float64
	// Unit is a CloudWatch StandardUnit: Count or Milliseconds.
	Unit string
}

// Metrics returns the datapoints API Gateway publishes for the request, as
// documented for HTTP APIs
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html):
// Count (1 per request, read with SampleCount or Sum), 4xx and 5xx (1 when
// the status is of that class, else 0, so Sum is the number of errors and
// Average the error rate), Latency and, when the integration ran,
// IntegrationLatency (milliseconds). Each is published under the ApiId
// dimension and under ApiId with Stage; the per-route dimension set exists
// only with detailed metrics, which the template does not enable.
func (s MetricSample) Metrics() []Metric {
	class := func(lo int) float64 {
		if s.Status >= lo && s.Status < lo+100 {
			return 1
		}
		return 0
	}
	type point struct {
		name  string
		value float64
		unit  string
	}
	points := []point{
		{"Count", 1, "Count"},
		{"4xx", class(400), "Count"},
		{"5xx", class(500), "Count"},
		{"Latency", ms(s.Latency), "Milliseconds"},
	}
	if s.Integrated {
		points = append(points, point{"IntegrationLatency", ms(s.IntegrationLatency), "Milliseconds"})
	}
	dims := []map[string]string{{"ApiId": s.APIID}, {"ApiId": s.APIID, "Stage": s.Stage}}
	out := make([]Metric, 0, len(points)*len(dims))
	for _, d := range dims {
		for _, p := range points {
			out = append(out, Metric{Name: p.name, Dimensions: d, Value: p.value, Unit: p.unit})
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
