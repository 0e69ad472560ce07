package api

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"tandem/policies"
)

// The console: the pages people use (agents, supervisors, compliance
// officers), served by this binary from embedded files, on the API it sits
// beside. A person signs in once; their session is a JWT this server mints,
// kept in an HttpOnly, Secure, SameSite=Strict cookie that page scripts
// cannot read; every state-changing call made with it must also carry the
// session's CSRF token in a header (docs/console.md).

//go:embed console
var consoleFiles embed.FS

// ConsoleConfig says how people sign in to the console.
type ConsoleConfig struct {
	// DevUsers lets anyone pick a development user of the demo tenant: for
	// `make run` only, never in production.
	DevUsers bool
	// DevTenant is the development users' tenant ("": DevTenant).
	DevTenant string
	// OIDC is the deployment's OpenID Connect provider; nil: none.
	OIDC *OIDCConfig
	// SessionTTL bounds a session (0: DefaultSessionTTL, never beyond the
	// tokens' maximum lifetime).
	SessionTTL time.Duration
}

// DefaultSessionTTL is a console session's length: a working day.
const DefaultSessionTTL = 8 * time.Hour

// Cookie names. The __Host- prefix makes a browser refuse the cookie unless
// it is Secure, host-only and for every path: no subdomain can plant one.
const (
	sessionCookie = "__Host-tandem_session"
	stepUpCookie  = "__Host-tandem_step_up"
	oidcCookie    = "__Host-tandem_oidc"
	csrfHeader    = "X-CSRF-Token"
)

// consoleIssuer is the iss of session tokens. They are believed only from
// the session cookie, never as a bearer token, so a session cannot be lifted
// into a script's Authorization header elsewhere.
const consoleIssuer = "tandem-console"

// DevUser is a development sign-in of the demo tenant.
type DevUser struct {
	ID    string   `json:"id"`
	Roles []string `json:"roles"`
}

// DevTenant is the tenant development users belong to by default: the
// tenant `make run` seeds.
const DevTenant = "demo"

// DevUsers are the people `make run` lets anyone be, named as in the README.
var DevUsers = []DevUser{
	{"ana", []string{policies.RoleAgent}},
	{"ben", []string{policies.RoleAgent}},
	{"sam", []string{policies.RoleSupervisor}},
	{"fay", []string{policies.RoleFinance}},
	{"carol", []string{policies.RoleCompliance}},
	{"dave", []string{policies.RoleAdmin}},
}

// DevSignInRequest picks a development user.
type DevSignInRequest struct {
	User string `json:"user"`
}

// SignInMethods is the body of GET /console/auth/methods.
type SignInMethods struct {
	OIDC     bool      `json:"oidc"`
	DevUsers []DevUser `json:"dev_users,omitempty"` // development only
}

// Session is the body of GET /console/auth/session.
type Session struct {
	Subject   string    `json:"subject"`
	Tenant    string    `json:"tenant"`
	Roles     []string  `json:"roles"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
	StepUpFor []string  `json:"step_up_for"`
	// Can lists the object.action pairs the person's roles may do in their
	// tenant, from the same rules the API enforces: the page offers only those.
	Can []string `json:"can"`
}

// routeConsole adds the console's pages and sign-in endpoints.
func (s *Server) routeConsole(r *gin.Engine) {
	static, _ := fs.Sub(consoleFiles, "console")
	index, _ := fs.ReadFile(static, "index.html")
	page := func(c *gin.Context) {
		// The page runs no script but its own, and no one frames it.
		c.Header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		c.Header("X-Frame-Options", "DENY")
		c.Header("Referrer-Policy", "no-referrer")
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, "text/html; charset=utf-8", index)
	}
	r.GET("/console", page)
	r.GET("/console/", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/console") }) // the page's old address
	r.GET("/console/assets/*file", func(c *gin.Context) {
		c.Header("X-Content-Type-Options", "nosniff")
		c.Header("Cache-Control", "no-cache")
		c.FileFromFS("assets"+c.Param("file"), http.FS(static))
	})
	auth := r.Group("/console/auth")
	auth.GET("/methods", s.h(s.signInMethods))
	auth.POST("/dev", s.h(s.devSignIn))
	auth.GET("/login", s.h(s.oidcLogin))
	auth.GET("/callback", s.h(s.oidcCallback))
	auth.GET("/session", s.authenticate, s.h(s.session))
	auth.POST("/logout", s.authenticate, s.h(s.logout))
}

func (s *Server) signInMethods(c *gin.Context) error {
	m := SignInMethods{OIDC: s.console.OIDC != nil}
	if s.console.DevUsers {
		m.DevUsers = DevUsers
	}
	c.JSON(http.StatusOK, m)
	return nil
}

// devSignIn starts a session as a development user (make run only).
func (s *Server) devSignIn(c *gin.Context) error {
	if !s.console.DevUsers {
		return errorf(http.StatusNotFound, "route_not_found", "no such endpoint")
	}
	var req DevSignInRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	i := slices.IndexFunc(DevUsers, func(u DevUser) bool { return u.ID == req.User })
	if i < 0 {
		return validationError([]FieldError{{"user", "one of the development users (GET /console/auth/methods)"}})
	}
	sess, err := s.startSession(c, cmp.Or(s.console.DevTenant, DevTenant), DevUsers[i].ID, DevUsers[i].Roles, "development")
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, sess)
	return nil
}

// startSession mints a session token, sets it as the session cookie, audits
// the sign-in.
func (s *Server) startSession(c *gin.Context, tenant, subject string, roles []string, via string) (Session, error) {
	if len(s.tokens.Secret) < MinSecretBytes {
		return Session{}, errorf(http.StatusServiceUnavailable, "console_unavailable", "this server has no secret to sign sessions with (TANDEM_JWT_SECRET)")
	}
	exists, err := s.store.TenantExists(c.Request.Context(), tenant)
	if err != nil {
		return Session{}, err
	}
	if !exists {
		return Session{}, errorf(http.StatusForbidden, "unknown_tenant", "your organisation has no tenant on this server")
	}
	ttl := min(cmp.Or(s.console.SessionTTL, DefaultSessionTTL), cmp.Or(s.tokens.MaxLifetime, DefaultMaxTokenLifetime))
	now := time.Now()
	claims := Claims{Tenant: tenant, Roles: roles, RegisteredClaims: jwt.RegisteredClaims{
		ID: uuid.NewString(), Issuer: consoleIssuer, Subject: subject, Audience: jwt.ClaimStrings{s.tokens.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.tokens.Secret)
	if err != nil {
		return Session{}, err
	}
	p := Principal{Kind: "user", ID: subject, Tenant: tenant, Roles: roles, ExpiresAt: now.Add(ttl), IssuedAt: now, TokenID: claims.ID, Session: true}
	c.Set(principalKey, p)
	if err := s.audit(c, auditEntry{Action: "auth.console.sign_in", ObjectType: "user", ObjectID: subject,
		Details: map[string]string{"via": via, "roles": strings.Join(roles, ",")}}); err != nil {
		return Session{}, err
	}
	setCookie(c, sessionCookie, raw, ttl, http.SameSiteStrictMode)
	return s.sessionOf(p), nil
}

func (s *Server) session(c *gin.Context) error {
	p := principalOf(c)
	if !p.Session {
		return errorf(http.StatusUnauthorized, "no_session", "sign in to the console")
	}
	c.JSON(http.StatusOK, s.sessionOf(p))
	return nil
}

// parameterActions are what a route's parameter asks of the caller's roles
// beyond the route's own action: ?q= of a case listing searches
// conversations; ?include=conversation of an export reads them.
var parameterActions = [][2]string{{"case", "search"}, {"case", "export_conversation"}}

func (s *Server) sessionOf(p Principal) Session {
	stepUp := []string{}
	if p.StepUp {
		stepUp = p.StepUpFor
	}
	var can []string
	pairs := slices.Clone(parameterActions)
	for _, e := range Endpoints {
		pairs = append(pairs, [2]string{e.Object, e.Action})
	}
	for _, oa := range pairs {
		pair := oa[0] + "." + oa[1]
		if oa[0] == "" || slices.Contains(can, pair) {
			continue
		}
		if ok, err := s.authz.Allowed(p.Roles, p.Tenant, oa[0], oa[1]); err == nil && ok {
			can = append(can, pair)
		}
	}
	return Session{Subject: p.ID, Tenant: p.Tenant, Roles: p.Roles, CSRFToken: s.csrfToken(p.TokenID),
		ExpiresAt: p.ExpiresAt.UTC(), StepUpFor: stepUp, Can: can}
}

// logout revokes the session's token and clears the cookies.
func (s *Server) logout(c *gin.Context) error {
	p := principalOf(c)
	if !p.Session {
		return errorf(http.StatusUnauthorized, "no_session", "sign in to the console")
	}
	if err := s.store.RevokeToken(c.Request.Context(), p.Tenant, p.TokenID, p.ID); err != nil {
		return err
	}
	if err := s.audit(c, auditEntry{Action: "auth.console.sign_out", ObjectType: "user", ObjectID: p.ID}); err != nil {
		return err
	}
	setCookie(c, sessionCookie, "", -1, http.SameSiteStrictMode)
	setCookie(c, stepUpCookie, "", -1, http.SameSiteStrictMode)
	c.Status(http.StatusNoContent)
	return nil
}

// sessionPrincipal identifies a console caller by the session cookie, with
// the step-up cookie's classes if it proves a step-up by the same person.
// State-changing calls must echo the session's CSRF token.
func (s *Server) sessionPrincipal(c *gin.Context, raw string) (Principal, error) {
	p, err := s.verifyJWT(c.Request.Context(), raw, true)
	if err != nil {
		return Principal{}, err
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := c.GetHeader(csrfHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.csrfToken(p.TokenID))) != 1 {
			return Principal{}, errorf(http.StatusForbidden, "csrf_token_invalid",
				"a console session's changes must carry its CSRF token in the "+csrfHeader+" header")
		}
	}
	if ck, err := c.Cookie(stepUpCookie); err == nil && ck != "" {
		up, err := s.verifyJWT(c.Request.Context(), ck, false)
		if err == nil && up.StepUp && up.ID == p.ID && up.Tenant == p.Tenant {
			p.StepUp, p.StepUpFor = true, up.StepUpFor
		}
	}
	return p, nil
}

// csrfToken is the session's CSRF token: an HMAC of its token ID, so it
// needs no storage and dies with the session.
func (s *Server) csrfToken(jti string) string {
	m := hmac.New(sha256.New, s.tokens.Secret)
	m.Write([]byte("console-csrf:" + jti))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setCookie sets (or, with maxAge < 0, clears) a __Host- cookie.
func setCookie(c *gin.Context, name, value string, maxAge time.Duration, site http.SameSite) {
	age := int(maxAge / time.Second)
	if maxAge < 0 {
		age = -1
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: age,
		HttpOnly: true, Secure: true, SameSite: site})
}
