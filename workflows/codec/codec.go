// Package codec encrypts Temporal payloads, so that workflow inputs, update
// arguments and results (conversation text, customer references) are
// ciphertext in workflow history. Clients and workers must use the same keys.
//
// A customer's case and refund workflows seal their payloads with that
// customer's data key, found through the workflow ID the SDK passes with each
// payload (its serialization context); destroying the key on erasure makes
// every payload of theirs unreadable wherever a copy of the history survives.
// Other workflows, and payloads serialised without a context, use the
// deployment's payload key. Each payload names its key in its metadata, so
// decoding needs no context.
package codec

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	encodingEncrypted = "binary/encrypted"
	metaEncoding      = "encoding"
	metaKeyID         = "encryption-key-id"
)

// Key is a 32-byte AES key and its ID, which is written beside each payload
// it encrypts, so that older keys keep decrypting after a rotation.
type Key struct {
	ID  string
	Key []byte
}

// Keys finds customers' data keys.
type Keys interface {
	// WorkflowKey returns the data key a workflow's payloads are sealed
	// with; ok is false for a workflow that has none (the payload key seals
	// its payloads). An erased customer's workflow is an error.
	WorkflowKey(ctx context.Context, workflowID string) (id string, key []byte, ok bool, err error)
	// DataKey returns a data key by its ID; an error once it is destroyed.
	DataKey(ctx context.Context, id string) ([]byte, error)
}

// How long a process keeps what it looked up. A data key destroyed by an
// erasure elsewhere stays usable here for at most keyTTL; a workflow's key
// never changes once bound, and "none" is rechecked after noKeyTTL.
const (
	keyTTL      = time.Minute
	workflowTTL = 10 * time.Minute
	noKeyTTL    = 10 * time.Second
	cacheLimit  = 100_000
	lookupLimit = 10 * time.Second
)

// Codec encrypts with the first payload key, or a workflow's data key, and
// decrypts with any of them.
type Codec struct {
	current string
	aeads   map[string]cipher.AEAD // payload keys
	keys    Keys                   // nil: payload keys only

	lookupLimit time.Duration

	mu        sync.Mutex
	dataKeys  map[string]cachedKey
	workflows map[string]cachedWorkflow
}

type cachedKey struct {
	aead  cipher.AEAD
	until time.Time
}

type cachedWorkflow struct {
	keyID string // "": sealed with the payload key
	until time.Time
}

// New returns a codec; payloadKeys[0] encrypts what no customer owns, and
// keys (nil for none) finds customers' data keys.
func New(keys Keys, payloadKeys ...Key) (*Codec, error) {
	if len(payloadKeys) == 0 {
		return nil, fmt.Errorf("payload codec: at least one key is required")
	}
	c := &Codec{current: payloadKeys[0].ID, aeads: map[string]cipher.AEAD{}, keys: keys,
		dataKeys: map[string]cachedKey{}, workflows: map[string]cachedWorkflow{}, lookupLimit: lookupLimit}
	for _, k := range payloadKeys {
		if k.ID == "" || len(k.Key) != 32 {
			return nil, fmt.Errorf("payload key %q: need an ID and 32 bytes", k.ID)
		}
		aead, err := newAEAD(k.Key)
		if err != nil {
			return nil, err
		}
		c.aeads[k.ID] = aead
	}
	return c, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// DataConverter is the SDK's default converter with this codec after it.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// SetLookupLimit sets how long a key lookup is retried before a payload is
// given up as unreadable for now (UnavailableError); before any use.
func (c *Codec) SetLookupLimit(d time.Duration) { c.lookupLimit = d }

// WorkerDataConverter is DataConverter for workers. The SDK decodes some
// payloads of a workflow's history without looking at the error — a version
// marker it cannot read is taken for "no version", an update whose input it
// cannot read is rejected — so a key the codec cannot read now would make a
// replay take another path than the run took live. Here such a decode fails
// the workflow task instead: a panic the SDK recovers into a failed task,
// which Temporal retries until the key can be read. Only workers may use it;
// anything else would crash on a slow key store.
func (c *Codec) WorkerDataConverter() converter.DataConverter {
	// Not workflow.DataConverterWithoutDeadlockDetection: the SDK (v1.50) hands
	// its workflow-bound copy to local activities' goroutines, and their
	// pauses of the deadlock detector race (go test -race).
	return strictConverter{c.DataConverter()}
}

// WorkerFailureConverter is FailureConverter for workers, reading failures'
// attributes with WorkerDataConverter.
func (c *Codec) WorkerFailureConverter() converter.FailureConverter {
	return newFailures(c.WorkerDataConverter())
}

// FailureConverter keeps failures' messages and stack traces out of
// workflow history in clear: they travel in the failure's encoded
// attributes, a payload this codec seals like any other — a customer's
// workflow's under the customer's data key, so that erasure reaches them
// too — since a message can quote what a customer wrote. Every client and
// worker must use it (as the data converter) to read them back.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return newFailures(c.DataConverter())
}

// failures is the SDK's failure converter over dc, told which workflow a
// failure belongs to (SDK v1.50 passes the serialization context).
type failures struct {
	converter.FailureConverter
	dc converter.DataConverter
}

func newFailures(dc converter.DataConverter) failures {
	return failures{temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: dc, EncodeCommonAttributes: true}), dc}
}

func (f failures) WithSerializationContext(sc converter.SerializationContext) converter.FailureConverter {
	return newFailures(converter.WithDataConverterSerializationContext(f.dc, sc))
}

// ErrorToFailure seals the failure; when its key cannot be read, the
// failure keeps its type and retryability and withholds its message,
// never carrying it in clear. (The SDK panics when sealing fails, also in
// the handler that reports an activity's panic, where nothing recovers.)
func (f failures) ErrorToFailure(err error) (out *failurepb.Failure) {
	defer func() {
		if recover() != nil {
			out = withheld(err)
		}
	}()
	return f.FailureConverter.ErrorToFailure(err)
}

// WithheldMessage replaces a failure's message that could not be sealed.
const WithheldMessage = "the failure's message is withheld: its key could not be read"

func withheld(err error) *failurepb.Failure {
	info := &failurepb.ApplicationFailureInfo{}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		info.Type, info.NonRetryable = appErr.Type(), appErr.NonRetryable()
	}
	return &failurepb.Failure{Message: WithheldMessage, Source: "GoSDK",
		FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: info}}
}

// WithSerializationContext implements converter.PayloadCodecWithSerializationContext:
// the SDK says which workflow a payload belongs to.
func (c *Codec) WithSerializationContext(sc converter.SerializationContext) converter.PayloadCodec {
	switch sc := sc.(type) {
	case converter.WorkflowSerializationContext:
		return workflowCodec{c, sc.WorkflowID}
	case converter.ActivitySerializationContext:
		return workflowCodec{c, sc.WorkflowID}
	}
	return c
}

// Forget drops a data key from this process's cache (an erasure here).
func (c *Codec) Forget(keyIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range keyIDs {
		delete(c.dataKeys, id)
	}
	for wf, e := range c.workflows {
		for _, id := range keyIDs {
			if e.keyID == id {
				delete(c.workflows, wf)
			}
		}
	}
}

// workflowCodec seals with the data key of the workflow's customer.
type workflowCodec struct {
	c          *Codec
	workflowID string
}

func (w workflowCodec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if len(payloads) == 0 {
		return payloads, nil
	}
	id, aead, err := w.c.sealer(w.workflowID)
	if err != nil {
		return nil, err
	}
	return seal(id, aead, payloads)
}

func (w workflowCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return w.c.Decode(payloads)
}

// Encode implements converter.PayloadCodec: with no workflow named, the
// payload key seals.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return seal(c.current, c.aeads[c.current], payloads)
}

func seal(id string, aead cipher.AEAD, payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{metaEncoding: []byte(encodingEncrypted), metaKeyID: []byte(id)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(id)),
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec. Payloads it did not encrypt
// (histories recorded before encryption) pass through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[metaEncoding]) != encodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[metaKeyID])
		aead, err := c.opener(id)
		if err != nil {
			return nil, err
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, fmt.Errorf("decode payload: ciphertext too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decode payload with key %q: %w", id, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

// sealer is the key a workflow's payloads are sealed with.
func (c *Codec) sealer(workflowID string) (string, cipher.AEAD, error) {
	if c.keys == nil || workflowID == "" {
		return c.current, c.aeads[c.current], nil
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.workflows[workflowID]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		if e.keyID == "" {
			return c.current, c.aeads[c.current], nil
		}
		aead, err := c.opener(e.keyID)
		return e.keyID, aead, err
	}
	var id string
	var key []byte
	var found bool
	err := retryLookup(c.lookupLimit, func(ctx context.Context) (err error) {
		id, key, found, err = c.keys.WorkflowKey(ctx, workflowID)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("payload key of %s: %w", workflowID, err)
	}
	if !found {
		c.remember(workflowID, cachedWorkflow{until: now.Add(noKeyTTL)}, "", nil)
		return c.current, c.aeads[c.current], nil
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", nil, err
	}
	c.remember(workflowID, cachedWorkflow{keyID: id, until: now.Add(workflowTTL)}, id, aead)
	return id, aead, nil
}

// ErrUnknownKey: a payload names a key this codec does not have.
var ErrUnknownKey = errors.New("payload key is not configured")

// opener is the key with this ID: a payload key or a customer's data key.
func (c *Codec) opener(id string) (cipher.AEAD, error) {
	if aead, ok := c.aeads[id]; ok {
		return aead, nil
	}
	if c.keys == nil {
		return nil, fmt.Errorf("decode payload: key %q: %w", id, ErrUnknownKey)
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.dataKeys[id]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.aead, nil
	}
	var key []byte
	err := retryLookup(c.lookupLimit, func(ctx context.Context) (err error) {
		key, err = c.keys.DataKey(ctx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("data key %q: %w", id, err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	c.remember("", cachedWorkflow{}, id, aead)
	return aead, nil
}

// retryLookup runs a key lookup until it succeeds, fails for good (an error
// with a KeyGone method saying so: the key is erased, or not there), or limit
// has passed (an UnavailableError): a database's blip is ridden out here
// rather than failing every payload read during it.
func retryLookup(limit time.Duration, lookup func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		err := lookup(ctx)
		var gone interface{ KeyGone() bool }
		if err == nil || errors.As(err, &gone) && gone.KeyGone() {
			return err
		}
		if ctx.Err() != nil {
			return &UnavailableError{Err: err}
		}
		select {
		case <-ctx.Done():
			return &UnavailableError{Err: err}
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// UnavailableError is a key that could not be read now (the key store slow
// or down); a later read can succeed.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// strictConverter panics where its converter could not decode for want of
// a key (see WorkerDataConverter).
type strictConverter struct{ converter.DataConverter }

func (s strictConverter) FromPayload(p *commonpb.Payload, v any) error {
	return strict(s.DataConverter.FromPayload(p, v))
}

func (s strictConverter) FromPayloads(ps *commonpb.Payloads, vs ...any) error {
	return strict(s.DataConverter.FromPayloads(ps, vs...))
}

func (s strictConverter) WithSerializationContext(sc converter.SerializationContext) converter.DataConverter {
	return strictConverter{converter.WithDataConverterSerializationContext(s.DataConverter, sc)}
}

func strict(err error) error {
	var unavailable *UnavailableError
	if errors.As(err, &unavailable) {
		panic(KeyUnavailable{Err: err})
	}
	return err
}

// KeyUnavailable is the panic that fails a workflow task whose payloads
// could not be read for want of a key.
type KeyUnavailable struct{ Err error }

func (e KeyUnavailable) Error() string {
	return fmt.Sprintf("a payload could not be read, its key being unavailable; the workflow task is retried: %v", e.Err)
}

func (e KeyUnavailable) Unwrap() error { return e.Err }

func (c *Codec) remember(workflowID string, wf cachedWorkflow, keyID string, aead cipher.AEAD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.workflows) >= cacheLimit {
		clear(c.workflows)
	}
	if len(c.dataKeys) >= cacheLimit {
		clear(c.dataKeys)
	}
	if workflowID != "" {
		c.workflows[workflowID] = wf
	}
	if aead != nil {
		c.dataKeys[keyID] = cachedKey{aead: aead, until: time.Now().Add(keyTTL)}
	}
}
