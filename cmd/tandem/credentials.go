package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies"
)

// runToken prints a JWT for a person, signed with the configured HS256
// secret, or with `revoke` revokes one (-jti) or all of a person's (-sub).
func runToken(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "revoke" {
		return runTokenRevoke(ctx, cfg, args[1:], stdout)
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "tenant the person works in")
	sub := fs.String("sub", "", "subject: the person's user ID")
	roles := fs.String("roles", "", "comma-separated roles: agent, supervisor, finance, compliance, admin")
	ttl := fs.Duration("ttl", 8*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" || *sub == "" || *roles == "" {
		return errors.New("token: -tenant, -sub and -roles are required")
	}
	if len(cfg.JWTSecretBytes) == 0 {
		return errors.New("token: set TANDEM_JWT_SECRET or TANDEM_JWT_SECRET_FILE (make run writes .data/jwt-secret)")
	}
	if *ttl <= 0 || *ttl > cfg.JWTMaxLifetime {
		return fmt.Errorf("token: -ttl must be positive and at most TANDEM_JWT_MAX_LIFETIME (%s)", cfg.JWTMaxLifetime)
	}
	tok, err := api.MintToken(cfg.tokens(), *tenant, *sub, strings.Split(*roles, ","), *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// runTokenRevoke runs `tandem token revoke -tenant T -jti J | -sub S`.
func runTokenRevoke(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token revoke", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "tenant")
	jti := fs.String("jti", "", "the token's ID (its jti claim)")
	sub := fs.String("sub", "", "revoke every token of this person issued until now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" || (*jti == "") == (*sub == "") {
		return errors.New("usage: tandem token revoke -tenant T -jti J | -sub S")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	what, id := "token", *jti
	if *sub != "" {
		what, id = "subject", *sub
		err = st.RevokeSubject(ctx, *tenant, *sub, "tandem token revoke", time.Now())
	} else {
		err = st.RevokeToken(ctx, *tenant, *jti, "tandem token revoke")
	}
	if err != nil {
		return err
	}
	details, _ := json.Marshal(map[string]string{what: id}) // strings always marshal
	if _, err := st.AppendAudit(ctx, store.AuditEvent{TenantID: *tenant, ID: uuid.NewString(), ActorKind: "system", ActorID: "tandem token revoke",
		Action: "token.revoke", ObjectType: what, ObjectID: id, Decision: "allow", Outcome: "success", Details: string(details)}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s %s in %s\n", what, id, *tenant)
	return nil
}

// runAPIKey creates, lists and revokes service API keys directly in the database.
func runAPIKey(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tandem apikey create -tenant T -name N | list -tenant T | revoke -tenant T -id ID")
	}
	fs := flag.NewFlagSet("apikey "+args[0], flag.ContinueOnError)
	tenant := fs.String("tenant", "", "tenant")
	name := fs.String("name", "", "what the key is for (create)")
	channels := fs.String("channels", "", "create: bind the key to these channels, comma-separated (default: every channel)")
	id := fs.String("id", "", "key ID (revoke)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("apikey: -tenant is required")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	switch args[0] {
	case "create":
		if *name == "" {
			return errors.New("apikey create: -name is required")
		}
		spec := store.APIKeySpec{TenantID: *tenant, Name: *name, Role: policies.RoleService, CreatedBy: "tandem apikey create"}
		if *channels != "" {
			spec.Channels = strings.Split(*channels, ",")
		}
		token, _, err := st.CreateAPIKeyFor(ctx, spec)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
		return nil
	case "list":
		keys, err := st.ListAPIKeys(ctx, *tenant)
		if err != nil {
			return err
		}
		return enc.Encode(keys)
	case "revoke":
		key, err := st.RevokeAPIKey(ctx, *tenant, *id)
		if err != nil {
			return fmt.Errorf("revoke %s: %w", *id, err)
		}
		return enc.Encode(key)
	default:
		return fmt.Errorf("unknown apikey command %q", args[0])
	}
}

// runKeys makes master keys and rotates data keys to the current one.
func runKeys(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: tandem keys generate | rotate")
	}
	switch args[0] {
	case "generate":
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		id := make([]byte, 4)
		if _, err := rand.Read(id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%x:%s\n", id, base64.StdEncoding.EncodeToString(raw))
		return nil
	case "rotate":
		st, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		n, err := st.RotateMasterKey(ctx)
		if err != nil {
			return fmt.Errorf("rotate (after %d re-wrapped): %w", n, err)
		}
		fmt.Fprintf(stdout, "re-wrapped %d key(s) with master key %s\n", n, cfg.MasterKeys[0].ID)
		return nil
	default:
		return fmt.Errorf("unknown keys command %q", args[0])
	}
}

// runTOTPCode prints the code an authenticator app holding the otpauth URL
// shows now (or after -in): a development stand-in for the app.
func runTOTPCode(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("totp-code", flag.ContinueOnError)
	in := fs.Duration("in", 0, "the code this long from now (a code works once, so a second one must be from a later 30 s step)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: tandem totp-code [-in 30s] OTPAUTH_URL")
	}
	key, err := otp.NewKeyFromURL(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("totp-code: %w", err)
	}
	code, err := totp.GenerateCode(key.Secret(), time.Now().Add(*in))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, code)
	return nil
}
