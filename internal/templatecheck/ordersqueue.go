package templatecheck

import (
	"fmt"

	"github.com/homeregion/homeregion/internal/template"
)

// OrdersQueueFIFO is what OrdersQueue's properties must say: POST /orders
// sends each order with its id as deduplication id and message group and
// relies on the queue to drop a replay's copy (ordersapi), which only a
// FIFO queue does; deduplication per message group (high-throughput mode)
// keeps each order's deduplication to its own group, and content-based
// deduplication stays off, since every re-send is sealed afresh (its body
// differs).
var OrdersQueueFIFO = map[string]any{
	"FifoQueue":                 true,
	"ContentBasedDeduplication": false,
	"DeduplicationScope":        "messageGroup",
	"FifoThroughputLimit":       "perMessageGroupId",
}

// CheckOrdersQueue requires OrdersQueue to be the FIFO queue ordersapi
// relies on (OrdersQueueFIFO) and OrdersDeadLetterQueue, its redrive
// target, to be FIFO too (SQS requires a FIFO queue's DLQ to be FIFO). A
// template without OrdersQueue (onprem.yaml, arc.yaml) has nothing to check.
func CheckOrdersQueue(t *template.Template) []Finding {
	var fs []Finding
	q := t.Resource("OrdersQueue")
	if q == nil {
		return nil
	}
	for k, want := range OrdersQueueFIFO {
		if got := q.Properties[k]; got != want {
			fs = append(fs, Finding{"orders-queue", "OrdersQueue", fmt.Sprintf("%s is %v, want %v: a replay's re-sent order is dropped only by a FIFO queue deduplicating per message group", k, got, want)})
		}
	}
	if d := t.Resource("OrdersDeadLetterQueue"); d == nil || d.Properties["FifoQueue"] != true {
		fs = append(fs, Finding{"orders-queue", "OrdersDeadLetterQueue", "not a FIFO queue: a FIFO queue's dead-letter queue must be FIFO"})
	}
	return fs
}
