package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"tandem/activities/auditlog"
)

// runWitness runs `tandem witness`: a process of its own, with its own key
// and state, that cosigns the audit log's checkpoints (POST /add-checkpoint,
// c2sp.org/tlog-witness) when each extends the last it cosigned.
func runWitness(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("witness", flag.ContinueOnError)
	dir := fs.String("state", "", "directory of the witness's key and state (made if missing)")
	logKey := fs.String("log-key", "", "the audit key's public half (base64 Ed25519, TANDEM_AUDIT_VERIFY_KEY)")
	addr := fs.String("addr", "127.0.0.1:8091", "address to listen on")
	name := fs.String("name", "", "the witness's key name, when it makes its key (default: tandem-witness-<host>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("usage: tandem witness -state DIR -log-key K [-addr 127.0.0.1:8091] [-name N]")
	}
	pub, err := publicKey("-log-key", *logKey)
	if err != nil {
		return err
	}
	logVerifier, err := auditlog.Verifier(pub)
	if err != nil {
		return err
	}
	signer, vkey, err := witnessKey(*dir, *name)
	if err != nil {
		return err
	}
	w := &auditlog.Witness{Signer: signer, LogKey: logVerifier, Prefix: auditlog.Origin(""), State: filepath.Join(*dir, "state.json")}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	log.Info("witness listening", "addr", ln.Addr().String(), "verifier_key", vkey)
	fmt.Fprintf(stdout, "%s@http://%s\n", vkey, ln.Addr().String()) // one item of TANDEM_AUDIT_WITNESSES
	srv := &http.Server{Handler: logged(w, log), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// witnessKey reads the witness's signing key from dir, making one on first
// start, and returns its cosignature signer and verifier key.
func witnessKey(dir, name string) (note.Signer, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "witness.key")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if name == "" {
			host, _ := os.Hostname()
			name = "tandem-witness-" + strings.Map(func(r rune) rune {
				if r == '+' || r <= ' ' {
					return '-'
				}
				return r
			}, host)
		}
		skey, _, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, "", err
		}
		raw = []byte(skey)
	} else if err != nil {
		return nil, "", err
	}
	skey := strings.TrimSpace(string(raw))
	signer, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	// The verifier key is the key's public half under the same name.
	parts := strings.SplitN(skey, "+", 5) // PRIVATE+KEY+name+hash+key (base64 has + too)
	if len(parts) != 5 {
		return nil, "", fmt.Errorf("%s is not a note signer key", path)
	}
	seed, err := decodeAlgKey(parts[4])
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	vkey, err := note.NewEd25519VerifierKey(parts[2], ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	return signer, vkey, err
}

// logged logs each witness request's outcome.
func logged(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if rec.status >= 400 {
			level = slog.LevelWarn // a refused checkpoint: a fork, a rollback, a stranger
		}
		log.Log(r.Context(), level, "witness request", "path", r.URL.Path, "status", rec.status, "remote", r.RemoteAddr)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// decodeAlgKey reads a note key's base64 algorithm byte and Ed25519 seed.
func decodeAlgKey(b64 string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 note key")
	}
	return raw[1:], nil
}
