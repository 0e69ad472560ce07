package main

import (
	"time"

	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"tandem/activities/consistency"
	"tandem/activities/store"
)

// runDoctor runs `tandem doctor [-tenant T] [-repair] [-limit N]`: for each
// tenant with cases, one JSON line (consistency.Report) comparing every open
// case's record, and each closed in the last day (at most N, newest first),
// with its workflow's committed state; with -repair the records are
// made to agree (audited). Exit 1 while any difference is left unrepaired.
func runDoctor(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "only this tenant (default: every tenant with cases)")
	repair := fs.Bool("repair", false, "repair records from their workflows' state")
	limit := fs.Int("limit", consistency.MaxCases, "read at most this many cases per tenant, the most recently written first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, tc, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	defer tc.Close()
	tenants := []string{*tenant}
	if *tenant == "" {
		if tenants, err = st.CaseTenants(ctx); err != nil {
			return err
		}
	}
	checker := &consistency.Checker{Store: st, Temporal: tc, Namespace: cfg.TemporalNamespace, Limit: *limit}
	enc := json.NewEncoder(stdout)
	dirty := 0
	for _, t := range tenants {
		rep, err := checker.Check(ctx, t, *repair)
		if err != nil {
			return err
		}
		if *repair && rep.Repaired > 0 {
			if err := auditRepair(ctx, st, rep, "tandem doctor"); err != nil {
				return err
			}
		}
		if !rep.Clean {
			dirty++
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	if dirty > 0 {
		return fmt.Errorf("%d of %d tenants have records that differ from their workflows (tandem doctor -repair makes them agree)", dirty, len(tenants))
	}
	return nil
}

// auditRepair records on the tenant's chain that a check repaired records.
// Each repaired row has its own entry already (case.projection_repaired).
func auditRepair(ctx context.Context, st *store.Store, rep consistency.Report, actor string) error {
	details, _ := json.Marshal(map[string]string{"checked": fmt.Sprint(rep.Checked), "repaired": fmt.Sprint(rep.Repaired)}) // strings always marshal
	_, err := st.AppendAudit(ctx, store.AuditEvent{TenantID: rep.TenantID, ID: fmt.Sprintf("consistency:%s:%d", rep.TenantID, rep.CheckedAt.UnixNano()),
		OccurredAt: rep.CheckedAt, ActorKind: "system", ActorID: actor, Action: "consistency.repair", ObjectType: "tenant", ObjectID: rep.TenantID,
		Decision: "allow", Outcome: "success", Details: string(details)})
	return err
}

// consistencyRepairer is the worker's periodic `tandem doctor -repair`: the
// records converge to the workflows after a crash without anyone asking.
func consistencyRepairer(st *store.Store, checker *consistency.Checker, log *slog.Logger) func(context.Context) {
	// Per tenant, the cases recorded closed before this were compared after
	// they closed: each finished workflow is replayed once or twice, not
	// every period for a day.
	closedAfter := map[string]time.Time{}
	return func(ctx context.Context) {
		tenants, err := st.CaseTenants(ctx)
		if err != nil {
			log.Warn("consistency check: list tenants", "err", err)
			return
		}
		for _, t := range tenants {
			start := time.Now()
			rep, err := checker.CheckSince(ctx, t, true, closedAfter[t])
			if err != nil {
				log.Warn("consistency check failed", "tenant", t, "err", err)
				continue
			}
			closedAfter[t] = checker.Watermark(closedAfter[t], start, rep)
			log.Info("consistency check", "tenant", t, "checked", rep.Checked, "differences", len(rep.Differences),
				"took", time.Since(start).Round(time.Millisecond).String())
			if rep.Repaired > 0 {
				log.Warn("consistency check repaired records", "tenant", t, "repaired", rep.Repaired, "differences", len(rep.Differences))
				if err := auditRepair(ctx, st, rep, "tandem worker"); err != nil {
					log.Warn("consistency check: audit", "tenant", t, "err", err)
				}
			}
		}
	}
}

// eventSettler releases the webhook events of projection writes whose
// workflow task committed and drops those of lost ones (consistency.SettleEvents).
func eventSettler(checker *consistency.Checker, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		settled, err := checker.SettleEvents(ctx)
		if err != nil {
			log.Warn("settling webhook events", "err", err)
		}
		if settled.Voided > 0 {
			log.Warn("projection writes of lost workflow tasks: their events were dropped and their cases repaired", "writes", settled.Voided)
		}
	}
}
