package codec_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"tandem/workflows/codec"
)

var (
	k1 = codec.Key{ID: "k1", Key: bytes.Repeat([]byte{1}, 32)}
	k2 = codec.Key{ID: "k2", Key: bytes.Repeat([]byte{2}, 32)}
)

func TestRoundTripAndRotation(t *testing.T) {
	old, err := codec.New(nil, k1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := old.DataConverter().ToPayload(map[string]string{"body": "my card is 4111 1111 1111 1111"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.GetData(), []byte("4111")) {
		t.Fatal("payload data is in clear")
	}
	// After rotation, the new codec still opens the old payload.
	rotated, _ := codec.New(nil, k2, k1)
	var got map[string]string
	if err := rotated.DataConverter().FromPayload(p, &got); err != nil || got["body"] != "my card is 4111 1111 1111 1111" {
		t.Fatalf("decode after rotation: %v %v", got, err)
	}
	// Without the key it does not.
	onlyNew, _ := codec.New(nil, k2)
	if err := onlyNew.DataConverter().FromPayload(p, &got); err == nil {
		t.Fatal("decoded without the key")
	}
	// A tampered payload is refused.
	p.Data[len(p.Data)-1] ^= 1
	if err := old.DataConverter().FromPayload(p, &got); err == nil {
		t.Fatal("decoded a tampered payload")
	}
}

func TestPlainPayloadsPassThrough(t *testing.T) {
	c, _ := codec.New(nil, k1)
	plain, _ := converter.GetDefaultDataConverter().ToPayload("recorded before encryption")
	var s string
	if err := c.DataConverter().FromPayload(plain, &s); err != nil || s != "recorded before encryption" {
		t.Fatalf("%q %v", s, err)
	}
}

func TestBadKeys(t *testing.T) {
	for _, keys := range [][]codec.Key{nil, {{ID: "", Key: k1.Key}}, {{ID: "short", Key: []byte("x")}}} {
		if _, err := codec.New(nil, keys...); err == nil {
			t.Errorf("New(%v) accepted", keys)
		}
	}
}

// customerKeys is a customer's data keys as the store holds them: bound to
// workflows, destroyed on erasure.
type customerKeys struct {
	mu        sync.Mutex
	keys      map[string][]byte // nil once destroyed
	workflows map[string]string
	lookups   int
}

// errDestroyed is a destroyed key: gone for good, so the codec does not retry.
var errDestroyed error = keyGone("destroyed")

type keyGone string

func (e keyGone) Error() string { return string(e) }
func (keyGone) KeyGone() bool   { return true }

func (k *customerKeys) WorkflowKey(_ context.Context, wf string) (string, []byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lookups++
	id, ok := k.workflows[wf]
	if !ok {
		return "", nil, false, nil
	}
	if k.keys[id] == nil {
		return "", nil, false, errDestroyed
	}
	return id, k.keys[id], true, nil
}

func (k *customerKeys) DataKey(_ context.Context, id string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys[id] == nil {
		return nil, errDestroyed
	}
	return k.keys[id], nil
}

// A customer's workflow seals with the customer's key; once that key is
// destroyed, neither the payload key nor a fresh codec opens the payload,
// while payloads of other workflows stay readable.
func TestCustomerKeys(t *testing.T) {
	src := &customerKeys{keys: map[string][]byte{"dk_1": bytes.Repeat([]byte{7}, 32)}, workflows: map[string]string{"case:acme:1": "dk_1"}}
	c, err := codec.New(src, k1)
	if err != nil {
		t.Fatal(err)
	}
	mine := c.DataConverter().(converter.DataConverterWithSerializationContext).
		WithSerializationContext(converter.WorkflowSerializationContext{Namespace: "default", WorkflowID: "case:acme:1"})
	other := c.DataConverter().(converter.DataConverterWithSerializationContext).
		WithSerializationContext(converter.ActivitySerializationContext{Namespace: "default", WorkflowID: "BenchBare-1"})
	secret := "Ruth Example, flat 3, my card ends 4242"
	p, err := mine.ToPayload(secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.GetMetadata()["encryption-key-id"]); got != "dk_1" {
		t.Fatalf("sealed with %q, want the customer's key dk_1", got)
	}
	if bytes.Contains(p.GetData(), []byte("4242")) {
		t.Fatal("payload in clear")
	}
	q, err := other.ToPayload("not personal")
	if err != nil || string(q.GetMetadata()["encryption-key-id"]) != "k1" {
		t.Fatalf("a workflow without a customer: %v %v", q.GetMetadata(), err)
	}
	var s string
	if err := mine.FromPayload(p, &s); err != nil || s != secret {
		t.Fatalf("round trip: %q %v", s, err)
	}
	for range 10 {
		if _, err := mine.ToPayload(secret); err != nil {
			t.Fatal(err)
		}
	}
	if src.lookups != 2 {
		t.Errorf("%d lookups of workflows' keys for 12 payloads of 2 workflows, want 2 (cached)", src.lookups)
	}
	payloadKeyOnly, _ := codec.New(nil, k1)
	if err := payloadKeyOnly.DataConverter().FromPayload(p, &s); err == nil {
		t.Fatal("the payload key opened a customer's payload")
	}

	// Erasure destroys the key.
	src.mu.Lock()
	src.keys["dk_1"] = nil
	src.mu.Unlock()
	fresh, _ := codec.New(src, k1)
	if err := fresh.DataConverter().FromPayload(p, &s); !errors.Is(err, errDestroyed) {
		t.Fatalf("decode after erasure: %q %v, want the store's refusal", s, err)
	}
	freshMine := fresh.DataConverter().(converter.DataConverterWithSerializationContext).
		WithSerializationContext(converter.WorkflowSerializationContext{WorkflowID: "case:acme:1"})
	if _, err := freshMine.ToPayload("after"); err == nil || !strings.Contains(err.Error(), "case:acme:1") {
		t.Fatalf("encode for an erased customer's workflow: %v", err)
	}
	// The process that erased forgets at once; another one within keyTTL.
	c.Forget("dk_1")
	if err := c.DataConverter().FromPayload(p, &s); err == nil {
		t.Fatal("decoded after Forget")
	}
	var n string
	if err := fresh.DataConverter().FromPayload(q, &n); err != nil || n != "not personal" {
		t.Fatalf("other payloads after the erasure: %q %v", n, err)
	}
}

// blinkingKeys fails its first lookups as a database in a blip does.
type blinkingKeys struct {
	customerKeys
	failures int
}

func (k *blinkingKeys) DataKey(ctx context.Context, id string) ([]byte, error) {
	if k.failures > 0 {
		k.failures--
		return nil, errors.New("read data key: connection refused")
	}
	return k.customerKeys.DataKey(ctx, id)
}

// A key lookup that fails for a moment is retried: the SDK fails a workflow
// whose input it cannot decode, so a blip must not reach it.
func TestKeyLookupRidesOutABlip(t *testing.T) {
	keys := &blinkingKeys{customerKeys: customerKeys{keys: map[string][]byte{"dk_1": bytes.Repeat([]byte{7}, 32)},
		workflows: map[string]string{"case:acme:1": "dk_1"}}}
	sealer, err := codec.New(&keys.customerKeys, codec.Key{ID: "p", Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.WithSerializationContext(converter.WorkflowSerializationContext{WorkflowID: "case:acme:1"}).
		Encode([]*commonpb.Payload{{Data: []byte("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	keys.failures = 3
	opener, err := codec.New(keys, codec.Key{ID: "p", Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := opener.Decode(sealed)
	if err != nil || string(out[0].GetData()) != "hello" || keys.failures != 0 {
		t.Fatalf("decode through a blip: %v %v (%d failures left)", out, err, keys.failures)
	}
}

// downKeys is a key store that cannot answer now.
type downKeys struct{}

func (downKeys) WorkflowKey(context.Context, string) (string, []byte, bool, error) {
	return "", nil, false, context.DeadlineExceeded
}

func (downKeys) DataKey(context.Context, string) ([]byte, error) {
	return nil, context.DeadlineExceeded
}

// A customer's workflow's failure is sealed under the customer's key, so
// erasure reaches its message too; when that key cannot be read, the
// failure keeps its type and retryability and withholds its message,
// never a panic and never the message in clear.
func TestFailuresAreSealedUnderTheCustomersKey(t *testing.T) {
	secret := "Ruth Example wrote: my card ends 4242"
	cause := temporal.NewApplicationErrorWithOptions(secret, "Boom", temporal.ApplicationErrorOptions{NonRetryable: true})
	of := func(c *codec.Codec, worker bool) converter.FailureConverter {
		fc := c.FailureConverter()
		if worker {
			fc = c.WorkerFailureConverter()
		}
		return converter.WithFailureConverterSerializationContext(fc,
			converter.WorkflowSerializationContext{Namespace: "default", WorkflowID: "case:acme:1"})
	}

	src := &customerKeys{keys: map[string][]byte{"dk_1": bytes.Repeat([]byte{7}, 32)}, workflows: map[string]string{"case:acme:1": "dk_1"}}
	c, err := codec.New(src, k1)
	if err != nil {
		t.Fatal(err)
	}
	for _, worker := range []bool{false, true} {
		f := of(c, worker).ErrorToFailure(cause)
		if got := string(f.GetEncodedAttributes().GetMetadata()["encryption-key-id"]); got != "dk_1" {
			t.Fatalf("worker %v: the failure is sealed with %q, want the customer's key dk_1", worker, got)
		}
		back := of(c, worker).FailureToError(f)
		var appErr *temporal.ApplicationError
		if !errors.As(back, &appErr) || appErr.Message() != secret || appErr.Type() != "Boom" {
			t.Fatalf("worker %v: read back as %v", worker, back)
		}
	}

	down, err := codec.New(downKeys{}, k1)
	if err != nil {
		t.Fatal(err)
	}
	down.SetLookupLimit(10 * time.Millisecond)
	for _, worker := range []bool{false, true} {
		f := of(down, worker).ErrorToFailure(cause)
		info := f.GetApplicationFailureInfo()
		if f.GetMessage() != codec.WithheldMessage || info.GetType() != "Boom" || !info.GetNonRetryable() || f.GetEncodedAttributes() != nil {
			t.Fatalf("worker %v: without the key the failure is %v", worker, f)
		}
		if strings.Contains(f.String(), "4242") {
			t.Fatalf("worker %v: the message went out in clear: %v", worker, f)
		}
	}
}
