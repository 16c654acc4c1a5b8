// Package metricslocal publishes, for the local stack, the CloudWatch
// metrics AWS services publish on their own (API Gateway's per-request
// metrics of the local HTTP API) to moto's CloudWatch with PutMetricData,
// in batches, so that the alarm emulator reads them as CloudWatch alarms
// read the real ones.
package metricslocal

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/homeregion/homeregion/internal/httpapilocal"
)

// MaxBatch is the most metrics one PutMetricData request may carry.
const MaxBatch = 1000

// MaxPending bounds the datapoints held while CloudWatch does not take
// them; beyond it new ones are dropped (and the drop logged).
const MaxPending = 100_000

// PutMetricDataAPI is the part of the CloudWatch client the publisher uses.
// Build it with provision.CloudWatchQueryProtocol: moto 5.2.1 does not speak
// CBOR.
type PutMetricDataAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

type entry struct {
	namespace string
	datum     cwtypes.MetricDatum
}

// Publisher queues datapoints and sends them on Flush.
type Publisher struct {
	cw      PutMetricDataAPI
	logger  *slog.Logger
	mu      sync.Mutex
	pending []entry
	dropped int
}

// New returns a Publisher sending to cw; logger nil means slog.Default().
func New(cw PutMetricDataAPI, logger *slog.Logger) *Publisher {
	if logger == nil {
		logger = slog.Default()
	}
	return &Publisher{cw: cw, logger: logger}
}

// Add queues datapoints of namespace. It never blocks on CloudWatch.
func (p *Publisher) Add(namespace string, data ...cwtypes.MetricDatum) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range data {
		if len(p.pending) >= MaxPending {
			p.dropped++
			continue
		}
		p.pending = append(p.pending, entry{namespace: namespace, datum: d})
	}
}

// HTTPAPI queues an HTTP API request's metrics: it is an
// httpapilocal.Config.Metrics hook.
func (p *Publisher) HTTPAPI(s httpapilocal.MetricSample) {
	ms := s.Metrics()
	data := make([]cwtypes.MetricDatum, 0, len(ms))
	for _, m := range ms {
		d := cwtypes.MetricDatum{MetricName: aws.String(m.Name), Value: aws.Float64(m.Value), Unit: cwtypes.StandardUnit(m.Unit), Timestamp: aws.Time(s.Time)}
		for _, k := range []string{"ApiId", "Stage"} {
			if v, ok := m.Dimensions[k]; ok {
				d.Dimensions = append(d.Dimensions, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)})
			}
		}
		data = append(data, d)
	}
	p.Add(httpapilocal.MetricNamespace, data...)
}

// Flush sends what is queued, MaxBatch datapoints of one namespace per
// request, in the order added. What a failed request did not send stays
// queued for the next Flush.
func (p *Publisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	queued, dropped := p.pending, p.dropped
	p.pending, p.dropped = nil, 0
	p.mu.Unlock()
	if dropped > 0 {
		p.logger.Warn("metrics dropped: CloudWatch did not take them in time", "count", dropped)
	}
	for len(queued) > 0 {
		ns := queued[0].namespace
		n := 0
		var batch []cwtypes.MetricDatum
		for n < len(queued) && n < MaxBatch && queued[n].namespace == ns {
			batch = append(batch, queued[n].datum)
			n++
		}
		if _, err := p.cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: batch}); err != nil {
			p.requeue(queued)
			return fmt.Errorf("put metric data %s: %w", ns, err)
		}
		queued = queued[n:]
	}
	return nil
}

// requeue puts unsent entries back before those added since.
func (p *Publisher) requeue(unsent []entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := append(append([]entry{}, unsent...), p.pending...)
	if len(all) > MaxPending {
		p.dropped += len(all) - MaxPending
		all = all[:MaxPending]
	}
	p.pending = all
}

// Run flushes every interval until ctx is done, then once more.
func (p *Publisher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := p.Flush(fctx); err != nil {
				p.logger.Warn("final metrics flush failed", "error", err)
			}
			return
		case <-t.C:
			if err := p.Flush(ctx); err != nil && ctx.Err() == nil {
				p.logger.Warn("metrics flush failed", "error", err)
			}
		}
	}
}
