package ai

import (
	"context"
	_ "embed"
	"encoding/json"

	"github.com/google/uuid"

	"tandem/activities/store"
)

//go:embed demo_kb.json
var demoKB []byte

// DemoArticles is the small shop knowledge base `tandem seed` gives the demo
// tenant, in English and Simplified Chinese (Traditional is converted).
func DemoArticles() ([]Article, error) {
	var arts []Article
	if err := json.Unmarshal(demoKB, &arts); err != nil {
		return nil, err
	}
	return arts, nil
}

// SeedDemo gives a tenant with an empty knowledge base the demo articles,
// published, and reports how many it wrote (none if the tenant has a
// knowledge base already: seeding never overwrites an administrator's work).
func SeedDemo(ctx context.Context, st *store.Store, tenantID string) (int, error) {
	v, err := st.KBVersion(ctx, tenantID)
	if err != nil || v > 0 {
		return 0, err
	}
	arts, err := DemoArticles()
	if err != nil {
		return 0, err
	}
	for _, a := range arts {
		if _, err := st.PutArticle(ctx, store.Article{TenantID: tenantID, ID: uuid.NewString(), Intent: a.Intent, Title: a.Title,
			Answer: a.Answer, Questions: a.Questions, Locale: a.Locale, Domain: a.Domain, Published: true}); err != nil {
			return 0, err
		}
	}
	return len(arts), nil
}
