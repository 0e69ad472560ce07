package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Witness cosigns a log's checkpoints once it has checked each extends the
// last one it cosigned (c2sp.org/tlog-witness, POST /add-checkpoint). It
// keeps, per log, the size and root it last cosigned in a file of its own,
// so neither the log's database owner nor the holder of the audit key can
// make it cosign a history that drops or changes what it has seen.
type Witness struct {
	Signer note.Signer   // cosignature/v1 signer (fnote.NewSignerForCosignatureV1)
	LogKey note.Verifier // the audit key the checkpoints must be signed by
	Prefix string        // the origins it witnesses start with this
	State  string        // path of its state file

	mu sync.Mutex
}

// WitnessedLog is what a witness remembers of one log.
type WitnessedLog struct {
	Size int64     `json:"size"`
	Root tlog.Hash `json:"root"`
}

// ConflictError is a checkpoint that does not start where the witness is
// (the log must send a proof from the witness's size).
type ConflictError struct{ Size int64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the witness is at size %d", e.Size)
}

const maxAddCheckpoint = 64 << 10

// ServeHTTP answers POST /add-checkpoint.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/add-checkpoint" {
		http.Error(rw, "POST /add-checkpoint", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAddCheckpoint+1))
	if err != nil || len(body) > maxAddCheckpoint {
		http.Error(rw, "request too large or unreadable", http.StatusBadRequest)
		return
	}
	old, proof, signed, err := ParseAddCheckpoint(body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	cosig, err := w.Add(old, proof, signed)
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict):
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", conflict.Size)
	case errors.Is(err, errNotTheLog):
		http.Error(rw, err.Error(), http.StatusForbidden)
	case errors.Is(err, errInconsistent):
		http.Error(rw, err.Error(), http.StatusUnprocessableEntity)
	case err != nil:
		http.Error(rw, "witness state: "+err.Error(), http.StatusInternalServerError)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(rw, cosig)
	}
}

var (
	errNotTheLog    = errors.New("not a checkpoint of a log this witness follows")
	errInconsistent = errors.New("the checkpoint does not extend the one the witness cosigned last")
)

// Add checks signed (a checkpoint of a log the witness follows) against
// the last checkpoint it cosigned of that log, old entries in, by the
// consistency proof, and returns its cosignature line.
func (w *Witness) Add(old int64, proof []tlog.Hash, signed string) (string, error) {
	n, err := note.Open([]byte(signed), note.VerifierList(w.LogKey))
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNotTheLog, err)
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil || !strings.HasPrefix(cp.Origin, w.Prefix) || len(cp.Hash) != tlog.HashSize {
		return "", fmt.Errorf("%w: origin or format", errNotTheLog)
	}
	var root tlog.Hash
	copy(root[:], cp.Hash)
	w.mu.Lock()
	defer w.mu.Unlock()
	state, err := w.load()
	if err != nil {
		return "", err
	}
	seen := state[cp.Origin]
	if old != seen.Size {
		return "", &ConflictError{Size: seen.Size}
	}
	if int64(cp.Size) < old {
		return "", fmt.Errorf("%w: size %d is smaller than %d", errInconsistent, cp.Size, old)
	}
	if old > 0 {
		if err := CheckConsistency(proof, int64(cp.Size), root, seen.Size, seen.Root); err != nil {
			return "", fmt.Errorf("%w: %v", errInconsistent, err)
		}
	}
	state[cp.Origin] = WitnessedLog{Size: int64(cp.Size), Root: root}
	if err := w.save(state); err != nil {
		return "", err
	}
	cosigned, err := note.Sign(&note.Note{Text: n.Text}, w.Signer)
	if err != nil {
		return "", err
	}
	// The signature lines follow the blank line after the text; ours is the last.
	lines := strings.Split(strings.TrimRight(string(cosigned), "\n"), "\n")
	return lines[len(lines)-1] + "\n", nil
}

// Seen returns what the witness remembers of each log.
func (w *Witness) Seen() (map[string]WitnessedLog, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.load()
}

func (w *Witness) load() (map[string]WitnessedLog, error) {
	state := map[string]WitnessedLog{}
	raw, err := os.ReadFile(w.State)
	if errors.Is(err, os.ErrNotExist) {
		return state, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		return nil, fmt.Errorf("%s: %w", w.State, err)
	}
	return state, nil
}

// save replaces the state file whole (write, sync, rename, sync the
// directory): a crash leaves the old state or the new one.
func (w *Witness) save(state map[string]WitnessedLog) error {
	raw, _ := json.Marshal(state) // sizes and hashes always marshal
	tmp := w.State + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, w.State); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(w.State))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// AddCheckpointBody is the body of an add-checkpoint request: "old N", the
// consistency proof's hashes a line each, a blank line, the checkpoint.
func AddCheckpointBody(old int64, proof []tlog.Hash, signed string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range EncodeProof(proof) {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n" + signed)
	return b.Bytes()
}

// ParseAddCheckpoint reads an add-checkpoint request's body.
func ParseAddCheckpoint(body []byte) (int64, []tlog.Hash, string, error) {
	head, signed, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return 0, nil, "", errors.New("no blank line before the checkpoint")
	}
	sc := bufio.NewScanner(bytes.NewReader(head))
	if !sc.Scan() {
		return 0, nil, "", errors.New("no old size")
	}
	oldText, ok := strings.CutPrefix(sc.Text(), "old ")
	old, err := strconv.ParseInt(oldText, 10, 64)
	if !ok || err != nil || old < 0 {
		return 0, nil, "", errors.New(`the first line must be "old <size>"`)
	}
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 63 {
		return 0, nil, "", errors.New("proof too long")
	}
	proof, err := DecodeProof(lines)
	if err != nil {
		return 0, nil, "", err
	}
	return old, proof, string(signed), nil
}

// AddCheckpoint asks the witness at url to cosign signed, which extends the
// tree of old entries by proof. It returns the witness's cosignature line;
// a *ConflictError says which size the witness is at instead.
func AddCheckpoint(ctx context.Context, client *http.Client, url string, old int64, proof []tlog.Hash, signed string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/add-checkpoint",
		bytes.NewReader(AddCheckpointBody(old, proof, signed)))
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("witness %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return strings.TrimSpace(string(body)), nil
	case http.StatusConflict:
		size, err := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
		if err != nil {
			return "", fmt.Errorf("witness %s: 409 without a size", url)
		}
		return "", &ConflictError{Size: size}
	default:
		return "", fmt.Errorf("witness %s refused the checkpoint: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
}
