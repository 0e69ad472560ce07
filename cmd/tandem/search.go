package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// runSearch runs `tandem search reindex [-tenant T]`: every case's search
// terms rebuilt from its messages, notes and subject, a case at a time
// (each in its own transaction, so the API keeps serving).
func runSearch(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "reindex" {
		return errors.New("usage: tandem search reindex [-tenant T]")
	}
	fs := flag.NewFlagSet("search reindex", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "only this tenant (default: every tenant with cases)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tenants := []string{*tenant}
	if *tenant == "" {
		if tenants, err = st.CaseTenants(ctx); err != nil {
			return err
		}
	}
	for _, t := range tenants {
		n := 0
		for after := ""; ; {
			ids, err := st.CaseIDs(ctx, t, after, 500)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				if err := st.ReindexCase(ctx, t, id); err != nil {
					return fmt.Errorf("reindex case %s of %s: %w", id, t, err)
				}
			}
			n += len(ids)
			after = ids[len(ids)-1]
		}
		fmt.Fprintf(stdout, "%s: %d cases reindexed\n", t, n)
	}
	return nil
}
