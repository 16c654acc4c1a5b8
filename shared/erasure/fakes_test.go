package erasure

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/registry"
)

// errInjected is the failure the faults inject (a throttled call, a crash).
var errInjected = errors.New("injected failure")

// faults fails one chosen call: the n-th call of op, before it takes
// effect (a throttled call) or after (a crash or a lost answer). It also
// counts every call per operation.
type faults struct {
	mu    sync.Mutex
	op    string
	n     int
	after bool
	calls map[string]int
}

func newFaults() *faults { return &faults{calls: map[string]int{}} }

// call runs do as operation op, failing it when it is the chosen call.
func (f *faults) call(op string, do func() error) error {
	f.mu.Lock()
	f.calls[op]++
	fail := f.op == op && f.calls[op] == f.n
	after := f.after
	f.mu.Unlock()
	if fail && !after {
		return fmt.Errorf("%s: %w", op, errInjected)
	}
	if err := do(); err != nil {
		return err
	}
	if fail {
		return fmt.Errorf("%s (after it took effect): %w", op, errInjected)
	}
	return nil
}

// total is the number of calls made, all operations.
func (f *faults) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *faults) snapshot() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		out[k] = v
	}
	return out
}

// fakeUser is a user of fakePool.
type fakeUser struct {
	username, sub, email string
	enabled              bool
}

// fakePool is a user pool: ListUsers with the sub or email filter, disable,
// delete.
type fakePool struct {
	f     *faults
	mu    sync.Mutex
	users map[string]*fakeUser // by username
}

var filterRE = regexp.MustCompile(`^(sub|email) = "([^"]*)"$`)

func (p *fakePool) ListUsers(_ context.Context, in *cip.ListUsersInput, _ ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	out := &cip.ListUsersOutput{}
	err := p.f.call("ListUsers", func() error {
		m := filterRE.FindStringSubmatch(aws.ToString(in.Filter))
		if m == nil {
			return fmt.Errorf("unsupported filter %q", aws.ToString(in.Filter))
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, u := range p.users {
			if (m[1] == "sub" && u.sub == m[2]) || (m[1] == "email" && u.email == m[2]) {
				out.Users = append(out.Users, ciptypes.UserType{Username: aws.String(u.username), Enabled: u.enabled, Attributes: []ciptypes.AttributeType{
					{Name: aws.String("sub"), Value: aws.String(u.sub)}, {Name: aws.String("email"), Value: aws.String(u.email)},
				}})
			}
		}
		return nil
	})
	return out, err
}

func (p *fakePool) AdminDisableUser(_ context.Context, in *cip.AdminDisableUserInput, _ ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error) {
	return &cip.AdminDisableUserOutput{}, p.f.call("AdminDisableUser", func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		u, ok := p.users[aws.ToString(in.Username)]
		if !ok {
			return &ciptypes.UserNotFoundException{}
		}
		u.enabled = false
		return nil
	})
}

func (p *fakePool) AdminDeleteUser(_ context.Context, in *cip.AdminDeleteUserInput, _ ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	return &cip.AdminDeleteUserOutput{}, p.f.call("AdminDeleteUser", func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.users[aws.ToString(in.Username)]; !ok {
			return &ciptypes.UserNotFoundException{}
		}
		delete(p.users, aws.ToString(in.Username))
		return nil
	})
}

func (p *fakePool) user(sub string) *fakeUser {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.users {
		if u.sub == sub {
			c := *u
			return &c
		}
	}
	return nil
}

// fakeKeys derives a key as a hash of the address (no KMS).
type fakeKeys struct{ f *faults }

func idKeyOf(email string) string {
	h := sha256.Sum256([]byte("test-key\n" + email))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (k fakeKeys) Key(_ context.Context, email string) (string, error) {
	var key string
	err := k.f.call("Key", func() error { key = idKeyOf(email); return nil })
	return key, err
}

// fakeRegistry is the registry region's table: consistent reads and the
// conditional release. afterLookup, when set, runs after a lookup (a race
// between the read and the release).
type fakeRegistry struct {
	f           *faults
	mu          sync.Mutex
	claims      map[string]registry.Record
	afterLookup func()
}

func (r *fakeRegistry) LookupRegistry(_ context.Context, key string) (registry.Record, bool, error) {
	var rec registry.Record
	var ok bool
	err := r.f.call("LookupRegistry", func() error {
		r.mu.Lock()
		rec, ok = r.claims[key]
		r.mu.Unlock()
		return nil
	})
	if err == nil && r.afterLookup != nil {
		r.afterLookup()
	}
	return rec, ok, err
}

func (r *fakeRegistry) Release(_ context.Context, key, region string, createdAt time.Time) (bool, error) {
	var released bool
	err := r.f.call("Release", func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		c, ok := r.claims[key]
		if ok && c.HomeRegion == region && c.CreatedAt.Equal(createdAt) {
			delete(r.claims, key)
			released = true
		}
		return nil
	})
	return released, err
}

func (r *fakeRegistry) claim(key string) (registry.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.claims[key]
	return c, ok
}

// fakeQueue records what is sent to the orders queue.
type fakeQueue struct {
	f    *faults
	mu   sync.Mutex
	sent []*sqs.SendMessageInput
}

func (q *fakeQueue) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, q.f.call("SendMessage", func() error {
		q.mu.Lock()
		q.sent = append(q.sent, in)
		q.mu.Unlock()
		return nil
	})
}

// take returns the messages sent since the last take.
func (q *fakeQueue) take() []*sqs.SendMessageInput {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.sent
	q.sent = nil
	return out
}

// fakeDLQ is a dead-letter queue: received messages stay hidden until
// deleted or made visible again.
type fakeDLQ struct {
	f    *faults
	mu   sync.Mutex
	msgs []*fakeMsg
	seq  int
}

type fakeMsg struct {
	body    string
	attrs   map[string]sqstypes.MessageAttributeValue
	handle  string
	visible bool
}

func (d *fakeDLQ) add(body string, erasureID string) {
	m := &fakeMsg{body: body, visible: true}
	if erasureID != "" {
		m.attrs = map[string]sqstypes.MessageAttributeValue{"erasureId": {DataType: aws.String("String"), StringValue: aws.String(erasureID)}}
	}
	d.msgs = append(d.msgs, m)
}

func (d *fakeDLQ) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out := &sqs.ReceiveMessageOutput{}
	err := d.f.call("ReceiveMessage", func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, m := range d.msgs {
			if !m.visible || len(out.Messages) == int(in.MaxNumberOfMessages) {
				continue
			}
			d.seq++
			m.visible, m.handle = false, fmt.Sprintf("h%d", d.seq)
			out.Messages = append(out.Messages, sqstypes.Message{Body: aws.String(m.body), ReceiptHandle: aws.String(m.handle), MessageAttributes: m.attrs})
		}
		return nil
	})
	return out, err
}

func (d *fakeDLQ) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return &sqs.DeleteMessageOutput{}, d.f.call("DeleteMessage", func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, m := range d.msgs {
			if m.handle == aws.ToString(in.ReceiptHandle) {
				d.msgs = append(d.msgs[:i], d.msgs[i+1:]...)
				return nil
			}
		}
		return errors.New("receipt handle is not valid")
	})
}

func (d *fakeDLQ) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return &sqs.ChangeMessageVisibilityBatchOutput{}, d.f.call("ChangeMessageVisibilityBatch", func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, e := range in.Entries {
			for _, m := range d.msgs {
				if m.handle == aws.ToString(e.ReceiptHandle) && e.VisibilityTimeout == 0 {
					m.visible = true
				}
			}
		}
		return nil
	})
}

// unhideAll makes every message visible (their 30 s visibility passed).
func (d *fakeDLQ) unhideAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.msgs {
		m.visible = true
	}
}

// bodies are the messages left, sorted; hidden ones are marked.
func (d *fakeDLQ) bodies() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, m := range d.msgs {
		b := m.body
		if !m.visible {
			b = "(hidden) " + b
		}
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

// faultyTable is the orders table (moto, through the real client) with the
// faults injected.
type faultyTable struct {
	f  *faults
	db *dynamodb.Client
}

func (t faultyTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (out *dynamodb.GetItemOutput, err error) {
	err = t.f.call("GetItem", func() error { out, err = t.db.GetItem(ctx, in, o...); return err })
	return out, err
}

func (t faultyTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (out *dynamodb.PutItemOutput, err error) {
	err = t.f.call("PutItem", func() error { out, err = t.db.PutItem(ctx, in, o...); return err })
	return out, err
}

func (t faultyTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (out *dynamodb.UpdateItemOutput, err error) {
	err = t.f.call("UpdateItem", func() error { out, err = t.db.UpdateItem(ctx, in, o...); return err })
	return out, err
}

func (t faultyTable) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (out *dynamodb.DeleteItemOutput, err error) {
	err = t.f.call("DeleteItem", func() error { out, err = t.db.DeleteItem(ctx, in, o...); return err })
	return out, err
}

func (t faultyTable) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (out *dynamodb.QueryOutput, err error) {
	err = t.f.call("Query", func() error { out, err = t.db.Query(ctx, in, o...); return err })
	return out, err
}
