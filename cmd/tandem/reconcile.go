package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"tandem/activities/store"
)

// runReconcile runs `tandem reconcile [-tenant T]`: for each tenant with
// money on its books, one JSON line (store.Reconciliation with the tenant);
// exit 1 when any ledger does not balance or disagrees with the gateway.
func runReconcile(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "only this tenant (default: every tenant with ledger entries or gateway payments)")
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
		rec, err := st.CheckLedger(ctx, t)
		if err != nil {
			return err
		}
		if !rec.Balanced || !rec.Reconciled {
			bad++
		}
		if err := enc.Encode(struct {
			Tenant string `json:"tenant"`
			store.Reconciliation
		}{t, rec}); err != nil {
			return err
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d ledgers do not reconcile", bad, len(tenants))
	}
	if len(tenants) == 0 {
		return errors.New("reconcile: no tenant has ledger entries or gateway payments yet")
	}
	return nil
}
