package envelope

import (
	"bufio"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SealPieces seals data in pieces of chunk bytes. Each piece is
// nonce‖ciphertext‖tag under the key, its AAD the given one with the
// piece's index and whether it is the last, so pieces cannot be reordered,
// dropped or cut off at the end without the opening failing.
func SealPieces(key, data, aad []byte, chunk int) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pieces := max(1, (len(data)+chunk-1)/chunk)
	out := make([]byte, 0, len(data)+pieces*(gcm.NonceSize()+gcm.Overhead()))
	for i := range pieces {
		part := data[i*chunk : min(len(data), (i+1)*chunk)]
		nonce := make([]byte, gcm.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out = append(out, nonce...)
		out = gcm.Seal(out, nonce, part, pieceAAD(aad, i, i == pieces-1))
	}
	return out, nil
}

func pieceAAD(aad []byte, i int, last bool) []byte {
	out := binary.BigEndian.AppendUint64(append([]byte{}, aad...), uint64(i))
	if last {
		return append(out, 1)
	}
	return append(out, 0)
}

// pieceReader opens what SealPieces sealed, a piece at a time, as it is read.
type pieceReader struct {
	src   *bufio.Reader
	close io.Closer
	gcm   cipher.AEAD
	aad   []byte
	piece []byte // a sealed piece's buffer
	buf   []byte // an opened piece's buffer
	plain []byte // what is opened and not yet read
	i     int
	done  bool
}

// OpenPieces reads src as pieces of chunk bytes sealed under key. It opens
// the first piece before it returns, so a missing object or a wrong key is
// an error here, before anything is sent.
func OpenPieces(key []byte, src io.ReadCloser, aad []byte, chunk int) (io.ReadCloser, error) {
	gcm, err := newGCM(key)
	if err != nil {
		src.Close()
		return nil, err
	}
	r := &pieceReader{src: bufio.NewReaderSize(src, 32<<10), close: src, gcm: gcm, aad: aad,
		piece: make([]byte, gcm.NonceSize()+chunk+gcm.Overhead())}
	if err := r.next(); err != nil {
		src.Close()
		return nil, err
	}
	return r, nil
}

func (r *pieceReader) next() error {
	n, err := io.ReadFull(r.src, r.piece)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		r.done = true
	case err != nil:
		return err
	default:
		_, err := r.src.Peek(1)
		r.done = errors.Is(err, io.EOF)
		if err != nil && !r.done {
			return err
		}
	}
	ns := r.gcm.NonceSize()
	if n < ns+r.gcm.Overhead() {
		return fmt.Errorf("open sealed pieces: piece %d is cut short", r.i)
	}
	plain, err := r.gcm.Open(r.buf[:0], r.piece[:ns], r.piece[ns:n], pieceAAD(r.aad, r.i, r.done))
	if err != nil {
		return fmt.Errorf("open sealed piece %d: %w", r.i, err)
	}
	r.buf, r.plain = plain, plain
	r.i++
	return nil
}

func (r *pieceReader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

func (r *pieceReader) Close() error { return r.close.Close() }
