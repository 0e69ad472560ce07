package ai

import (
	_ "embed"
	"encoding/json"
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
