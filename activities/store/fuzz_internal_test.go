package store

import (
	"testing"
	"time"
)

// A cursor from a client decodes or is refused; it never panics, and one
// that decodes names what encoding it would give back.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21"))
	for _, seed := range []string{"", "=", "not base64!", "MjAyNi0wMS0wMlQwMzowNDowNVp8", "fA", "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cur string) {
		at, id, err := decodeCursor(cur)
		if err != nil {
			return
		}
		if id == "" {
			t.Fatalf("%q decoded with no ID", cur)
		}
		if _, _, err := decodeCursor(encodeCursor(at, id)); err != nil {
			t.Fatalf("%q: its own encoding does not decode: %v", cur, err)
		}
	})
}
