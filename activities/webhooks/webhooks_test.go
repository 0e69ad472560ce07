package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"tandem/activities/webhooks"
)

// A receiver holding either secret of a rotation verifies a delivery; a
// changed body, an old timestamp or another secret do not.
func TestSignatureAndVerify(t *testing.T) {
	old, _ := webhooks.NewSecret()
	cur, _ := webhooks.NewSecret()
	body := []byte(`{"id":"evt_1","type":"case.opened"}`)
	at := time.Now()
	sig, err := webhooks.Signature([]string{cur, old}, "evt_1", at, body)
	if err != nil || len(strings.Fields(sig)) != 2 {
		t.Fatalf("signature %q %v", sig, err)
	}
	h := http.Header{}
	h.Set("webhook-id", "evt_1")
	h.Set("webhook-timestamp", strconvI(at.Unix()))
	h.Set("webhook-signature", sig)
	for _, s := range []string{cur, old} {
		if err := webhooks.Verify(s, h, body, at); err != nil {
			t.Fatalf("verify with a valid secret: %v", err)
		}
	}
	other, _ := webhooks.NewSecret()
	if webhooks.Verify(other, h, body, at) == nil {
		t.Fatal("another secret verified")
	}
	if webhooks.Verify(cur, h, []byte(`{"id":"evt_1","type":"case.closed"}`), at) == nil {
		t.Fatal("a changed body verified")
	}
	if webhooks.Verify(cur, h, body, at.Add(webhooks.Tolerance+time.Minute)) == nil {
		t.Fatal("a replay outside the tolerance verified")
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	for _, raw := range []string{"http://127.0.0.1:8080/x", "http://localhost/x", "http://10.0.0.7/", "http://192.168.1.1/", "http://169.254.169.254/latest",
		"http://[::1]/", "http://100.64.0.1/",
		// Translated, tunnelled and reserved ranges.
		"http://[64:ff9b::a00:1]/", "http://[64:ff9b:1::1]/", "http://[2002:a00:1::1]/", "http://[2001:0:4136:e378::1]/",
		"http://192.0.0.8/", "http://198.18.0.1/", "http://198.19.255.254/", "http://240.0.0.1/", "http://255.255.255.255/", "http://0.1.2.3/"} {
		if err := webhooks.CheckURL(ctx, raw, false); !errors.Is(err, webhooks.ErrPrivateTarget) {
			t.Errorf("%s: %v, want ErrPrivateTarget", raw, err)
		}
		if err := webhooks.CheckURL(ctx, raw, true); err != nil {
			t.Errorf("%s refused though private targets are allowed: %v", raw, err)
		}
	}
	for _, raw := range []string{"ftp://example.com/", "http://user:pw@example.com/", "/relative", "http://"} {
		if err := webhooks.CheckURL(ctx, raw, true); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
	if err := webhooks.CheckURL(ctx, "http://8.8.8.8/hook", false); err != nil {
		t.Errorf("a public address refused: %v", err)
	}
	// A name that does not resolve gets the answer a private one does: the
	// check does not tell which internal names exist.
	lookup, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := webhooks.CheckURL(lookup, "http://no-such-host.invalid/hook", false); !errors.Is(err, webhooks.ErrPrivateTarget) {
		t.Errorf("an unresolvable name: %v, want the same error as a private one", err)
	}
}

func TestBackoffReachesAnHourAndRetriesADay(t *testing.T) {
	var total time.Duration
	n := 0
	for total < webhooks.GiveUpAfter {
		n++
		total += webhooks.Backoff(n)
	}
	if webhooks.Backoff(1) != time.Second || webhooks.Backoff(30) != time.Hour || n < 30 {
		t.Fatalf("backoff: first %v, 30th %v, %d attempts in a day", webhooks.Backoff(1), webhooks.Backoff(30), n)
	}
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }
