package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// KeySet holds the public keys that sign people's RS256 and ES256 tokens in
// production: an identity provider's JWKS, kept by keyfunc (from a file,
// or fetched, refreshed on a timer and when a token names a key it has not
// seen). Which keys are accepted stays ours: signing keys only, RSA of
// 2048 bits or more, EC on P-256 or P-384, the key's type tied to the
// token's algorithm (checkKey).
type KeySet struct {
	keys keyfunc.Keyfunc
}

// signingUse is what a key's "use" may say: signing, or nothing.
var signingUse = []jwkset.USE{jwkset.UseSig, ""}

// ParseJWKS reads a JSON Web Key Set. A set with no usable signing key, or
// with a signing key the rules refuse, is an error.
func ParseJWKS(data []byte) (*KeySet, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	storage, err := set.ToStorage()
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return keySet(context.Background(), storage)
}

// NewRemoteKeySet fetches the JWKS at url, and again every refresh and
// when a token names an unknown key (a few at once, then once a minute); a failed
// refresh keeps the keys it has, and is logged. The first fetch must
// succeed. ctx ends the refreshing.
func NewRemoteKeySet(ctx context.Context, url string, refresh time.Duration, log *slog.Logger) (*KeySet, error) {
	noFirstError := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:                    &http.Client{Timeout: 10 * time.Second},
		HTTPTimeout:               10 * time.Second,
		NoErrorReturnFirstHTTPReq: &noFirstError,
		RefreshInterval:           refresh,
		RateLimitWaitMax:          time.Second,
		// A token naming an unknown key may fetch the set again: a few at
		// once, then once a minute, so forged kids cannot flood the provider.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 3),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "JWKS refresh failed; keeping the keys we have", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	return keySet(ctx, kf.Storage())
}

func keySet(ctx context.Context, storage jwkset.Storage) (*KeySet, error) {
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage, UseWhitelist: signingUse})
	if err != nil {
		return nil, err
	}
	all, err := storage.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	usable := 0
	for _, k := range all {
		m := k.Marshal()
		if m.KID == "" || (m.USE != jwkset.UseSig && m.USE != "") {
			continue
		}
		switch k.Key().(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			if err := checkKey(m.KID, k.Key()); err != nil {
				return nil, err
			}
			usable++
		}
	}
	if usable == 0 {
		return nil, errors.New("JWKS: no RSA or EC signing key with a kid")
	}
	return &KeySet{keys: kf}, nil
}

// key returns the key the token names, checked against the rules and tied
// to the token's algorithm, so a token cannot choose how it is checked.
func (ks *KeySet) key(t *jwt.Token) (any, error) {
	key, err := ks.keys.Keyfunc(t)
	if err != nil {
		return nil, err
	}
	kid, _ := t.Header["kid"].(string)
	if err := checkKey(kid, key); err != nil {
		return nil, err
	}
	if _, isRSA := key.(*rsa.PublicKey); isRSA != (t.Method.Alg() == "RS256") {
		return nil, fmt.Errorf("key %q does not fit %s", kid, t.Method.Alg())
	}
	return key, nil
}

// checkKey refuses RSA keys under 2048 bits, curves other than P-256 and
// P-384, and every other kind of key.
func checkKey(kid string, key any) error {
	switch key := key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < 2048 {
			return fmt.Errorf("JWKS key %q: RSA keys under 2048 bits are refused", kid)
		}
	case *ecdsa.PublicKey:
		if name := key.Curve.Params().Name; name != "P-256" && name != "P-384" {
			return fmt.Errorf("JWKS key %q: curve %q is not supported", kid, name)
		}
	default:
		return fmt.Errorf("JWKS key %q: not an RSA or EC public key", kid)
	}
	return nil
}
