package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tandem/activities/ai"
	"tandem/activities/store"
)

// ArticleRequest is the body of POST /v1/kb/articles and PUT /v1/kb/articles/{id}
// (where intent and locale, which identify the article, cannot change), and
// one line of POST /v1/kb/import.
type ArticleRequest struct {
	Intent    string   `json:"intent"`
	Locale    string   `json:"locale"`
	Title     string   `json:"title"`
	Answer    string   `json:"answer"`
	Questions []string `json:"questions"`
	Domain    string   `json:"domain"`
	Tags      []string `json:"tags"`
	Published bool     `json:"published"`
}

// Limits of the knowledge base.
const (
	maxArticleTitle   = 200
	maxArticleAnswer  = 8000
	maxQuestions      = 200
	maxQuestionRunes  = 500
	maxTags           = 20
	maxImportLines    = 2000
	maxImportBodySize = 8 << 20
)

var (
	kbLocales = []string{"en", "zh-Hans", "zh-Hant"}
	kbSlug    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
)

func (r *ArticleRequest) normalise() {
	r.Intent, r.Title, r.Domain = strings.TrimSpace(r.Intent), strings.TrimSpace(r.Title), strings.TrimSpace(r.Domain)
	if r.Domain == "" {
		r.Domain = "general"
	}
	qs := r.Questions[:0:0]
	for _, q := range r.Questions {
		if q = strings.TrimSpace(q); q != "" && !slices.Contains(qs, q) {
			qs = append(qs, q)
		}
	}
	r.Questions = qs
}

func (r ArticleRequest) validate(prefix string) []FieldError {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{prefix + field, msg}) }
	if !kbSlug.MatchString(r.Intent) {
		bad("intent", "lower-case letters, digits, _ . - (up to 64), starting with a letter or digit")
	}
	if !slices.Contains(kbLocales, r.Locale) {
		bad("locale", "one of "+strings.Join(kbLocales, ", "))
	}
	if r.Title == "" || utf8.RuneCountInString(r.Title) > maxArticleTitle {
		bad("title", "is required, at most 200 characters")
	}
	if strings.TrimSpace(r.Answer) == "" || utf8.RuneCountInString(r.Answer) > maxArticleAnswer {
		bad("answer", "is required, at most 8000 characters")
	}
	if len(r.Questions) > maxQuestions {
		bad("questions", "at most 200")
	}
	for _, q := range r.Questions {
		if utf8.RuneCountInString(q) > maxQuestionRunes {
			bad("questions", "each at most 500 characters")
			break
		}
	}
	if !kbSlug.MatchString(r.Domain) {
		bad("domain", "general, finance, medical, legal or another lower-case name")
	}
	if len(r.Tags) > maxTags {
		bad("tags", "at most 20")
	}
	for _, t := range r.Tags {
		if !kbSlug.MatchString(t) {
			bad("tags", "lower-case names")
			break
		}
	}
	return errs
}

func (r ArticleRequest) article(tenant, id string) store.Article {
	return store.Article{TenantID: tenant, ID: id, Intent: r.Intent, Locale: r.Locale, Title: r.Title, Answer: r.Answer,
		Questions: r.Questions, Domain: r.Domain, Tags: r.Tags, Published: r.Published}
}

func articleDetails(a store.Article) map[string]string {
	return map[string]string{"intent": a.Intent, "locale": a.Locale, "version": strconv.FormatInt(a.Version, 10),
		"published": strconv.FormatBool(a.Published), "questions": strconv.Itoa(len(a.Questions))}
}

func (s *Server) createArticle(c *gin.Context) error {
	var req ArticleRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.normalise()
	if errs := req.validate(""); len(errs) > 0 {
		return validationError(errs)
	}
	var out store.Article
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if out, err = tx.CreateArticle(c.Request.Context(), req.article(principalOf(c).Tenant, uuid.NewString())); err != nil {
			return err
		}
		return s.auditTx(c, tx, "kb.create", "kb_article", out.ID, articleDetails(out))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"article": out})
	return nil
}

func (s *Server) updateArticle(c *gin.Context) error {
	cur, err := s.store.GetArticle(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if err != nil {
		return err
	}
	var req ArticleRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	// Intent and locale identify the article; leaving them out keeps them.
	if req.Intent == "" {
		req.Intent = cur.Intent
	}
	if req.Locale == "" {
		req.Locale = cur.Locale
	}
	req.normalise()
	errs := req.validate("")
	if req.Intent != cur.Intent || req.Locale != cur.Locale {
		errs = append(errs, FieldError{"intent", "intent and locale cannot change; create another article"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	return s.saveArticle(c, "kb.update", req.article(cur.TenantID, cur.ID))
}

// saveArticle writes a changed article and its audit entry in one transaction.
func (s *Server) saveArticle(c *gin.Context, action string, a store.Article) error {
	var out store.Article
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if out, err = tx.UpdateArticle(c.Request.Context(), a); err != nil {
			return err
		}
		return s.auditTx(c, tx, action, "kb_article", out.ID, articleDetails(out))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"article": out})
	return nil
}

// publishArticle puts an article in front of the engine (publish) or takes
// it away (unpublish); doing it twice changes nothing.
func (s *Server) publishArticle(publish bool) handlerFunc {
	action := map[bool]string{true: "kb.publish", false: "kb.unpublish"}[publish]
	return func(c *gin.Context) error {
		cur, err := s.store.GetArticle(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
		if err != nil {
			return err
		}
		if cur.Published == publish {
			c.JSON(http.StatusOK, gin.H{"article": cur})
			return nil
		}
		cur.Published = publish
		return s.saveArticle(c, action, cur)
	}
}

func (s *Server) getArticle(c *gin.Context) error {
	a, err := s.store.GetArticle(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"article": a})
	return nil
}

func (s *Server) listArticles(c *gin.Context) error {
	f := store.ArticleFilter{Locale: c.Query("locale"), Domain: c.Query("domain"), Intent: c.Query("intent"), After: c.Query("cursor")}
	var errs []FieldError
	if f.Locale != "" && !slices.Contains(kbLocales, f.Locale) {
		errs = append(errs, FieldError{"locale", "one of " + strings.Join(kbLocales, ", ")})
	}
	switch p := c.Query("published"); p {
	case "":
	case "true", "false":
		v := p == "true"
		f.Published = &v
	default:
		errs = append(errs, FieldError{"published", "true or false"})
	}
	var limitErr *FieldError
	if f.Limit, limitErr = pageLimit(c, defaultPageSize, maxPageSize); limitErr != nil {
		errs = append(errs, *limitErr)
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	arts, next, err := s.store.ListArticles(c.Request.Context(), principalOf(c).Tenant, f)
	if err != nil {
		return err
	}
	if arts == nil {
		arts = []store.Article{}
	}
	c.JSON(http.StatusOK, gin.H{"articles": arts, "next_cursor": next})
	return nil
}

// importArticles takes JSON lines, one ArticleRequest each, and creates or
// replaces (by intent and locale) every article in one transaction: all
// lines are validated first, and one bad line imports nothing.
func (s *Server) importArticles(c *gin.Context) error {
	var reqs []ArticleRequest
	var errs []FieldError
	sc := bufio.NewScanner(c.Request.Body)
	sc.Buffer(make([]byte, 64<<10), maxImportBodySize)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		if len(reqs) == maxImportLines {
			return validationError([]FieldError{{"body", fmt.Sprintf("at most %d articles per import", maxImportLines)}})
		}
		var req ArticleRequest
		if !utf8.Valid(raw) {
			errs = append(errs, FieldError{fmt.Sprintf("line %d", line), "must be valid UTF-8"})
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			errs = append(errs, FieldError{fmt.Sprintf("line %d", line), "is not an article object: " + jsonProblem(err)})
			continue
		}
		if field, why := textProblem(&req); why != "" {
			errs = append(errs, FieldError{fmt.Sprintf("line %d: %s", line, field), why})
			continue
		}
		req.normalise()
		errs = append(errs, req.validate(fmt.Sprintf("line %d: ", line))...)
		reqs = append(reqs, req)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return errorf(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("line %d is longer than an import may be", line+1))
		}
		return requestBodyError(err)
	}
	if len(errs) > 0 || len(reqs) == 0 {
		if len(reqs) == 0 && len(errs) == 0 {
			errs = []FieldError{{"body", "no articles: one JSON object per line"}}
		}
		return validationError(errs)
	}
	tenant := principalOf(c).Tenant
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		for _, r := range reqs {
			if _, err := tx.PutArticle(c.Request.Context(), r.article(tenant, uuid.NewString())); err != nil {
				return err
			}
		}
		return s.auditTx(c, tx, "kb.import", "kb", tenant, map[string]string{"articles": strconv.Itoa(len(reqs))})
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"imported": len(reqs)})
	return nil
}

// jsonProblem says what is wrong with a line without echoing its content.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "malformed JSON"
	case errors.As(err, &typeErr):
		return typeErr.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}

// searchKB shows how the engine reads a question against the tenant's
// published articles: the console for whoever curates the knowledge base.
func (s *Server) searchKB(c *gin.Context) error {
	q := strings.TrimSpace(c.Query("q"))
	if q == "" || utf8.RuneCountInString(q) > maxQuestionRunes {
		return validationError([]FieldError{{"q", "is required, at most 500 characters"}})
	}
	if s.ai == nil {
		return errUnavailable
	}
	res, err := s.ai.Respond(c.Request.Context(), ai.Request{TenantID: principalOf(c).Tenant, Message: q})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"result": res})
	return nil
}
