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
	"os"
	"time"

	"tandem/activities/auditlog"
	"tandem/activities/store"
	"tandem/api"
)

const auditUsage = "usage: tandem audit verify [-tenant T [-case ID]] | checkpoint [-tenant T] | keygen | verify-key [-export] | verify-export ... FILE"

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
		vkey, err := auditlog.VerifierKey(pub)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "TANDEM_AUDIT_SIGNING_KEY=%s\nTANDEM_AUDIT_VERIFY_KEY=%s\n# as a note verifier key: %s\n",
			base64.StdEncoding.EncodeToString(priv.Seed()), base64.StdEncoding.EncodeToString(pub), vkey)
		return nil
	case "verify-key":
		// The public half of the configured audit key (or, with -export, of
		// the export key), for a witness or a verifier.
		if len(args) > 1 && args[1] == "-export" {
			if cfg.ExportSigningKey == nil {
				return errors.New("audit verify-key -export: set TANDEM_EXPORT_SIGNING_KEY or _FILE")
			}
			fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(cfg.ExportSigningKey.Public().(ed25519.PublicKey)))
			return nil
		}
		if cfg.AuditVerifyKey == nil {
			return errors.New("audit verify-key: " + store.ErrNoVerifyKey.Error())
		}
		fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(cfg.AuditVerifyKey))
		return nil
	case "verify", "checkpoint":
	default:
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	tenant := fs.String("tenant", "", "only this tenant's log (default: every log)")
	caseID := fs.String("case", "", "with -tenant: also count the case's entries the check covered")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *caseID != "" && *tenant == "" {
		return errors.New("audit verify: -case needs -tenant")
	}
	if args[0] == "verify" && cfg.AuditVerifyKey == nil {
		return errors.New("audit verify: " + store.ErrNoVerifyKey.Error() + "; without it a rewritten trail would pass")
	}
	if args[0] == "checkpoint" && cfg.AuditSigningKey == nil {
		return errors.New("audit checkpoint: set TANDEM_AUDIT_SIGNING_KEY or _FILE")
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
		cp, err := newCheckpointer(st, cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return err
		}
		failed := 0
		for _, t := range tenants {
			signed, err := cp.checkpoint(ctx, t)
			if err != nil {
				fmt.Fprintf(stdout, "%s: %v\n", t, err)
				failed++
				continue
			}
			if signed != nil {
				fmt.Fprintf(stdout, "%s: signed %d entries\n", t, signed.Seq)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d audit logs were not checkpointed", failed, len(tenants))
		}
		return nil
	}
	enc := json.NewEncoder(stdout)
	broken := 0
	for _, t := range tenants {
		opts := store.VerifyOptions{Key: cfg.AuditVerifyKey, Witnesses: cfg.witnessVerifiers(), Quorum: cfg.AuditWitnessQuorum}
		if log := cfg.checkpointLog(); log != nil {
			if opts.External, err = log.All(ctx, t); err != nil {
				return err
			}
		}
		v, err := st.VerifyAudit(ctx, t, opts)
		if err != nil {
			return err
		}
		if !v.OK {
			broken++
		}
		out := any(v)
		if *caseID != "" {
			// A case's entries are links of its tenant's chain: checking them is
			// checking the chain, which also shows what was removed between them.
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
		return fmt.Errorf("%d of %d audit logs are broken", broken, len(tenants))
	}
	return nil
}

// runVerifyExport checks a JSON-lines trail export offline:
// `tandem audit verify-export -export-key K -audit-key K [-witness VKEY]... [-quorum N] FILE`.
func runVerifyExport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit verify-export", flag.ContinueOnError)
	exportKey := fs.String("export-key", "", "the export key's public half (base64 Ed25519)")
	auditKey := fs.String("audit-key", "", "the audit key's public half (base64 Ed25519, TANDEM_AUDIT_VERIFY_KEY)")
	quorum := fs.Int("quorum", 0, "witness cosignatures the checkpoint must carry")
	var witnesses []string
	fs.Func("witness", "a witness's note verifier key (repeat for more)", func(v string) error {
		witnesses = append(witnesses, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: tandem audit verify-export -export-key K -audit-key K [-witness VKEY]... [-quorum N] FILE")
	}
	var keys api.ExportKeys
	var err error
	if keys.Export, err = publicKey("-export-key", *exportKey); err != nil {
		return err
	}
	if keys.Audit, err = publicKey("-audit-key", *auditKey); err != nil {
		return err
	}
	for _, w := range witnesses {
		v, err := auditlog.WitnessVerifier(w)
		if err != nil {
			return fmt.Errorf("-witness %q: %w", w, err)
		}
		keys.Witnesses = append(keys.Witnesses, v)
	}
	if *quorum < 0 || *quorum > len(keys.Witnesses) {
		return fmt.Errorf("-quorum must be between 0 and the %d witnesses given", len(keys.Witnesses))
	}
	keys.Quorum = *quorum
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	v := api.VerifyExport(data, keys)
	if err := json.NewEncoder(stdout).Encode(v); err != nil {
		return err
	}
	if !v.OK {
		return fmt.Errorf("the export does not verify: %s", v.Problem)
	}
	return nil
}

func publicKey(flagName, b64 string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s must be a base64 Ed25519 public key", flagName)
	}
	return raw, nil
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
	if err := useObjects(ctx, cfg, st); err != nil {
		return err
	}
	results, err := purgeAll(ctx, st, cfg.UploadTTL)
	enc := json.NewEncoder(stdout)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return err
}

// purgeAll deletes the objects earlier purges, erasures and expiries left
// to delete (a failure there is logged and holds up nothing), deletes
// uploads no message carried within uploadTTL, then runs retention for
// every tenant that has a period, in batches.
func purgeAll(ctx context.Context, st *store.Store, uploadTTL time.Duration) ([]store.PurgeResult, error) {
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	if err := st.DeleteDoomedObjects(dctx); err != nil {
		slog.Warn("objects left to delete wait for the next retention run", "err", err)
	}
	cancel()
	for {
		n, err := st.ExpireUnsentUploads(ctx, time.Now().Add(-uploadTTL), 500)
		if err != nil {
			return nil, err
		}
		if n < 500 {
			break
		}
	}
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
func retention(st *store.Store, uploadTTL time.Duration, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		results, err := purgeAll(ctx, st, uploadTTL)
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
