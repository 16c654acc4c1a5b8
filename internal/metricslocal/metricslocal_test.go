package metricslocal_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/homeregion/homeregion/internal/httpapilocal"
	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/metricslocal"
)

type fakeCW struct {
	fail  error
	calls []*cloudwatch.PutMetricDataInput
}

func (f *fakeCW) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.calls = append(f.calls, in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

func datum(i int) cwtypes.MetricDatum {
	return cwtypes.MetricDatum{MetricName: aws.String(fmt.Sprint(i)), Value: aws.Float64(float64(i))}
}

func TestFlushBatchesByNamespace(t *testing.T) {
	cw := &fakeCW{}
	var logs logtest.Buffer
	p := metricslocal.New(cw, logs.Logger())
	for i := 0; i < 1500; i++ {
		p.Add("A", datum(i))
	}
	p.Add("B", datum(1500))
	p.Add("A", datum(1501))
	cw.fail = errors.New("moto down")
	if err := p.Flush(context.Background()); err == nil {
		t.Fatal("Flush hid the error")
	}
	cw.fail = nil
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	next := 0
	for _, c := range cw.calls {
		got = append(got, fmt.Sprintf("%s:%d", aws.ToString(c.Namespace), len(c.MetricData)))
		for _, d := range c.MetricData {
			if aws.ToString(d.MetricName) != fmt.Sprint(next) {
				t.Fatalf("datum %s sent where %d was due", aws.ToString(d.MetricName), next)
			}
			next++
		}
	}
	if fmt.Sprint(got) != "[A:1000 A:500 B:1 A:1]" || next != 1502 {
		t.Fatalf("batches %v (%d datapoints)", got, next)
	}
	if err := p.Flush(context.Background()); err != nil || len(cw.calls) != 4 {
		t.Fatalf("second flush sent again: %d calls, %v", len(cw.calls), err)
	}
}

func TestHTTPAPISample(t *testing.T) {
	cw := &fakeCW{}
	p := metricslocal.New(cw, nil)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.HTTPAPI(httpapilocal.MetricSample{APIID: "api1", Stage: "$default", Time: at, Status: 503, Latency: 5 * time.Millisecond})
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(cw.calls) != 1 || aws.ToString(cw.calls[0].Namespace) != "AWS/ApiGateway" {
		t.Fatalf("calls %+v", cw.calls)
	}
	got := map[string]float64{}
	for _, d := range cw.calls[0].MetricData {
		if !d.Timestamp.Equal(at) {
			t.Errorf("timestamp %v", d.Timestamp)
		}
		var dims []string
		for _, x := range d.Dimensions {
			dims = append(dims, aws.ToString(x.Name)+"="+aws.ToString(x.Value))
		}
		got[fmt.Sprintf("%s%v %s", aws.ToString(d.MetricName), dims, d.Unit)] = aws.ToFloat64(d.Value)
	}
	want := map[string]float64{
		"Count[ApiId=api1] Count": 1, "4xx[ApiId=api1] Count": 0, "5xx[ApiId=api1] Count": 1, "Latency[ApiId=api1] Milliseconds": 5,
		"Count[ApiId=api1 Stage=$default] Count": 1, "4xx[ApiId=api1 Stage=$default] Count": 0, "5xx[ApiId=api1 Stage=$default] Count": 1, "Latency[ApiId=api1 Stage=$default] Milliseconds": 5,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("datapoints\n got %v\nwant %v", got, want)
	}
}
