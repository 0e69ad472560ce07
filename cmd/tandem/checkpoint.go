package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"tandem/activities/auditlog"
	"tandem/activities/store"
)

// checkpointer signs each tenant's audit log when it has grown, after
// proving it extends the last checkpoint, and has the witnesses cosign it.
type checkpointer struct {
	st        *store.Store
	signer    note.Signer
	pub       ed25519.PublicKey
	verifier  note.Verifier
	external  auditlog.CheckpointLog
	witnesses []witnessConfig
	client    *http.Client
	log       *slog.Logger
	refused   metric.Int64Counter // nil: not counted

	mu        sync.Mutex
	witnessAt map[string]int64 // tenant and witness URL → the size the witness last cosigned
}

func newCheckpointer(st *store.Store, cfg config, meter metric.Meter, log *slog.Logger) (*checkpointer, error) {
	signer, err := auditlog.Signer(cfg.AuditSigningKey)
	if err != nil {
		return nil, err
	}
	pub := cfg.AuditSigningKey.Public().(ed25519.PublicKey)
	verifier, err := auditlog.Verifier(pub)
	if err != nil {
		return nil, err
	}
	c := &checkpointer{st: st, signer: signer, pub: pub, verifier: verifier, external: cfg.checkpointLog(), witnesses: cfg.AuditWitnesses,
		client: &http.Client{Timeout: 10 * time.Second}, log: log, witnessAt: map[string]int64{}}
	if meter != nil {
		c.refused, _ = meter.Int64Counter("tandem_audit_checkpoint_refused", // a noop on error
			metric.WithDescription("checkpoints not signed because the audit log no longer extends the last one: an alarm"))
	}
	return c, nil
}

// run checkpoints every tenant's log.
func (c *checkpointer) run(ctx context.Context) {
	tenants, err := c.st.AuditTenants(ctx)
	if err != nil {
		c.log.Warn("audit checkpoint", "err", err)
		return
	}
	for _, tenant := range tenants {
		if cp, err := c.checkpoint(ctx, tenant); err != nil {
			var refused *store.CheckpointRefusedError
			if !errors.As(err, &refused) { // a refusal was logged as the alarm it is
				c.log.Warn("audit checkpoint", "tenant", tenant, "err", err)
			}
		} else if cp != nil {
			c.log.Debug("audit checkpoint signed", "tenant", tenant, "size", cp.Seq)
		}
	}
}

// checkpoint signs the tenant's log if it grew and sends the newest
// checkpoint to the witnesses that have not cosigned it.
func (c *checkpointer) checkpoint(ctx context.Context, tenant string) (*auditlog.SignedCheckpoint, error) {
	cp, err := c.st.CheckpointAudit(ctx, tenant, c.signer, c.pub, c.external)
	var refused *store.CheckpointRefusedError
	if errors.As(err, &refused) {
		c.log.Error("audit checkpoint refused: the audit log does not extend its last checkpoint; run tandem audit verify",
			"tenant", tenant, "size", refused.Size, "checkpoint", refused.Signed, "reason", refused.Reason)
		if c.refused != nil {
			c.refused.Add(ctx, 1, metric.WithAttributes(attribute.String("tenant", tenant)))
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	c.cosign(ctx, tenant)
	return cp, nil
}

// cosign asks each witness that has not cosigned the tenant's newest
// checkpoint to do so, with the proof from the size it is at, and keeps
// each cosignature it can check.
func (c *checkpointer) cosign(ctx context.Context, tenant string) {
	if len(c.witnesses) == 0 {
		return
	}
	latest, err := c.st.LatestLogCheckpoint(ctx, tenant)
	if err != nil || latest == nil {
		if err != nil {
			c.log.Warn("audit cosignatures", "tenant", tenant, "err", err)
		}
		return
	}
	cosigned, err := c.st.Cosigned(ctx, *latest)
	if err != nil {
		c.log.Warn("audit cosignatures", "tenant", tenant, "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.witnesses {
		if opened, err := auditlog.Open(cosigned, tenant, c.verifier, w.Verifier); err == nil && len(opened.Witnesses) > 0 {
			continue
		}
		key := tenant + " " + w.URL
		if err := c.askWitness(ctx, tenant, *latest, w, key); err != nil {
			c.log.Warn("audit witness did not cosign", "tenant", tenant, "witness", w.URL, "size", latest.Seq, "err", err)
		}
	}
}

func (c *checkpointer) askWitness(ctx context.Context, tenant string, cp auditlog.SignedCheckpoint, w witnessConfig, key string) error {
	old, ok := c.witnessAt[key]
	if !ok { // a process that has not asked it yet starts from what it cosigned before
		var err error
		if old, err = c.st.LastCosigned(ctx, tenant, w.Verifier.Name()); err != nil {
			return err
		}
	}
	for range 2 { // once more from the size a 409 names
		if old > cp.Seq {
			return fmt.Errorf("the witness has cosigned %d entries, more than the newest checkpoint's %d", old, cp.Seq)
		}
		var proof []tlog.Hash
		if old > 0 && old < cp.Seq {
			var err error
			if proof, err = c.st.ProveConsistency(ctx, tenant, old, cp.Seq); err != nil {
				return err
			}
		}
		line, err := auditlog.AddCheckpoint(ctx, c.client, w.URL, old, proof, cp.Note)
		var conflict *auditlog.ConflictError
		if errors.As(err, &conflict) {
			old = conflict.Size
			continue
		}
		if err != nil {
			return err
		}
		opened, err := auditlog.Open(auditlog.AddSignatures(cp.Note, []string{line}), tenant, c.verifier, w.Verifier)
		if err != nil || len(opened.Witnesses) == 0 {
			return fmt.Errorf("its answer is not its cosignature of the checkpoint")
		}
		if err := c.st.AddCosignature(ctx, tenant, cp.Seq, w.Verifier.Name(), line); err != nil {
			return err
		}
		c.witnessAt[key] = cp.Seq
		return nil
	}
	return fmt.Errorf("the witness moved while it was asked")
}

// sequencer gives positions to audit entries whose writer queued them but
// stopped before sequencing them, and records the backlog: entries
// acknowledged but not yet in their chain, and how long the oldest waited.
func sequencer(st *store.Store, meter metric.Meter, log *slog.Logger) func(context.Context) {
	entries, _ := meter.Int64Gauge("tandem_audit_queue_entries", // a noop on error
		metric.WithDescription("audit entries queued and not yet in their chain"))
	age, _ := meter.Float64Gauge("tandem_audit_queue_age_seconds",
		metric.WithDescription("how long the oldest queued audit entry has waited for its position"), metric.WithUnit("s"))
	return func(ctx context.Context) {
		backlog, err := st.SequenceAll(ctx)
		if err != nil {
			log.Warn("audit sequencer", "err", err)
		}
		entries.Record(ctx, backlog.Entries)
		age.Record(ctx, backlog.Oldest.Seconds())
	}
}
