package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Article is a knowledge-base entry.
type Article struct {
	TenantID  string    `json:"tenant_id"`
	ID        string    `json:"id"`
	Intent    string    `json:"intent"`
	Title     string    `json:"title"`
	Answer    string    `json:"answer"`
	Questions []string  `json:"questions" gorm:"serializer:json"`
	Locale    string    `json:"locale"`
	Domain    string    `json:"domain"`
	Tags      []string  `json:"tags" gorm:"serializer:json"`
	Version   int64     `json:"version"`
	Published bool      `json:"published"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TableName is the articles' table.
func (Article) TableName() string { return "kb_articles" }

// PutArticle creates an article, or replaces the one with its ID (or with
// its intent and locale), raising its version and the tenant's knowledge-base
// version in one transaction.
func (s *Store) PutArticle(ctx context.Context, a Article) (Article, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	questions, err := json.Marshal(nonNil(a.Questions))
	if err != nil {
		return Article{}, err
	}
	tags, err := json.Marshal(nonNil(a.Tags))
	if err != nil {
		return Article{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`
INSERT INTO kb_articles (tenant_id, id, intent, title, answer, questions, locale, domain, tags, version, published, created_at, updated_at)
VALUES (@tenant, @id, @intent, @title, @answer, @questions, @locale, @domain, @tags, 1, @published, @now, @now)
ON CONFLICT (tenant_id, intent, locale) DO UPDATE SET
    title = excluded.title, answer = excluded.answer, questions = excluded.questions, domain = excluded.domain,
    tags = excluded.tags, published = excluded.published, updated_at = excluded.updated_at,
    version = kb_articles.version + 1
RETURNING id, version, created_at, updated_at`,
			map[string]any{"tenant": a.TenantID, "id": a.ID, "intent": a.Intent, "title": a.Title, "answer": a.Answer,
				"questions": string(questions), "locale": a.Locale, "domain": a.Domain, "tags": string(tags),
				"published": a.Published, "now": now}).
			Row().Scan(&a.ID, &a.Version, &a.CreatedAt, &a.UpdatedAt); err != nil {
			return fmt.Errorf("put article: %w", err)
		}
		return bumpKBVersion(tx, a.TenantID)
	})
	return a, err
}

func bumpKBVersion(tx *gorm.DB, tenantID string) error {
	err := tx.Exec(`INSERT INTO kb_versions (tenant_id, version) VALUES (?, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET version = kb_versions.version + 1`, tenantID).Error
	if err != nil {
		return fmt.Errorf("knowledge-base version: %w", err)
	}
	return nil
}

// KBVersion is the tenant's knowledge-base version: it changes whenever an
// article does (0 for a tenant with none).
func (s *Store) KBVersion(ctx context.Context, tenantID string) (int64, error) {
	var v []int64
	if err := s.db.WithContext(ctx).Raw("SELECT version FROM kb_versions WHERE tenant_id = ?", tenantID).Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("knowledge-base version: %w", err)
	}
	if len(v) == 0 {
		return 0, nil
	}
	return v[0], nil
}

// PublishedArticles returns the tenant's published articles and the
// knowledge-base version they belong to, read in one snapshot.
func (s *Store) PublishedArticles(ctx context.Context, tenantID string) (int64, []Article, error) {
	var version int64
	var arts []Article
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var v []int64
		if err := tx.Raw("SELECT version FROM kb_versions WHERE tenant_id = ?", tenantID).Scan(&v).Error; err != nil {
			return err
		}
		if len(v) > 0 {
			version = v[0]
		}
		return tx.Where("tenant_id = ? AND published", tenantID).Order("intent, locale").Find(&arts).Error
	}, repeatableRead)
	if err != nil {
		return 0, nil, fmt.Errorf("published articles: %w", err)
	}
	return version, arts, nil
}

// repeatableRead reads several statements from one snapshot.
var repeatableRead = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ErrArticleExists: the tenant has an article for that intent and locale.
var ErrArticleExists = errors.New("an article for this intent and locale exists")

// CreateArticle adds an article; ErrArticleExists if its intent and locale
// are taken.
func (s *Store) CreateArticle(ctx context.Context, a Article) (Article, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	a.Version, a.CreatedAt, a.UpdatedAt = 1, now, now
	a.Questions, a.Tags = nonNil(a.Questions), nonNil(a.Tags)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&a)
		if res.Error != nil {
			return fmt.Errorf("create article: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrArticleExists
		}
		return bumpKBVersion(tx, a.TenantID)
	})
	return a, err
}

// UpdateArticle replaces an article's content (not its intent or locale)
// and raises its version; ErrNotFound if the tenant has no such article.
func (s *Store) UpdateArticle(ctx context.Context, a Article) (Article, error) {
	var out Article
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Article{}).Where("tenant_id = ? AND id = ?", a.TenantID, a.ID).Updates(map[string]any{
			"title": a.Title, "answer": a.Answer, "questions": jsonText(a.Questions), "domain": a.Domain,
			"tags": jsonText(a.Tags), "published": a.Published, "version": gorm.Expr("version + 1"),
			"updated_at": time.Now().UTC().Truncate(time.Microsecond),
		})
		if res.Error != nil {
			return fmt.Errorf("update article: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return NotFound("article")
		}
		if err := tx.Where("tenant_id = ? AND id = ?", a.TenantID, a.ID).Take(&out).Error; err != nil {
			return err
		}
		return bumpKBVersion(tx, a.TenantID)
	})
	return out, err
}

func jsonText(xs []string) string {
	b, _ := json.Marshal(nonNil(xs)) // a slice of strings always marshals
	return string(b)
}

// GetArticle returns one of the tenant's articles.
func (s *Store) GetArticle(ctx context.Context, tenantID, id string) (Article, error) {
	var a Article
	if !validUUID(id) {
		return a, NotFound("article")
	}
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return a, NotFound("article")
	}
	if err != nil {
		return a, fmt.Errorf("get article: %w", err)
	}
	return a, nil
}

// ArticleFilter narrows ListArticles; empty fields match everything.
type ArticleFilter struct {
	Locale, Domain, Intent string
	Published              *bool
	After                  string // cursor: the last ID of the previous page
	Limit                  int
}

// ListArticles returns the tenant's articles by ID, a page at a time, and the
// cursor of the next page ("" at the end).
func (s *Store) ListArticles(ctx context.Context, tenantID string, f ArticleFilter) ([]Article, string, error) {
	q := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID)
	if f.Locale != "" {
		q = q.Where("locale = ?", f.Locale)
	}
	if f.Domain != "" {
		q = q.Where("domain = ?", f.Domain)
	}
	if f.Intent != "" {
		q = q.Where("intent = ?", f.Intent)
	}
	if f.Published != nil {
		q = q.Where("published = ?", *f.Published)
	}
	if f.After != "" {
		if !validUUID(f.After) {
			return nil, "", ErrBadCursor
		}
		q = q.Where("id > ?", f.After)
	}
	var out []Article
	if err := q.Order("id").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, "", fmt.Errorf("list articles: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}
