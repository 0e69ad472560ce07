package api

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"tandem/activities/store"
	"tandem/policies"
	"tandem/workflows"
)

// Principal is who is calling: a person with a bearer JWT or a service client
// with an API key. Its tenant comes from the credential, never from the request.
type Principal struct {
	Kind   string   `json:"kind"` // "user" or "service"
	ID     string   `json:"id"`   // JWT subject, or API key ID
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	// StepUp: the person proved a second factor within StepUpTTL, for the
	// action classes in StepUpFor only.
	StepUp    bool      `json:"step_up"`
	StepUpFor []string  `json:"-"`
	ExpiresAt time.Time `json:"-"`
	IssuedAt  time.Time `json:"-"` // when the person signed in (a token's iat)
	TokenID   string    `json:"-"` // the token's jti, if it has one
	// Channels a front end's key is bound to (nil: every channel), and the
	// person who made the key.
	Channels  []string `json:"-"`
	CreatedBy string   `json:"-"`
	// Session: the person came through the console's session cookie.
	Session bool `json:"-"`
	// Customer: the one customer a front end acts for, named by a signed
	// customer assertion its key requires; "": the key requires none.
	Customer string `json:"-"`
}

// FreshSignIn is how recent a sign-in must be to enrol a second factor
// without an administrator's reset: a stolen older token cannot enrol one.
const FreshSignIn = 10 * time.Minute

// StepUpTTL is how long a step-up token lets a person perform sensitive actions.
const StepUpTTL = 10 * time.Minute

// acrTOTP marks a token minted after a TOTP check.
const acrTOTP = "totp"

const principalKey = "principal"

func actorOf(c *gin.Context) workflows.Actor {
	p := principalOf(c)
	return workflows.Actor{Kind: p.Kind, ID: p.ID}
}

func principalOf(c *gin.Context) Principal {
	p, _ := c.MustGet(principalKey).(Principal)
	return p
}

// TokenConfig says which JWTs for people are accepted.
type TokenConfig struct {
	// Secret is the HS256 key of this server's step-up tokens, and, only
	// while no Keys are configured, of development tokens (tandem token).
	Secret   []byte
	Keys     *KeySet // RS256/ES256 keys by kid of the identity provider (production); nil: none
	Issuer   string  // the iss people's tokens must carry
	Audience string
	// MaxLifetime bounds a token's exp − iat (0: DefaultMaxTokenLifetime):
	// a token for ten years is a stolen credential for ten years.
	MaxLifetime time.Duration
}

// DefaultMaxTokenLifetime is the longest a person's token may live.
const DefaultMaxTokenLifetime = 12 * time.Hour

// stepUpIssuer is the iss of this server's step-up tokens. Only a token it
// minted (HS256, this issuer) proves a second factor: an acr claim from any
// other issuer is not believed.
const stepUpIssuer = "tandem-step-up"

// Claims are the claims of a Tandem JWT beyond the registered ones.
type Claims struct {
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	ACR    string   `json:"acr,omitempty"` // "totp" on step-up tokens
	// StepUpFor: the action classes a step-up token is good for.
	StepUpFor []string `json:"step_up_for,omitempty"`
	jwt.RegisteredClaims
}

// MinSecretBytes is the shortest HS256 secret accepted.
const MinSecretBytes = 32

// MintToken signs an HS256 JWT for a person; `tandem token` uses it to make
// development tokens.
func MintToken(cfg TokenConfig, tenant, subject string, roles []string, ttl time.Duration) (string, error) {
	if len(cfg.Secret) < MinSecretBytes {
		return "", fmt.Errorf("the JWT secret must be at least %d bytes", MinSecretBytes)
	}
	for _, r := range roles {
		if !policies.ValidRole(r) {
			return "", fmt.Errorf("unknown role %q (roles: %s)", r, strings.Join(policies.Roles, ", "))
		}
	}
	now := time.Now()
	claims := Claims{
		Tenant: tenant,
		Roles:  roles,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        uuid.NewString(), // jti: revocable one by one
			Issuer:    cfg.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(cfg.Secret)
}

var errInvalidCredentials = errorf(http.StatusUnauthorized, "invalid_credentials", "the credential is invalid, expired or revoked")

var errTokenTooLongLived = errorf(http.StatusUnauthorized, "token_too_long_lived",
	"the token lives longer than this server accepts: ask the identity provider for a shorter-lived one")

// verifyToken checks signature, algorithm, exp, nbf, iat, iss, aud, lifetime
// and revocation. With an identity provider's keys configured only its
// algorithms and issuer are accepted for sign-ins; HS256 then proves only
// this server's own step-up tokens.
func (s *Server) verifyToken(ctx context.Context, raw string) (Principal, error) {
	return s.verifyJWT(ctx, raw, false)
}

// verifyJWT checks a token; session says it came from the console's session
// cookie, and only then is a console session token believed.
func (s *Server) verifyJWT(ctx context.Context, raw string, session bool) (Principal, error) {
	if len(s.tokens.Secret) == 0 && s.tokens.Keys == nil {
		return Principal{}, errInvalidCredentials
	}
	var claims Claims
	var methods []string
	if len(s.tokens.Secret) > 0 {
		methods = append(methods, "HS256")
	}
	if s.tokens.Keys != nil {
		methods = append(methods, "RS256", "ES256")
	}
	// iat is required and may not be in the future: revoking every token
	// of a person refuses those issued before the revocation, which a
	// token without iat, or one dated ahead, would escape.
	tok, err := jwt.ParseWithClaims(raw, &claims, s.tokenKey,
		jwt.WithValidMethods(methods),
		jwt.WithAudience(s.tokens.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
	)
	if err != nil || claims.IssuedAt == nil || claims.Subject == "" || !tenantPattern.MatchString(claims.Tenant) || len(claims.Roles) == 0 {
		return Principal{}, errInvalidCredentials
	}
	hs := tok.Method.Alg() == "HS256"
	stepUp := hs && claims.Issuer == stepUpIssuer && claims.ACR == acrTOTP
	switch {
	case session:
		if !hs || claims.Issuer != consoleIssuer {
			return Principal{}, errInvalidCredentials
		}
	case stepUp:
	case claims.Issuer != s.tokens.Issuer, hs && s.tokens.Keys != nil:
		return Principal{}, errInvalidCredentials
	}
	maxLife := cmp.Or(s.tokens.MaxLifetime, DefaultMaxTokenLifetime)
	issued := claims.IssuedAt.Time
	if claims.ExpiresAt.Sub(issued) > maxLife+30*time.Second {
		return Principal{}, errTokenTooLongLived
	}
	revoked, err := s.store.TokenRevoked(ctx, claims.Tenant, claims.Subject, claims.ID, issued)
	if err != nil {
		return Principal{}, err
	}
	if revoked {
		return Principal{}, errInvalidCredentials
	}
	for _, r := range claims.Roles {
		// A token may not make itself a service: services use API keys.
		if !policies.ValidRole(r) || r == policies.RoleService {
			return Principal{}, errInvalidCredentials
		}
	}
	p := Principal{Kind: "user", ID: claims.Subject, Tenant: claims.Tenant, Roles: slices.Clone(claims.Roles),
		ExpiresAt: claims.ExpiresAt.Time, IssuedAt: issued}
	if stepUp && time.Since(issued) < StepUpTTL+30*time.Second {
		p.StepUp, p.StepUpFor = true, slices.Clone(claims.StepUpFor)
	}
	p.TokenID, p.Session = claims.ID, session
	return p, nil
}

// tokenKey picks the verification key for a token, and ties the key's type to
// the algorithm, so a token cannot choose how it is checked (an RS256 public
// key used as an HS256 secret, say).
func (s *Server) tokenKey(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case "HS256":
		return s.tokens.Secret, nil
	case "RS256", "ES256":
		return s.tokens.Keys.key(t)
	}
	return nil, fmt.Errorf("algorithm %s is not accepted", t.Method.Alg())
}

// authenticate identifies the caller from `Authorization: Bearer …`: an API
// key (tdm_…) or a JWT; without that header, from the console's session
// cookie. Its tenant must exist.
func (s *Server) authenticate(c *gin.Context) {
	p, err := s.identify(c)
	if err != nil {
		if errors.Is(err, errNoCredential) {
			c.Header("WWW-Authenticate", `Bearer realm="tandem"`)
		}
		s.authFailed(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Next()
}

// errNoCredential: the request sent no credential at all.
var errNoCredential = errorf(http.StatusUnauthorized, "unauthenticated", "send a bearer token or API key in the Authorization header")

// identify is who the request's credential says the caller is, checked
// afresh (a long-lived request, the event stream, asks again as it goes).
func (s *Server) identify(c *gin.Context) (Principal, error) {
	ctx := c.Request.Context()
	raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if c.GetHeader("Authorization") == "" {
		if ck, err := c.Cookie(sessionCookie); err == nil && ck != "" {
			p, err := s.sessionPrincipal(c, ck)
			if err == nil {
				err = s.tenantMustExist(ctx, p.Tenant)
			}
			return p, err
		}
	}
	if !ok || raw == "" {
		return Principal{}, errNoCredential
	}
	if strings.HasPrefix(raw, store.APIKeyPrefix) {
		authenticate := s.store.AuthenticateAPIKey
		if s.apiKeys != nil {
			authenticate = s.apiKeys.Authenticate
		}
		key, err := authenticate(ctx, raw)
		if errors.Is(err, store.ErrInvalidAPIKey) {
			err = errInvalidCredentials
		}
		if err != nil {
			return Principal{}, err
		}
		p := Principal{Kind: "service", ID: key.ID, Tenant: key.TenantID, Roles: []string{key.Role}, Channels: key.ChannelList(), CreatedBy: key.CreatedBy}
		if key.AssertionKey != nil {
			if p.Customer, err = customerAssertion(c.GetHeader(CustomerAssertionHeader), ed25519.PublicKey(key.AssertionKey)); err != nil {
				return Principal{}, err
			}
		}
		return p, nil
	}
	p, err := s.verifyToken(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	return p, s.tenantMustExist(ctx, p.Tenant)
}

// authFailed answers a request whose credential failed; a 401 counts
// against its client address (badCredentialsGate).
func (s *Server) authFailed(c *gin.Context, err error) {
	if apiErr, _ := toAPIError(err); apiErr.Status == http.StatusUnauthorized {
		c.Set(badCredentialKey, true)
	}
	respondError(c, s.log, err)
}

// badCredentialKey marks a request whose credential failed.
const badCredentialKey = "tandem.bad_credential"

func (s *Server) tenantMustExist(ctx context.Context, tenant string) error {
	exists, err := s.store.TenantExists(ctx, tenant)
	if err != nil {
		return err
	}
	if !exists {
		return errInvalidCredentials
	}
	return nil
}

// authorize lets a request through if the caller's roles may do the
// route's (object, action) and, where the route asks, the caller has stepped
// up for its class (Endpoints, contract.go). A route missing from the table
// is refused: nothing is served unauthorised by omission.
func (s *Server) authorize(c *gin.Context) {
	e, ok := endpointFor(c.Request.Method, c.FullPath())
	if !ok || e.Object == "" {
		respondError(c, s.log, fmt.Errorf("route %s %s has no authorisation in Endpoints", c.Request.Method, c.FullPath()))
		c.Abort()
		return
	}
	if !s.allowed(c, e.Object, e.Action) {
		c.Abort()
		return
	}
	if e.StepUp != "" && !principalOf(c).steppedUpFor(e.StepUp) {
		respondError(c, s.log, errStepUpRequired)
		c.Abort()
		return
	}
	c.Next()
}

// Action classes a step-up token is bound to: a token proved for one is no
// use for another, so a code typed to approve a refund cannot also mint API
// keys or erase a customer.
const (
	StepUpMoney   = "money"   // deciding refunds where the policy asks
	StepUpRecords = "records" // erasure, legal holds, retention, trail exports
	StepUpAccess  = "access"  // API keys, access rules, service policy, second-factor resets
)

// StepUpClasses are the action classes, in the order the docs list them.
var StepUpClasses = []string{StepUpMoney, StepUpRecords, StepUpAccess}

func (p Principal) steppedUpFor(class string) bool {
	return p.StepUp && slices.Contains(p.StepUpFor, class)
}

// allowed says the caller's roles may do act on obj in their tenant, and
// otherwise answers (403, audited). A failed check is a 500, never an allow.
func (s *Server) allowed(c *gin.Context, obj, act string) bool {
	p := principalOf(c)
	ok, err := s.authz.Allowed(p.Roles, p.Tenant, obj, act)
	if err != nil {
		respondError(c, s.log, err)
		return false
	}
	if !ok {
		s.log.InfoContext(c.Request.Context(), "access denied", "principal", p.ID, "tenant", p.Tenant,
			"roles", p.Roles, "object", obj, "action", act)
		err := s.audit(c, auditEntry{Action: "authz.deny", ObjectType: obj, ObjectID: c.Param("id"), Decision: "deny", Outcome: "denied",
			Reason: "role may not " + act, Details: map[string]string{"object": obj, "action": act, "roles": strings.Join(p.Roles, ","), "route": c.FullPath()}})
		if err != nil {
			respondError(c, s.log, err)
			return false
		}
		respondError(c, s.log, errorf(http.StatusForbidden, "forbidden", "your role may not do this"))
		return false
	}
	return true
}

// agentScope returns the scope of a caller who may only work their own and
// their queues' cases, or nil for a caller who sees the whole tenant.
func (s *Server) agentScope(c *gin.Context) (*policies.AgentScope, error) {
	p := principalOf(c)
	if p.Kind != "user" || policies.CaseScope(p.Roles) == policies.ScopeTenant {
		return nil, nil
	}
	queues, err := s.store.AgentQueues(c.Request.Context(), p.Tenant, p.ID)
	if err != nil {
		return nil, err
	}
	return &policies.AgentScope{AgentID: p.ID, Queues: queues}, nil
}

// inScope answers 404 for a case outside the caller's scope: to an agent,
// another agent's case does not exist.
func (s *Server) inScope(c *gin.Context, row store.Case) error {
	if ch := principalOf(c).Channels; ch != nil && !slices.Contains(ch, row.Channel) {
		return errCaseNotFound // another channel's customer: not this front end's to know
	}
	if cust := principalOf(c).Customer; cust != "" && cust != row.CustomerRef {
		return errCaseNotFound // another customer's: not this request's to know
	}
	scope, err := s.agentScope(c)
	if err != nil {
		return err
	}
	if scope != nil && !scope.Sees(deref(row.AssigneeID), deref(row.Queue)) {
		return errCaseNotFound
	}
	return nil
}
