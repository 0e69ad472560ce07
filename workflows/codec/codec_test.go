package codec_test

import (
	"bytes"
	"testing"

	"go.temporal.io/sdk/converter"

	"tandem/workflows/codec"
)

var (
	k1 = codec.Key{ID: "k1", Key: bytes.Repeat([]byte{1}, 32)}
	k2 = codec.Key{ID: "k2", Key: bytes.Repeat([]byte{2}, 32)}
)

func TestRoundTripAndRotation(t *testing.T) {
	old, err := codec.New(k1)
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
	rotated, _ := codec.New(k2, k1)
	var got map[string]string
	if err := rotated.DataConverter().FromPayload(p, &got); err != nil || got["body"] != "my card is 4111 1111 1111 1111" {
		t.Fatalf("decode after rotation: %v %v", got, err)
	}
	// Without the key it does not.
	onlyNew, _ := codec.New(k2)
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
	c, _ := codec.New(k1)
	plain, _ := converter.GetDefaultDataConverter().ToPayload("recorded before encryption")
	var s string
	if err := c.DataConverter().FromPayload(plain, &s); err != nil || s != "recorded before encryption" {
		t.Fatalf("%q %v", s, err)
	}
}

func TestBadKeys(t *testing.T) {
	for _, keys := range [][]codec.Key{nil, {{ID: "", Key: k1.Key}}, {{ID: "short", Key: []byte("x")}}} {
		if _, err := codec.New(keys...); err == nil {
			t.Errorf("New(%v) accepted", keys)
		}
	}
}
