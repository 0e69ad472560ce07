package envelope

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

func TestSealedPiecesOpenOnlyWholeAndInOrder(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	aad := []byte("attachment:acme:1:data")
	const chunk = 16
	for _, n := range []int{1, 15, 16, 17, 32, 100} {
		data := make([]byte, n)
		rand.Read(data)
		sealed, err := SealPieces(key, data, aad, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if n >= 15 && bytes.Contains(sealed, data) { // a byte or two of random text turns up in any ciphertext by chance
			t.Fatalf("%d bytes: the plaintext is in the sealed bytes", n)
		}
		r, err := OpenPieces(key, io.NopCloser(bytes.NewReader(sealed)), aad, chunk)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: opened %d bytes, %v", n, len(got), err)
		}
	}

	data := make([]byte, 5*chunk)
	rand.Read(data)
	sealed, err := SealPieces(key, data, aad, chunk)
	if err != nil {
		t.Fatal(err)
	}
	piece := len(sealed) / 5
	readAll := func(b, aad []byte) error {
		r, err := OpenPieces(key, io.NopCloser(bytes.NewReader(b)), aad, chunk)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(r)
		return err
	}
	swapped := append(append(append([]byte{}, sealed[piece:2*piece]...), sealed[:piece]...), sealed[2*piece:]...)
	flipped := bytes.Clone(sealed)
	flipped[3*piece+20] ^= 1
	for name, b := range map[string][]byte{
		"the last piece cut off": sealed[:4*piece],
		"a piece dropped":        append(append([]byte{}, sealed[:piece]...), sealed[2*piece:]...),
		"two pieces swapped":     swapped,
		"a bit flipped":          flipped,
		"cut inside a piece":     sealed[:len(sealed)-3],
	} {
		if err := readAll(b, aad); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if err := readAll(sealed, []byte("attachment:acme:2:data")); err == nil {
		t.Error("opened under another attachment's AAD")
	}
	other := make([]byte, 32)
	rand.Read(other)
	if _, err := OpenPieces(other, io.NopCloser(bytes.NewReader(sealed)), aad, chunk); err == nil {
		t.Error("opened under another key")
	}
}
