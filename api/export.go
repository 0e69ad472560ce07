package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tandem/activities/auditlog"
	"tandem/activities/store"
)

// ExportManifest describes an export so that a regulator can check it came
// from Tandem unaltered: SHA256 is over the export's body (for JSON lines,
// every line before the manifest's), and Signature is Ed25519 by the export
// key over ExportManifest.Message(). Checkpoint is the audit log's signed
// checkpoint that each JSON line's inclusion proof leads to, so the entries
// are shown to be in the log everyone else sees, not only in this file.
type ExportManifest struct {
	Format     string    `json:"format"` // jsonl or csv
	TenantID   string    `json:"tenant_id"`
	CaseID     string    `json:"case_id"`
	Entries    int       `json:"entries"`
	SHA256     string    `json:"sha256"`
	ExportedAt time.Time `json:"exported_at"`
	ExportedBy string    `json:"exported_by"`
	AuditSeq   int64     `json:"audit_seq"` // position of the export's own audit entry
	KeyID      string    `json:"key_id"`
	Checkpoint string    `json:"checkpoint,omitempty"`
}

// Message is the byte string the manifest's signature covers.
func (m ExportManifest) Message() []byte {
	cp := sha256.Sum256([]byte(m.Checkpoint))
	return []byte(strings.Join([]string{"tandem-export/v2", m.Format, m.TenantID, m.CaseID,
		strconv.Itoa(m.Entries), m.SHA256, m.ExportedAt.UTC().Format(time.RFC3339Nano), m.ExportedBy,
		strconv.FormatInt(m.AuditSeq, 10), m.KeyID, hex.EncodeToString(cp[:])}, "\n"))
}

// SignedManifest is the last line of a JSON-lines export.
type SignedManifest struct {
	Manifest  ExportManifest `json:"manifest"`
	Signature string         `json:"signature"` // base64
}

// exportTrail answers GET /v1/cases/{id}/trail/export?format=jsonl|csv.
func (s *Server) exportTrail(c *gin.Context) error {
	format := c.DefaultQuery("format", "jsonl")
	if format != "jsonl" && format != "csv" {
		return validationError([]FieldError{{"format", "must be jsonl or csv"}})
	}
	if s.exportSigner == nil {
		return errorf(http.StatusServiceUnavailable, "export_unavailable",
			"exports are signed, and this server has no export signing key (TANDEM_EXPORT_SIGNING_KEY)")
	}
	trail, err := s.loadTrail(c, "case.trail.export", map[string]string{"format": format}, 0, 0)
	if err != nil {
		return err
	}
	checkpoint, err := s.proveTrail(c.Request.Context(), principalOf(c).Tenant, trail.Trail)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	if format == "jsonl" {
		enc := json.NewEncoder(&body)
		for _, e := range trail.Trail {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
	} else if err := writeTrailCSV(&body, trail); err != nil {
		return err
	}
	sum := sha256.Sum256(body.Bytes())
	p := principalOf(c)
	m := ExportManifest{
		Format: format, TenantID: p.Tenant, CaseID: trail.Case.ID, Entries: len(trail.Trail),
		SHA256: hex.EncodeToString(sum[:]), ExportedAt: time.Now().UTC(), ExportedBy: p.ID,
		AuditSeq:   trail.Trail[len(trail.Trail)-1].Event.Seq, // the export's own entry is the last
		KeyID:      auditlog.KeyID(s.exportSigner.Public().(ed25519.PublicKey)),
		Checkpoint: checkpoint,
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(s.exportSigner, m.Message()))
	name := "case-" + trail.Case.ID + "-trail." + format
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	if format == "csv" {
		manifest, _ := json.Marshal(m) // a struct of strings, numbers and a time always marshals
		c.Header("Tandem-Export-Manifest", base64.StdEncoding.EncodeToString(manifest))
		c.Header("Tandem-Export-Signature", sig)
		c.Data(http.StatusOK, "text/csv; charset=utf-8", body.Bytes())
		return nil
	}
	last, _ := json.Marshal(SignedManifest{Manifest: m, Signature: sig})
	body.Write(append(last, '\n'))
	c.Data(http.StatusOK, "application/x-ndjson", body.Bytes())
	return nil
}

// proveTrail adds to each entry of the trail its inclusion proof in the
// newest checkpoint, and returns that checkpoint. When this process holds
// the audit key it first signs one that covers the whole trail (the
// export's own entry included); otherwise entries newer than the worker's
// last checkpoint go without a proof.
func (s *Server) proveTrail(ctx context.Context, tenant string, trail []TrailEntry) (string, error) {
	if s.auditLog.Checkpoint != nil {
		var refused *store.CheckpointRefusedError
		err := s.auditLog.Checkpoint(ctx, tenant)
		if errors.As(err, &refused) {
			return "", errorf(http.StatusConflict, "audit_log_inconsistent",
				"the audit log no longer extends its last checkpoint; run `tandem audit verify`")
		}
		if err != nil {
			return "", err
		}
	}
	cp, err := s.store.LatestLogCheckpoint(ctx, tenant)
	if err != nil || cp == nil {
		return "", err
	}
	for i := range trail {
		if seq := trail[i].Event.Seq; seq <= cp.Seq {
			proof, err := s.store.ProveInclusion(ctx, tenant, seq, cp.Seq)
			if err != nil {
				return "", err
			}
			trail[i].Proof = auditlog.EncodeProof(proof)
		}
	}
	return s.store.Cosigned(ctx, *cp)
}

func writeTrailCSV(buf *bytes.Buffer, trail CaseTrail) error {
	w := csv.NewWriter(buf)
	if err := w.Write([]string{"seq", "occurred_at", "actor_kind", "actor_id", "action", "decision", "outcome",
		"reason", "details", "message_author", "message_body", "message_erased", "hash"}); err != nil {
		return err
	}
	for _, e := range trail.Trail {
		ev := e.Event
		author, body, erased := "", "", ""
		if e.Message != nil {
			author, body, erased = e.Message.AuthorKind, e.Message.Body, strconv.FormatBool(e.Message.Erased)
		}
		if err := w.Write([]string{strconv.FormatInt(ev.Seq, 10), ev.OccurredAt.UTC().Format(time.RFC3339Nano),
			ev.ActorKind, ev.ActorID, ev.Action, ev.Decision, ev.Outcome, csvSafe(ev.Reason), ev.Details,
			author, csvSafe(body), erased, hex.EncodeToString(ev.Hash)}); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// csvSafe defuses text a spreadsheet would run as a formula (CSV injection):
// customers write these cells.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
