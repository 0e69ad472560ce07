package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
)

// consoleStack is a stack whose console lets anyone be a development user
// of tenant acme, and signs people in with a real OpenID Connect provider
// started for the test (mockoidc: discovery, authorization code with PKCE,
// signed ID tokens, its own keys).
func consoleStack(t *testing.T) (*stack, *mockoidc.MockOIDC) {
	t.Helper()
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	cfg := idp.Config()
	s := newStackAll(t, 0, nil, true, func(base string) api.ConsoleConfig {
		return api.ConsoleConfig{DevUsers: true, DevTenant: tenantA, OIDC: &api.OIDCConfig{
			Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: base + "/console/auth/callback",
		}}
	})
	return s, idp
}

// oidcPerson is a person at the identity provider, with the claims that
// carry their tenant and roles.
type oidcPerson struct {
	sub, tenant string
	roles       []string
}

func (p oidcPerson) ID() string { return p.sub }
func (p oidcPerson) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": p.sub})
}
func (p oidcPerson) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return personClaims{IDTokenClaims: base, Tenant: p.tenant, Roles: p.roles}, nil
}

type personClaims struct {
	*mockoidc.IDTokenClaims
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
}

// consoleClient is a person's HTTP client that keeps the console's cookies
// by hand: Go's cookie jar sends Secure cookies over https only.
type consoleClient struct {
	t       *testing.T
	base    string
	cookies map[string]string
}

func (cc *consoleClient) do(method, path string, body any, headers ...string) (int, []byte, http.Header) {
	cc.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, _ := http.NewRequest(method, cc.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	for name, v := range cc.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 {
			delete(cc.cookies, ck.Name)
		} else {
			cc.cookies[ck.Name] = ck.Value
		}
	}
	return resp.StatusCode, raw, resp.Header
}

// A console session is an HttpOnly, Secure, SameSite=Strict cookie; changes
// made with it need its CSRF token; its token is no bearer token; signing
// out ends it; development sign-ins exist only where configured.
func TestConsoleSession(t *testing.T) {
	s, _ := consoleStack(t)
	cc := &consoleClient{t: t, base: s.url, cookies: map[string]string{}}
	status, raw, h := cc.do("POST", "/console/auth/dev", map[string]string{"user": "ana"})
	if status != http.StatusOK {
		t.Fatalf("dev sign-in: %d %s", status, raw)
	}
	set := h.Values("Set-Cookie")
	if len(set) != 1 || !strings.HasPrefix(set[0], "__Host-tandem_session=") || !strings.Contains(set[0], "HttpOnly") ||
		!strings.Contains(set[0], "Secure") || !strings.Contains(set[0], "SameSite=Strict") || !strings.Contains(set[0], "Path=/") {
		t.Fatalf("session cookie: %q", set)
	}
	var sess api.Session
	if err := json.Unmarshal(raw, &sess); err != nil || sess.Subject != "ana" || sess.Tenant != tenantA || sess.CSRFToken == "" {
		t.Fatalf("session: %s %v", raw, err)
	}
	if strings.Contains(string(raw), cc.cookies["__Host-tandem_session"]) {
		t.Fatal("the session's token is in the body, where scripts read it")
	}
	for _, want := range []string{"case.claim", "case.reply", "agent.set_availability"} {
		if !contains(strings.Join(sess.Can, " "), want) {
			t.Fatalf("an agent's session cannot %s: %v", want, sess.Can)
		}
	}
	if contains(strings.Join(sess.Can, " "), "case.reassign") || contains(strings.Join(sess.Can, " "), "stats.read") {
		t.Fatalf("an agent's session offers a supervisor's actions: %v", sess.Can)
	}
	// Reads work with the cookie; a change needs the CSRF token.
	if status, raw, _ := cc.do("GET", "/v1/agents/ana", nil); status != http.StatusNotFound && status != http.StatusOK {
		t.Fatalf("read with the session: %d %s", status, raw)
	}
	avail := map[string]any{"status": "available", "capacity": 2}
	status, raw, _ = cc.do("PUT", "/v1/agents/ana/availability", avail)
	if status != http.StatusForbidden || !contains(string(raw), "csrf_token_invalid") {
		t.Fatalf("a change without the CSRF token: %d %s", status, raw)
	}
	if status, raw, _ = cc.do("PUT", "/v1/agents/ana/availability", avail, "X-CSRF-Token", "forged"); status != http.StatusForbidden {
		t.Fatalf("a change with a forged token: %d %s", status, raw)
	}
	if status, raw, _ = cc.do("PUT", "/v1/agents/ana/availability", avail, "X-CSRF-Token", sess.CSRFToken); status != http.StatusOK {
		t.Fatalf("a change with the CSRF token: %d %s", status, raw)
	}
	// The session's token is believed only from its cookie.
	if r := s.do("GET", "/v1/agents/ana", "raw:Bearer "+cc.cookies["__Host-tandem_session"], nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the session token as a bearer token: %d %s", r.Status, r.Body)
	}
	// An unknown development user, and a token made for the API, are refused.
	if status, raw, _ := cc.do("POST", "/console/auth/dev", map[string]string{"user": "mallory"}); status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown dev user: %d %s", status, raw)
	}
	tok := strings.TrimPrefix(s.cred(tenantA+"/admin"), "Bearer ")
	stranger := &consoleClient{t: t, base: s.url, cookies: map[string]string{"__Host-tandem_session": tok}}
	if status, raw, _ := stranger.do("GET", "/console/auth/session", nil); status != http.StatusUnauthorized {
		t.Fatalf("an API token in the session cookie: %d %s", status, raw)
	}
	// Signing out revokes the token: the same cookie no longer works.
	old := cc.cookies["__Host-tandem_session"]
	if status, raw, _ := cc.do("POST", "/console/auth/logout", nil, "X-CSRF-Token", sess.CSRFToken); status != http.StatusNoContent {
		t.Fatalf("sign out: %d %s", status, raw)
	}
	cc.cookies["__Host-tandem_session"] = old
	if status, raw, _ := cc.do("GET", "/console/auth/session", nil); status != http.StatusUnauthorized {
		t.Fatalf("after signing out: %d %s", status, raw)
	}
	// A stack without development sign-ins has none.
	plain := newStack(t)
	pc := &consoleClient{t: t, base: plain.url, cookies: map[string]string{}}
	if status, raw, _ := pc.do("POST", "/console/auth/dev", map[string]string{"user": "ana"}); status != http.StatusNotFound {
		t.Fatalf("dev sign-in where it is off: %d %s", status, raw)
	}
	if status, raw, _ := pc.do("GET", "/console/auth/login", nil); status != http.StatusNotFound {
		t.Fatalf("OIDC sign-in where none is configured: %d %s", status, raw)
	}
}

// The OpenID Connect sign-in without a browser: the state must come back as
// it left, and a person without a role of the console gets none.
func TestConsoleOIDCRefusals(t *testing.T) {
	s, idp := consoleStack(t)
	cc := &consoleClient{t: t, base: s.url, cookies: map[string]string{}}
	status, _, h := cc.do("GET", "/console/auth/login", nil)
	loc, _ := url.Parse(h.Get("Location"))
	if status != http.StatusFound || loc.Query().Get("code_challenge_method") != "S256" || loc.Query().Get("nonce") == "" || loc.Query().Get("state") == "" {
		t.Fatalf("login: %d %s", status, h.Get("Location"))
	}
	// A callback with another state (a forged login) is refused.
	if status, raw, _ := cc.do("GET", "/console/auth/callback?code=x&state=forged", nil); status != http.StatusUnauthorized {
		t.Fatalf("forged state: %d %s", status, raw)
	}
	// A callback without the flow's cookie is refused.
	bare := &consoleClient{t: t, base: s.url, cookies: map[string]string{}}
	if status, raw, _ := bare.do("GET", "/console/auth/callback?code=x&state="+loc.Query().Get("state"), nil); status != http.StatusUnauthorized {
		t.Fatalf("no flow cookie: %d %s", status, raw)
	}
	// A person whose roles are none of the console's is refused.
	idp.QueueUser(oidcPerson{sub: "eve", tenant: tenantA, roles: []string{"service", "root"}})
	status, _, h = cc.do("GET", "/console/auth/login", nil)
	if status != http.StatusFound {
		t.Fatal(status)
	}
	status, raw, h := followToCallback(t, cc, h.Get("Location"))
	if status != http.StatusForbidden || !contains(string(raw), "no_console_access") {
		t.Fatalf("no roles: %d %s %v", status, raw, h)
	}
}

// followToCallback lets the provider answer the authorization request (it
// signs the queued person in at once) and takes its redirect to the callback.
func followToCallback(t *testing.T, cc *consoleClient, authURL string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), cc.base) {
		t.Fatalf("the provider did not send the browser back: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return cc.do("GET", strings.TrimPrefix(back.String(), cc.base), nil)
}

// browser starts Debian's chromium (headless, 1280×800) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("TANDEM_CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("chromium is missing: make test installs Debian's chromium package")
			}
			t.Skip("chromium is not installed (make test installs it)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 800),
		chromedp.NoSandbox, chromedp.Flag("lang", "en-GB"))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	return ctx
}

// person opens a tab in a browser context of its own (cookies of its own),
// with a bound on each step.
type person struct {
	t   *testing.T
	ctx context.Context
}

func newPerson(t *testing.T, browserCtx context.Context) *person {
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return &person{t: t, ctx: ctx}
}

// do runs steps within a minute, and fails the test with a screenshot of
// the page when they do not pass.
func (p *person) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		shot, _ := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
		f := filepath.Join(p.t.TempDir(), "failed.png")
		_ = os.WriteFile(f, shot, 0o644)
		body, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		p.t.Fatalf("%s: %v\npage (screenshot %s):\n%s", what, err, f, body)
	}
}

func (p *person) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// screenshot keeps the page as docs/console/<name>.png when
// TANDEM_UPDATE_SCREENSHOTS=1 (the docs show what the tests saw), else in
// the test's temporary directory.
func (p *person) screenshot(name string) {
	p.t.Helper()
	shot, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	dir := p.t.TempDir()
	if os.Getenv("TANDEM_UPDATE_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "docs", "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			p.t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// waitText waits until the element's text contains want. It asks again and
// again rather than polling in the page: a navigation (the identity
// provider's redirects) replaces the page a poll would run in.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => { const n = document.querySelector(%q); return !!n && n.textContent.includes(%q); })()`, sel, want)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			if ok, err := chromedp.Evaluate[bool](js)(ctx, t); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %q in %s: %w", want, sel, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// goTo moves the page to a view (a same-document navigation, as a click on
// a link of the page).
func goTo(hash string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash))
}

func signInAs(p *person, base, user string) {
	p.t.Helper()
	p.do("sign in as "+user,
		chromedp.Navigate(base+"/console"),
		chromedp.Click(chromedp.CSS(`button[data-user="`+user+`"]`)),
		waitText("#who", user),
	)
}

// The console's stories in a real browser against the real stack: an agent
// sees a case offered to them appear live, claims it, reads the handoff and
// replies, and the customer's front end receives the reply; another agent
// cannot see that case; a supervisor approves a refund with a step-up code
// typed into the page; a compliance officer reads the case's trail and
// verifies the chain; a person of another tenant, signed in through the
// OpenID Connect provider, sees none of this tenant's data.
func TestConsoleInABrowser(t *testing.T) {
	s, idp := consoleStack(t)
	ctx := context.Background()
	chrome := browser(t)

	// The agent ana works the general queue.
	if r := s.do("PUT", "/v1/agents/ana/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}}); r.Status != http.StatusOK {
		t.Fatalf("queues: %d %s", r.Status, r.Body)
	}
	ana := newPerson(t, chrome)
	signInAs(ana, s.url, "ana")
	ana.do("go online",
		chromedp.WaitVisible(chromedp.CSS("#availability")),
		chromedp.SetValue(chromedp.CSS("#availability"), "available"),
		chromedp.Click(chromedp.CSS("#save-availability")),
		waitText("#status", "Saved"),
	)

	// A customer asks for a person; the case is offered to ana, and appears
	// on her page without a reload.
	c := s.openCase(tenantA, sampleCase()).Case
	s.escalate(tenantA, c.ID)
	row := `#offers tr[data-case="` + c.ID + `"]`
	ana.do("the offer appears live", chromedp.WaitVisible(chromedp.CSS(row)))
	if n, err := chromedp.Run(ana.ctx, chromedp.Evaluate[int](`performance.getEntriesByType('navigation').length`)); err != nil || n != 1 {
		t.Fatalf("the page was reloaded (%d navigations, %v)", n, err)
	}
	ana.screenshot("agent-queue")
	ana.do("claim it and read the handoff",
		chromedp.Click(chromedp.CSS(row+" a")),
		chromedp.WaitVisible(chromedp.CSS("#claim")),
		chromedp.Click(chromedp.CSS("#claim")),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.WaitVisible(chromedp.CSS("#handoff-summary")),
	)
	if got := ana.text("#case-status"); got != "assigned" {
		t.Fatalf("status after claiming: %q", got)
	}
	ana.screenshot("agent-handoff")
	reply := "Your parcel left our depot this morning; it arrives tomorrow."
	ana.do("reply",
		// The claim's own event reaches the page once its workflow task is
		// known committed, and the page redraws half a second later (not
		// while someone types): let that pass before typing.
		chromedp.Sleep(1500*time.Millisecond),
		chromedp.Focus(chromedp.CSS("#reply-body")),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), reply),
		chromedp.Click(chromedp.CSS("#send-reply")),
		waitText("#transcript", reply),
	)
	var front api.CustomerCase
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &front)
	if last := front.Messages[len(front.Messages)-1]; last.Body != reply || last.AuthorKind != "agent" {
		t.Fatalf("the customer's front end sees %+v", front.Messages)
	}

	// A note for the staff, mentioning ben, who works another queue: marked
	// internal in the transcript, never in the customer's view.
	if r := s.do("PUT", "/v1/agents/ben/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"returns"}}); r.Status != http.StatusOK {
		t.Fatalf("queues: %d %s", r.Status, r.Body)
	}
	note := "Courier says the depot has it. @ben can you check returns?"
	ana.do("note",
		chromedp.Focus(chromedp.CSS("#note-body")),
		chromedp.SendKeys(chromedp.CSS("#note-body"), note),
		chromedp.Click(chromedp.CSS("#add-note")),
		waitText("#transcript .note", note),
		waitText("#transcript .note", "Mentions ben"),
	)
	ana.screenshot("agent-note")
	if body := string(s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).Body); contains(body, "depot has it") {
		t.Fatalf("the customer's front end sees the note: %s", body)
	}

	// A macro from the reply box: it asks the customer, tags the case; then
	// a field set in place.
	if r := s.do("PUT", "/v1/admin/case-fields/tier", tenantA+"/admin", api.CaseFieldRequest{Type: "enum", Options: []string{"gold", "silver"}}); r.Status != http.StatusCreated {
		t.Fatalf("define tier: %d %s", r.Status, r.Body)
	}
	var macro api.MacroBody
	if r := s.do("POST", "/v1/macros", tenantA+"/admin", api.MacroRequest{Name: "Ask for a photo", Replies: map[string]string{"en": "Could you send a photo of the parcel?"},
		Actions: store.MacroActions{AddTags: []string{"photo"}, Then: "request_info"}}); r.Status != http.StatusCreated {
		t.Fatalf("macro: %d %s", r.Status, r.Body)
	} else {
		r.decode(t, &macro)
	}
	ana.do("apply a macro",
		goTo("#/"),
		goTo("#/case/"+c.ID),
		chromedp.WaitVisible(chromedp.CSS("#apply-macro")),
		chromedp.Sleep(1500*time.Millisecond),
		chromedp.SetValue(chromedp.CSS("#macro"), macro.Macro.ID),
		chromedp.Click(chromedp.CSS("#apply-macro")),
		waitText("#case-status", "waiting on customer"),
		waitText("#case-tags", "photo"),
		waitText("#transcript", "Could you send a photo of the parcel?"),
	)
	ana.do("set a field",
		chromedp.WaitVisible(chromedp.CSS("#field-tier")),
		chromedp.Sleep(1500*time.Millisecond),
		chromedp.SetValue(chromedp.CSS("#field-tier"), "gold"),
		chromedp.Click(chromedp.CSS("#save-fields")),
		waitText(`[data-field="tier"]`, "gold"),
	)
	ana.screenshot("agent-macro-fields")
	label := filepath.Join(t.TempDir(), "label.png")
	{
		var png bytes.Buffer
		if err := pngEncode(&png, 20, 12); err != nil || os.WriteFile(label, png.Bytes(), 0o600) != nil {
			t.Fatal("write the test image")
		}
	}
	ana.do("reply with a file",
		chromedp.WaitVisible(chromedp.CSS("#reply-files")),
		chromedp.Sleep(1500*time.Millisecond),
		chromedp.SetValue(chromedp.CSS("#reply-body"), "The return label, attached."),
		chromedp.SetUploadFiles(chromedp.CSS("#reply-files"), []string{label}),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.WaitVisible(chromedp.CSS("#transcript img.attachment")),
	)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if w, _ := chromedp.Run(ana.ctx, chromedp.Evaluate[int](`document.querySelector('#transcript img.attachment').naturalWidth`)); w == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the attached image does not show in the transcript")
		}
	}

	// Another agent: the case does not exist for ben.
	ben := newPerson(t, chrome)
	signInAs(ben, s.url, "ben")
	ben.do("ben's queue", chromedp.WaitVisible(chromedp.CSS("#mine")))
	if html, _ := chromedp.Run(ben.ctx, chromedp.OuterHTML(chromedp.CSS("main"))); contains(html, c.ID) {
		t.Fatal("ben's page shows ana's case")
	}
	ben.do("ana's case by its address", goTo("#/case/"+c.ID), waitText("main .error", "Not found"))

	// A refund waits for a person who must step up (risk-sensitive tenant).
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", map[string]string{"profile": "risk-sensitive"}); r.Status != http.StatusOK {
		t.Fatalf("profile: %d %s", r.Status, r.Body)
	}
	rc := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The customer's photo of the damage is the refund's evidence.
	photoBody, photoType := multipartFile(t, "damage.jpg", photoWithLocation(t))
	var photo api.AttachmentBody
	s.do("POST", "/v1/cases/"+rc.ID+"/attachments", tenantA, photoBody, "Content-Type", photoType).decode(t, &photo)
	_, asked := s.askRefund(rc.ID, tenantA, map[string]any{"order_ref": "1001", "amount": "30.00", "currency": "EUR", "reason_code": "damaged",
		"evidence": []string{photo.Attachment.ID}}, "console")
	s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	var enrol struct {
		URL string `json:"otpauth_url"`
	}
	s.do("POST", "/v1/auth/totp/enrol", tenantA+"/supervisor:sam", nil).decode(t, &enrol)
	now := time.Now()
	if r := s.do("POST", "/v1/auth/totp/confirm", tenantA+"/supervisor:sam", api.TOTPCodeRequest{Code: totpCode(t, enrol.URL, now)}); r.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	sam := newPerson(t, chrome)
	signInAs(sam, s.url, "sam")
	refundRow := `tr[data-refund="` + asked.RefundID + `"]`
	sam.do("approvals, the evidence a download", goTo("#/approvals"), chromedp.WaitVisible(chromedp.CSS(refundRow)),
		chromedp.WaitVisible(chromedp.CSS(refundRow+` .evidence a[data-attachment="`+photo.Attachment.ID+`"]`)))
	sam.screenshot("supervisor-approvals")
	sam.do("approve, asked for a code",
		chromedp.Click(chromedp.CSS(refundRow+" .approve")),
		chromedp.WaitVisible(chromedp.CSS("#stepup-code")),
	)
	sam.screenshot("supervisor-step-up")
	sam.do("type the code",
		chromedp.SendKeys(chromedp.CSS("#stepup-code"), totpCode(t, enrol.URL, now.Add(30*time.Second))),
		chromedp.Click(chromedp.CSS(`#stepup-form button[type="submit"]`)),
		waitText("#status", "Approved"),
	)
	if paid := s.waitRefund(asked.RefundID, tenantA, final); paid.Status != workflows.RefundPaid || paid.DecidedBy != "sam" {
		t.Fatalf("after the approval in the console: %+v", paid)
	}
	// Two stale cases, closed together from the list; a duplicate merged
	// from its page; a rating's comment in the statistics.
	stale1, stale2 := s.openCase(tenantA, sampleCase()).Case, s.openCase(tenantA, sampleCase()).Case
	dupReq := sampleCase()
	dupReq.CustomerRef = "cust-console-dup"
	dup, into := s.openCase(tenantA, dupReq).Case, s.openCase(tenantA, dupReq).Case
	rated := s.openCase(tenantA, sampleCase()).Case
	s.do("POST", "/v1/cases/"+rated.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "answered"})
	if r := s.do("POST", "/v1/cases/"+rated.ID+"/rating", tenantA, api.RatingRequest{Score: 4, Comment: "Friendly and quick."}); r.Status != http.StatusOK {
		t.Fatalf("rating: %d %s", r.Status, r.Body)
	}
	sam.do("open cases, breaches first", goTo("#/supervise"), chromedp.WaitVisible(chromedp.CSS("#open-cases table")))
	sam.screenshot("supervisor-open-cases")
	sam.do("close two cases in bulk",
		chromedp.Sleep(1500*time.Millisecond), // the openings' events redraw the page first
		chromedp.Click(chromedp.CSS(`#open-cases tr[data-case="`+stale1.ID+`"] input.pick`)),
		chromedp.Click(chromedp.CSS(`#open-cases tr[data-case="`+stale2.ID+`"] input.pick`)),
		chromedp.SetValue(chromedp.CSS("#bulk-value"), "stale"),
		chromedp.Click(chromedp.CSS("#bulk-start")),
		waitText("#bulk-progress", "completed: 2 done"),
	)
	for _, id := range []string{stale1.ID, stale2.ID} {
		if c := s.staffCase(tenantA, id); c.Status != "closed" {
			t.Fatalf("a case closed in bulk from the console: %+v", c)
		}
	}
	// Two waiting cases reassigned to ana and given a tier, in bulk.
	wait1, wait2 := s.openCase(tenantA, sampleCase()).Case, s.openCase(tenantA, sampleCase()).Case
	s.escalate(tenantA, wait1.ID)
	s.escalate(tenantA, wait2.ID)
	for _, step := range []struct{ action, value, want string }{{"reassign", "ana", "assignee ana"}, {"field", "tier=gold", "tier gold"}} {
		sam.do("bulk "+step.action,
			goTo("#/"), goTo("#/supervise"), chromedp.WaitVisible(chromedp.CSS(`#open-cases tr[data-case="`+wait2.ID+`"]`)),
			chromedp.Sleep(1500*time.Millisecond),
			chromedp.Click(chromedp.CSS(`#open-cases tr[data-case="`+wait1.ID+`"] input.pick`)),
			chromedp.Click(chromedp.CSS(`#open-cases tr[data-case="`+wait2.ID+`"] input.pick`)),
			chromedp.SetValue(chromedp.CSS("#bulk-action"), step.action),
			chromedp.SetValue(chromedp.CSS("#bulk-value"), step.value),
			chromedp.Click(chromedp.CSS("#bulk-start")),
			waitText("#bulk-progress", "completed: 2 done"),
		)
		for _, id := range []string{wait1.ID, wait2.ID} {
			c := s.staffCase(tenantA, id)
			if got := "assignee " + c.Assignee + " tier " + c.Fields["tier"]; !strings.Contains(got, step.want) {
				t.Fatalf("after bulk %s from the console: %s", step.action, got)
			}
		}
	}
	sam.do("reassign one to ben",
		goTo("#/case/"+wait1.ID),
		chromedp.WaitVisible(chromedp.CSS("#reassign-to")),
		chromedp.Sleep(1500*time.Millisecond),
		chromedp.SetValue(chromedp.CSS("#reassign-to"), "ben"),
		chromedp.Click(chromedp.CSS("#reassign")),
		waitText("#status", "Reassigned"),
	)
	if c := s.staffCase(tenantA, wait1.ID); c.Assignee != "ben" {
		t.Fatalf("reassigned from the console: %+v", c)
	}
	// A second question in a case split off into a case of its own.
	two := s.openCase(tenantA, sampleCase()).Case
	const second = "Separately: please change my delivery address to 1 Main St."
	s.do("POST", "/v1/cases/"+two.ID+"/messages", tenantA, api.PostMessageRequest{Body: second})
	sam.do("split a message off",
		goTo("#/case/"+two.ID),
		waitText("#transcript", second),
		chromedp.Click(chromedp.CSS(`.split-pick[value="3"]`)),
		chromedp.SetValue(chromedp.CSS("#split-subject"), "Address change"),
		chromedp.Click(chromedp.CSS("#split")),
		waitText("#case-title", "Address change"),
	)
	if html, _ := chromedp.Run(sam.ctx, chromedp.OuterHTML(chromedp.CSS("#transcript"))); !contains(html, second) || contains(html, "has not arrived") {
		t.Fatalf("the split case's transcript: %s", html)
	}
	// A case found by the customer's words.
	kettle := sampleCase()
	kettle.Message = "My new kettle sparks when it is switched on."
	sparks := s.openCase(tenantA, kettle).Case
	sam.do("search",
		goTo("#/search"),
		chromedp.WaitVisible(chromedp.CSS("#search-q")),
		chromedp.SetValue(chromedp.CSS("#search-q"), "kettle sparks"),
		chromedp.Click(chromedp.CSS("#search-go")),
		chromedp.WaitVisible(chromedp.CSS(`#search-results tr[data-case="`+sparks.ID+`"]`)),
	)
	if n := strings.Count(sam.text("#search-results"), "Order never arrived"); n != 1 {
		t.Fatalf("the search found %d cases, want 1:\n%s", n, sam.text("#search-results"))
	}
	sam.do("merge a duplicate",
		goTo("#/case/"+dup.ID),
		chromedp.WaitVisible(chromedp.CSS("#merge-into")),
		chromedp.Sleep(1500*time.Millisecond), // the page redraws on the case's events; a value typed before is lost
		chromedp.SetValue(chromedp.CSS("#merge-into"), into.ID),
		chromedp.Click(chromedp.CSS("#merge")),
		waitText("#merged-into", into.ID),
	)
	sam.do("statistics", goTo("#/stats"), chromedp.WaitVisible(chromedp.CSS("#escalations")), waitText("#csat-comments", "Friendly and quick."))
	sam.screenshot("supervisor-statistics")

	// The compliance officer reads the trail in order and verifies the chain.
	carol := newPerson(t, chrome)
	signInAs(carol, s.url, "carol")
	carol.do("the case's trail",
		goTo("#/audit/"+c.ID),
		chromedp.WaitVisible(chromedp.CSS(`#trail li`)),
		chromedp.Click(chromedp.CSS("#verify")),
		waitText("#verify-result", "Chain intact"),
	)
	trail := carol.text("#trail")
	for _, want := range []string{"case.open", "case.escalate", "case.claim", reply} {
		if !contains(trail, want) {
			t.Fatalf("the trail lacks %q:\n%s", want, trail)
		}
	}
	if html, _ := chromedp.Run(carol.ctx, chromedp.OuterHTML(chromedp.CSS("main"))); contains(html, `id="claim"`) || contains(html, `id="reply-body"`) {
		t.Fatal("the compliance officer's page offers an agent's actions")
	}
	carol.screenshot("compliance-trail")
	// Exporting the signed trail needs a second factor: carol enrols one in
	// the page, and types a code when the export asks for it.
	carol.do("enrol a second factor", goTo("#/security"), chromedp.Click(chromedp.CSS("#enrol")), chromedp.WaitVisible(chromedp.CSS("#otpauth")))
	otpURL := carol.text("#otpauth")
	at := time.Now()
	carol.do("confirm it",
		chromedp.SendKeys(chromedp.CSS("#confirm-code"), totpCode(t, otpURL, at)),
		chromedp.Click(chromedp.CSS("#confirm-totp")),
		waitText("#status", "confirmed"),
	)
	carol.do("export the trail, asked for a code",
		goTo("#/audit/"+c.ID),
		chromedp.WaitVisible(chromedp.CSS("#export")),
		chromedp.Click(chromedp.CSS("#export")),
		chromedp.WaitVisible(chromedp.CSS("#stepup-code")),
		chromedp.SendKeys(chromedp.CSS("#stepup-code"), totpCode(t, otpURL, at.Add(30*time.Second))),
		chromedp.Click(chromedp.CSS(`#stepup-form button[type="submit"]`)),
		waitText("#status", "Exported"),
	)
	events, err := s.store.ListAudit(ctx, tenantA, store.AuditFilter{Action: "case.trail.export", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var exports []string
	for _, e := range events {
		exports = append(exports, e.ActorID+" "+e.Outcome)
	}
	if fmt.Sprint(exports) != "[carol success]" {
		t.Fatalf("the export's audit entries: %v", exports)
	}
	// In Chinese, the same page.
	carol.do("zh-Hans", chromedp.SetValue(chromedp.CSS("#lang"), "zh-Hans"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('lang').dispatchEvent(new Event('change'))`),
		waitText("#nav", "审计"), waitText("#verify", "验证审计链"), chromedp.Click(chromedp.CSS("#verify")), waitText("#verify-result", "审计链完整"))
	carol.screenshot("compliance-trail-zh-Hans")

	// A supervisor of globex signs in through the identity provider: none of
	// acme's cases is on any page they are served.
	idp.QueueUser(oidcPerson{sub: "gina", tenant: tenantB, roles: []string{"supervisor"}})
	gina := newPerson(t, chrome)
	gina.do("sign in with the identity provider",
		chromedp.Navigate(s.url+"/console"),
		chromedp.Click(chromedp.CSS("#oidc-login")),
		waitText("#who", "gina · "+tenantB),
		goTo("#/supervise"),
		chromedp.WaitVisible(chromedp.CSS("#sla-summary")),
	)
	for _, page := range []string{"#/supervise", "#/work", "#/stats"} {
		gina.do(page, goTo(page), chromedp.Sleep(500*time.Millisecond))
		if html, _ := chromedp.Run(gina.ctx, chromedp.OuterHTML(chromedp.CSS("main"))); contains(html, c.ID) || contains(html, rc.ID) || contains(html, "cust-42") {
			t.Fatalf("globex's %s shows acme's data", page)
		}
	}
	gina.do("acme's case by its address", goTo("#/case/"+c.ID), waitText("main .error", "Not found"))
}

// pngEncode writes a w×h PNG.
func pngEncode(w io.Writer, width, height int) error {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for x := range width {
		img.Set(x, x%height, color.RGBA{200, 30, 30, 255})
	}
	return png.Encode(w, img)
}
