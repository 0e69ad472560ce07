package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"tandem/activities/store"
)

const auditUsage = "usage: tandem audit verify [-tenant T [-case ID]] | checkpoint [-tenant T] | keygen"

// runAudit runs `tandem audit verify|checkpoint|keygen`.
func runAudit(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(auditUsage)
	}
	switch args[0] {
	case "keygen":
		// Prints a new signing key (keep it secret, outside the database) and
		// its public half (give it to whoever verifies).
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		pub := priv.Public().(ed25519.PublicKey)
		fmt.Fprintf(stdout, "TANDEM_AUDIT_SIGNING_KEY=%s\nTANDEM_AUDIT_VERIFY_KEY=%s\n",
			base64.StdEncoding.EncodeToString(priv.Seed()), base64.StdEncoding.EncodeToString(pub))
		return nil
	case "verify", "checkpoint":
	default:
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	tenant := fs.String("tenant", "", "only this tenant's chain (default: every chain)")
	caseID := fs.String("case", "", "with -tenant: also count the case's entries the check covered")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *caseID != "" && *tenant == "" {
		return errors.New("audit verify: -case needs -tenant")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tenants := []string{*tenant}
	if *tenant == "" {
		if tenants, err = st.AuditTenants(ctx); err != nil {
			return err
		}
	}
	if args[0] == "checkpoint" {
		if cfg.AuditSigningKey == nil {
			return errors.New("audit checkpoint: set TANDEM_AUDIT_SIGNING_KEY or _FILE")
		}
		for _, t := range tenants {
			cp, err := checkpoint(ctx, st, t, cfg.AuditSigningKey, cfg.checkpointLog())
			if err != nil {
				return err
			}
			if cp != nil {
				fmt.Fprintf(stdout, "%s: signed position %d\n", t, cp.Seq)
			}
		}
		return nil
	}
	enc := json.NewEncoder(stdout)
	broken := 0
	for _, t := range tenants {
		// A case's entries are links of its tenant's chain: checking them is
		// checking the chain, which also shows what was removed between them.
		var external *store.AuditCheckpoint
		if log := cfg.checkpointLog(); log != nil {
			if external, err = log.Last(ctx, t); err != nil {
				return err
			}
		}
		v, err := st.VerifyAudit(ctx, t, cfg.AuditVerifyKey, external)
		if err != nil {
			return err
		}
		if !v.OK {
			broken++
		}
		out := any(v)
		if *caseID != "" {
			n, err := st.CountAudit(ctx, t, *caseID, v.Checked)
			if err != nil {
				return err
			}
			out = struct {
				store.Verification
				CaseID      string `json:"case_id"`
				CaseEntries int64  `json:"case_entries"`
			}{v, *caseID, n}
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if broken > 0 {
		return fmt.Errorf("%d of %d audit chains are broken", broken, len(tenants))
	}
	return nil
}

// checkpointer signs every chain's head that moved since its last checkpoint.
func checkpointer(st *store.Store, key ed25519.PrivateKey, external store.CheckpointLog, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		tenants, err := st.AuditTenants(ctx)
		if err != nil {
			log.Warn("audit checkpoint", "err", err)
			return
		}
		for _, tenant := range tenants {
			if cp, err := checkpoint(ctx, st, tenant, key, external); err != nil {
				log.Warn("audit checkpoint", "tenant", tenant, "err", err)
			} else if cp != nil {
				log.Debug("audit checkpoint signed", "tenant", tenant, "seq", cp.Seq)
			}
		}
	}
}

// checkpoint signs the tenant's chain head (if it moved) and keeps the
// newest checkpoint outside the database too, when there is a place for it.
func checkpoint(ctx context.Context, st *store.Store, tenant string, key ed25519.PrivateKey, external store.CheckpointLog) (*store.AuditCheckpoint, error) {
	cp, err := st.CheckpointAudit(ctx, tenant, key)
	if err != nil || external == nil {
		return cp, err
	}
	latest, err := st.LatestCheckpoint(ctx, tenant)
	if err != nil || latest == nil {
		return cp, err
	}
	return cp, external.Append(ctx, *latest)
}

// runRetention purges the content of cases past their tenant's retention
// period now: `tandem retention run`. The worker does the same every hour.
func runRetention(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "run" {
		return errors.New("usage: tandem retention run")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	results, err := purgeAll(ctx, st)
	enc := json.NewEncoder(stdout)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return err
}

// purgeAll runs retention for every tenant that has a period, in batches.
func purgeAll(ctx context.Context, st *store.Store) ([]store.PurgeResult, error) {
	tenants, err := st.RetentionTenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.PurgeResult
	for _, t := range tenants {
		total := store.PurgeResult{TenantID: t}
		for {
			r, err := st.PurgeExpired(ctx, t, time.Now(), 500)
			if err != nil {
				return append(out, total), err
			}
			total.Purged += r.Purged
			total.Held = r.Held
			if r.Purged < 500 {
				break
			}
		}
		out = append(out, total)
	}
	return out, nil
}

// retention purges expired content in every tenant that has a period.
func retention(st *store.Store, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		results, err := purgeAll(ctx, st)
		if err != nil {
			log.Warn("retention run", "err", err)
		}
		for _, r := range results {
			if r.Purged > 0 || r.Held > 0 {
				log.Info("retention run", "tenant", r.TenantID, "purged", r.Purged, "held", r.Held)
			}
		}
	}
}
