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

// runAudit checks audit chains: `tandem audit verify [-tenant T]`. It exits
// non-zero when a chain is broken, naming the first broken entry.
func runAudit(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: tandem audit verify [-tenant T]")
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "verify only this tenant's chain (default: every chain)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
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
	enc := json.NewEncoder(stdout)
	broken := 0
	for _, t := range tenants {
		v, err := st.VerifyAudit(ctx, t)
		if err != nil {
			return err
		}
		if !v.OK {
			broken++
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	if broken > 0 {
		return fmt.Errorf("%d of %d audit chains are broken", broken, len(tenants))
	}
	return nil
}
