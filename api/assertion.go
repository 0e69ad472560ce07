package api

import (
	"crypto/ed25519"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CustomerAssertionHeader carries, on each request of a front end whose key
// requires it, a JWT signed (EdDSA) by the tenant's identity system naming
// the customer the front end acts for: sub is the customer's reference, aud
// "tandem", and it lives at most MaxAssertionLifetime. With it, a front end
// whose key leaks, or that misbehaves, reaches only customers the identity
// system vouched for, not every customer of its channels.
const CustomerAssertionHeader = "Tandem-Customer-Assertion"

// MaxAssertionLifetime bounds exp - iat of a customer assertion.
const MaxAssertionLifetime = 15 * time.Minute

var (
	errAssertionRequired = errorf(http.StatusUnauthorized, "customer_assertion_required",
		"this API key acts for one customer at a time: send the "+CustomerAssertionHeader+" header, a JWT your identity system signed")
	errAssertionInvalid = errorf(http.StatusUnauthorized, "customer_assertion_invalid",
		"the customer assertion is not a valid EdDSA JWT signed with this key's assertion key, with sub, aud \"tandem\", iat and exp at most 15 minutes apart")
	errCustomerMismatch = errorf(http.StatusForbidden, "customer_mismatch", "the customer assertion names another customer")
)

// customerAssertion verifies raw against the key's public key and returns
// the customer it names.
func customerAssertion(raw string, pub ed25519.PublicKey) (string, error) {
	if raw == "" {
		return "", errAssertionRequired
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithAudience("tandem"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
	if err != nil || claims.Subject == "" || len(claims.Subject) > maxCustomerRefRunes*4 || claims.IssuedAt == nil ||
		claims.ExpiresAt.Sub(claims.IssuedAt.Time) > MaxAssertionLifetime {
		return "", errAssertionInvalid
	}
	return claims.Subject, nil
}
