package store_test

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"tandem/workflows"
)

// The database allows exactly the statuses the code writes: its checks and
// the Go lists are one set each, for cases, refunds and message authors.
func TestStatusChecksMatchTheCode(t *testing.T) {
	st := newStore(t)
	quoted := regexp.MustCompile(`'([a-z_]+)'::text`)
	for _, tc := range []struct {
		constraint string
		want       []string
	}{
		{"cases_status_check", workflows.Statuses},
		{"refunds_status_check", workflows.RefundStatuses},
		{"messages_author_kind_check", []string{workflows.AuthorCustomer, workflows.AuthorAI, workflows.AuthorAgent, workflows.AuthorSystem}},
	} {
		var def string
		if err := st.DB().WithContext(context.Background()).Raw(`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = ?`,
			tc.constraint).Scan(&def).Error; err != nil || def == "" {
			t.Fatalf("%s: %q %v", tc.constraint, def, err)
		}
		var allowed []string
		for _, m := range quoted.FindAllStringSubmatch(def, -1) {
			allowed = append(allowed, m[1])
		}
		slices.Sort(allowed)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(allowed, want) {
			t.Errorf("%s allows %v; the code writes %v", tc.constraint, allowed, want)
		}
	}
}
