package api

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/note"

	"tandem/activities/auditlog"
	"tandem/activities/store"
)

// AuditLog is how the API checks the audit log and proves entries in it.
type AuditLog struct {
	// VerifyKey is the audit key's public half. Without it verification is
	// refused (409 audit_verify_key_missing), never reported as passing.
	VerifyKey ed25519.PublicKey
	// Checkpoint signs the tenant's log now (and has the witnesses cosign
	// it) when an export needs its newest entries proved; nil: exports prove
	// what the worker's checkpoints cover.
	Checkpoint func(ctx context.Context, tenantID string) error
	// External holds every checkpoint published outside the database; nil: none.
	External auditlog.CheckpointLog
	// Witnesses whose cosignatures count, and how many a checkpoint needs
	// for verification to pass (0: none).
	Witnesses []note.Verifier
	Quorum    int
}

var errNoVerifyKey = errorf(http.StatusConflict, "audit_verify_key_missing",
	"this deployment has no audit verify key (TANDEM_AUDIT_VERIFY_KEY): the trail cannot be verified")

// verifyOptions gathers what the tenant's chain is checked against.
func (s *Server) verifyOptions(ctx context.Context, tenantID string) (store.VerifyOptions, error) {
	opts := store.VerifyOptions{Key: s.auditLog.VerifyKey, Witnesses: s.auditLog.Witnesses, Quorum: s.auditLog.Quorum}
	if s.auditLog.External != nil {
		var err error
		if opts.External, err = s.auditLog.External.All(ctx, tenantID); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// verifyAudit answers GET /v1/audit/verify: the tenant's chain checked
// entry by entry against every checkpoint ever published.
func (s *Server) verifyAudit(c *gin.Context) error {
	if s.auditLog.VerifyKey == nil {
		return errNoVerifyKey
	}
	if err := s.audit(c, auditEntry{Action: "audit.verify", ObjectType: "audit"}); err != nil {
		return err
	}
	ctx := c.Request.Context()
	opts, err := s.verifyOptions(ctx, principalOf(c).Tenant)
	if err != nil {
		return err
	}
	v, err := s.store.VerifyAudit(ctx, principalOf(c).Tenant, opts)
	if errors.Is(err, store.ErrNoVerifyKey) {
		return errNoVerifyKey
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

// AuditCheckpointJSON is the tenant's newest checkpoint, with the proof
// that it extends an earlier size when one is asked for.
type AuditCheckpointJSON struct {
	Size       int64  `json:"size"`
	Checkpoint string `json:"checkpoint"` // the signed note, with witnesses' cosignatures
	VerifyKey  string `json:"verify_key"` // the audit key as a note verifier key
	// From and Consistency: the proof that the tree of Size entries
	// extends the tree of From entries (?from=).
	From        int64    `json:"from,omitempty"`
	Consistency []string `json:"consistency,omitempty"`
}

// auditCheckpoint answers GET /v1/audit/checkpoint[?from=N].
func (s *Server) auditCheckpoint(c *gin.Context) error {
	var from int64
	if raw := c.Query("from"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return validationError([]FieldError{{"from", "must be a tree size (a positive integer)"}})
		}
		from = n
	}
	if err := s.audit(c, auditEntry{Action: "audit.checkpoint.read", ObjectType: "audit"}); err != nil {
		return err
	}
	ctx := c.Request.Context()
	tenant := principalOf(c).Tenant
	cp, err := s.store.LatestLogCheckpoint(ctx, tenant)
	if err != nil {
		return err
	}
	if cp == nil {
		return errorf(http.StatusNotFound, "no_checkpoint", "the audit log has no checkpoint yet")
	}
	out := AuditCheckpointJSON{Size: cp.Seq}
	if out.Checkpoint, err = s.store.Cosigned(ctx, *cp); err != nil {
		return err
	}
	if s.auditLog.VerifyKey != nil {
		out.VerifyKey, _ = auditlog.VerifierKey(s.auditLog.VerifyKey) // a valid Ed25519 key always encodes
	}
	if from > 0 {
		if from > cp.Seq {
			return validationError([]FieldError{{"from", "is larger than the newest checkpoint"}})
		}
		proof, err := s.store.ProveConsistency(ctx, tenant, from, cp.Seq)
		if err != nil {
			return err
		}
		out.From, out.Consistency = from, auditlog.EncodeProof(proof)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// AuditProofJSON proves an audit entry is in the log a checkpoint signs.
type AuditProofJSON struct {
	Event      store.AuditEvent `json:"event"`
	Size       int64            `json:"size"`
	Checkpoint string           `json:"checkpoint"`
	Inclusion  []string         `json:"inclusion"` // leaf seq-1 of the tree of Size entries (RFC 6962)
}

// auditProof answers GET /v1/audit/events/{seq}/proof: the entry, the
// newest checkpoint, and the inclusion proof between them.
func (s *Server) auditProof(c *gin.Context) error {
	seq, _ := strconv.ParseInt(c.Param("seq"), 10, 64) // checkPathIDs let only digits through
	if err := s.audit(c, auditEntry{Action: "audit.proof.read", ObjectType: "audit", ObjectID: c.Param("seq")}); err != nil {
		return err
	}
	ctx := c.Request.Context()
	tenant := principalOf(c).Tenant
	events, err := s.store.ListAudit(ctx, tenant, store.AuditFilter{AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		return err
	}
	if seq < 1 || len(events) == 0 || events[0].Seq != seq {
		return errorf(http.StatusNotFound, "audit_event_not_found", "no such audit entry")
	}
	cp, err := s.store.LatestLogCheckpoint(ctx, tenant)
	if err != nil {
		return err
	}
	if cp == nil || cp.Seq < seq {
		return errorf(http.StatusConflict, "not_yet_checkpointed",
			"no checkpoint covers this entry yet; the next one will (see TANDEM_AUDIT_CHECKPOINT_EVERY)")
	}
	proof, err := s.store.ProveInclusion(ctx, tenant, seq, cp.Seq)
	if err != nil {
		return err
	}
	out := AuditProofJSON{Event: events[0], Size: cp.Seq, Inclusion: auditlog.EncodeProof(proof)}
	if out.Checkpoint, err = s.store.Cosigned(ctx, *cp); err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}
