package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	_ "time/tzdata" // service policies name time zones; the binary must not depend on the host's

	"tandem/activities/ai"
	"tandem/activities/store"
	"tandem/migrations"
)

func runMigrate(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tandem migrate up|down [N]|status")
	}
	st, err := store.Open(ctx, cfg.MigrateURL) // the owner's role
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := st.DB().DB()
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		applied, err := migrations.Up(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s) %v\n", len(applied), applied)
		if cfg.AppDBRole != "" {
			if err := migrations.GrantApp(ctx, db, cfg.AppDBRole); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "granted the application role %s its rights\n", cfg.AppDBRole)
		}
	case "down":
		steps := 1
		if len(args) > 1 {
			if steps, err = strconv.Atoi(args[1]); err != nil || steps < 1 {
				return fmt.Errorf("migrate down: N must be a positive whole number, got %q", args[1])
			}
		}
		reverted, err := migrations.Down(ctx, db, steps)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reverted %d migration(s) %v\n", len(reverted), reverted)
	case "status":
		states, err := migrations.Status(ctx, db)
		if err != nil {
			return err
		}
		for _, s := range states {
			applied := "pending"
			if s.AppliedAt != nil {
				applied = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%04d_%s\t%s\n", s.Version, s.Name, applied)
		}
	default:
		return fmt.Errorf("unknown migrate command %q: use up, down [N] or status", args[0])
	}
	return nil
}

func runSeed(ctx context.Context, cfg config, stdout io.Writer) error {
	st, err := openStore(ctx, cfg) // orders name their customer by the tenant's blind index
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.EnsureTenant(ctx, demoTenant, "Demo tenant"); err != nil {
		return err
	}
	// The development tenant's webhook receivers run on this machine.
	if err := st.AllowPrivateWebhooks(ctx, demoTenant, true); err != nil {
		return err
	}
	n, err := ai.SeedDemo(ctx, st, demoTenant)
	if err != nil {
		return err
	}
	// The demo order book of the walkthrough's customer: a recent order, and
	// one older than efficiency-first refunds (90 days), whose refund a rule
	// rejects and a person may overturn on appeal. Existing orders are kept.
	for _, o := range []struct {
		ref, total string
		age        time.Duration
	}{{"1001", "120.00", 5 * 24 * time.Hour}, {"0917", "60.00", 120 * 24 * time.Hour}} {
		if err := st.PutOrder(ctx, demoTenant, o.ref, "cust-1001", "EUR", o.total, time.Now().Add(-o.age)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "tenant %q is ready (%d demo knowledge-base articles added; demo orders 1001 and 0917 of cust-1001)\n", demoTenant, n)
	return nil
}
