package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"tandem/activities/payments"
	"tandem/activities/store"
)

// runReconcile runs `tandem reconcile [-tenant T]`: for each tenant with
// money on its books, one JSON line (payments.Reconciliation with the tenant);
// exit 1 when any ledger does not balance, breaks a refund's ledger rule,
// disagrees with the payment provider, has a payment whose outcome is
// unknown, or has a refund stuck requested or approved for longer than
// -stuck-after.
func runReconcile(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "only this tenant (default: every tenant with ledger entries or gateway payments)")
	stuckAfter := fs.Duration("stuck-after", payments.DefaultStuckAfter, "report refunds requested or approved longer ago than this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tenants := []string{*tenant}
	if *tenant == "" {
		if tenants, err = st.LedgerTenants(ctx); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	bad := 0
	for _, t := range tenants {
		rec, err := payments.Reconcile(ctx, st, &payments.Simulated{Store: st}, t, *stuckAfter)
		if err != nil {
			return err
		}
		if !rec.OK() {
			bad++
		}
		if err := enc.Encode(struct {
			Tenant string `json:"tenant"`
			payments.Reconciliation
		}{t, rec}); err != nil {
			return err
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d ledgers do not reconcile or have refunds stuck", bad, len(tenants))
	}
	if len(tenants) == 0 {
		return errors.New("reconcile: no tenant has ledger entries or gateway payments yet")
	}
	return nil
}
