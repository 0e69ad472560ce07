// Package webhooks signs and sends webhook deliveries by the Standard
// Webhooks scheme (https://www.standardwebhooks.com): each request carries
// webhook-id (the event's ID, the same on every retry), webhook-timestamp
// (Unix seconds) and webhook-signature ("v1,<base64 HMAC-SHA256 of
// id.timestamp.body>", one per valid secret during a rotation). It also
// refuses targets on loopback, link-local or private networks unless the
// tenant allows them, when the URL is registered and again when dialling
// (a name may resolve elsewhere later).
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SecretPrefix begins every secret, as the scheme's libraries expect.
const SecretPrefix = "whsec_"

// NewSecret makes a secret: the prefix and 24 random bytes in base64.
func NewSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

func secretKey(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
}

// Signature is the webhook-signature header for the body under each secret.
func Signature(secrets []string, id string, at time.Time, body []byte) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", fmt.Errorf("webhook secret: %w", err)
		}
		sigs = append(sigs, "v1,"+sign(key, id, at.Unix(), body))
	}
	return strings.Join(sigs, " "), nil
}

func sign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Tolerance is how far a delivery's timestamp may be from the receiver's clock.
const Tolerance = 5 * time.Minute

// Verify checks a delivery as a receiver does: a signature by secret over
// the id, timestamp and body, and a timestamp within Tolerance of now.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	id, tsText := header.Get("webhook-id"), header.Get("webhook-timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if id == "" || err != nil {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Tolerance || d < -Tolerance {
		return errors.New("timestamp outside the tolerance")
	}
	want := sign(key, id, ts, body)
	for _, sig := range strings.Fields(header.Get("webhook-signature")) {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && subtle.ConstantTimeCompare([]byte(v), []byte(want)) == 1 {
			return nil
		}
	}
	return errors.New("no valid signature")
}

// ErrPrivateTarget: the URL's host does not resolve to public internet
// addresses only (a loopback, link-local, private, reserved or translated
// range), which the tenant does not allow. A name that does not resolve
// gets the same answer, so the check tells nobody which internal names
// exist.
var ErrPrivateTarget = errors.New("the webhook URL's host must resolve to public internet addresses only")

// CheckURL says whether raw may be a webhook target: http or https, a host,
// no credentials, and (unless allowPrivate) no address it resolves to on a
// network the server, not the internet, can reach.
func CheckURL(ctx context.Context, raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > 2000 {
		return errors.New("the webhook URL must be an http or https URL with a host, without credentials, at most 2000 characters")
	}
	if allowPrivate {
		return nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return ErrPrivateTarget
	}
	for _, a := range addrs {
		if private(a) {
			return ErrPrivateTarget
		}
	}
	return nil
}

func private(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// reserved are ranges besides the standard library's private, loopback and
// link-local ones that reach no public host, or reach any host through a
// translator or tunnel (an IPv4 address inside them may be private).
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64, well-known prefix
	netip.MustParsePrefix("64:ff9b:1::/48"), // NAT64, local use
	netip.MustParsePrefix("2002::/16"),      // 6to4
	netip.MustParsePrefix("2001::/32"),      // Teredo
	netip.MustParsePrefix("100::/64"),       // discard-only
}

// Client sends deliveries: a 10-second bound, no redirects followed (a
// redirect could lead anywhere), and, unless allowPrivate, a dialler that
// refuses private addresses whatever the name resolved to.
func Client(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || private(ap.Addr()) {
				return ErrPrivateTarget
			}
			return nil
		}
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Backoff is the wait before the next attempt after the n-th failure
// (1-based): doubling from a second to an hour.
func Backoff(n int) time.Duration {
	if n > 12 {
		return time.Hour
	}
	return min(time.Duration(1<<(n-1))*time.Second, time.Hour)
}

// GiveUpAfter is how long a delivery is retried before it is dead-lettered.
const GiveUpAfter = 24 * time.Hour
