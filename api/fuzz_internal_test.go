package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
)

// No request body makes a decoder or a validator fail with anything but a
// client error: every decoding error maps to 4xx, and validation never panics.
func FuzzRequestDecoders(f *testing.F) {
	for _, seed := range []string{
		`{"customer_ref":"c","channel":"web_chat","message":"hi"}`, `{"body":"hello"}`, `{"order_ref":"1001","amount":"12.50","currency":"EUR","reason_code":"damaged","items":[{"sku":"A","quantity":1}]}`,
		`{"intent":"x","locale":"en","title":"t","answer":"a","questions":["q"]}`, `{"approve":true}`, `{"jti":"a"}`, `{"score":5}`,
		``, `{`, `[]`, `null`, `{"body":1}`, `{"body":"x"} {"body":"y"}`, `{"unknown":1}`, "{\"body\":\"\x00\"}", `{"amount":"1e309"}`,
		`{"items":[{"quantity":-1}]}`, `{"status":"away","capacity":-5}`, `{"queues":[""]}`, `{"code":"1234567"}`, "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{&OpenCaseRequest{}, &PostMessageRequest{}, &CloseCaseRequest{}, &RefundRequest{}, &RefundDecisionRequest{},
			&RefundAppealRequest{}, &ArticleRequest{}, &AvailabilityRequest{}, &QueuesRequest{}, &CreateAPIKeyRequest{},
			&EraseCustomerRequest{}, &PlaceHoldRequest{}, &FeedbackRequest{}, &RatingRequest{}, &TOTPCodeRequest{},
			&ResolveRequest{}, &ReassignRequest{}, &RevokeTokenRequest{}}
		for _, dst := range targets {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			err := decodeJSON(c, dst)
			if err != nil {
				if apiErr, known := toAPIError(err); !known || apiErr.Status >= 500 {
					t.Fatalf("%T from %q: %v maps to %d", dst, body, err, apiErr.Status)
				}
				continue
			}
			switch r := dst.(type) {
			case *OpenCaseRequest:
				r.normalise()
				_ = r.validate()
			case *ArticleRequest:
				r.normalise()
				_ = r.validate("")
			case *RefundRequest:
				_ = r.validate()
			}
		}
	})
}

// The path ID rules take any string without panicking, and accept only
// what the database reads as the same ID.
func FuzzPathIDs(f *testing.F) {
	for _, seed := range []string{"6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21", "urn:uuid:6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21",
		"{6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21}", "6f1c2f0e2b7a4a579d8e3c1f5b0a7e21", "0123456789abcdef", "12", "%00", "\x00", "a\nb", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if canonicalUUID(s) && len(s) != 36 {
			t.Fatalf("%q taken for a UUID", s)
		}
		if textID(s) && (len(s) == 0 || bytes.ContainsAny([]byte(s), "\x00\n\r")) {
			t.Fatalf("%q taken for a text ID", s)
		}
		_ = sequence(s)
		_ = hexID(s)
	})
}

// No customer assertion is believed unless the key's private half signed it;
// anything else is a 401 with a code, never a panic or a 500.
func FuzzCustomerAssertion(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{Subject: "cust-1", Audience: jwt.ClaimStrings{"tandem"},
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}).SignedString(priv)
	for _, seed := range []string{good, good[:len(good)-2], "a.b.c", "", "eyJhbGciOiJub25lIn0.e30.", "...."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cust, err := customerAssertion(raw, pub)
		if err != nil {
			if apiErr, known := toAPIError(err); !known || apiErr.Status != 401 {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if raw != good || cust != "cust-1" {
			t.Fatalf("%q believed for %q", raw, cust)
		}
	})
}
