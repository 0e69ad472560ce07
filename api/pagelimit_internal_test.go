package api

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestPageLimit(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  int
		bad   bool
	}{
		{"", 20, false},
		{"limit=1", 1, false},
		{"limit=100", 100, false},
		{"limit=101", 0, true},
		{"limit=0", 0, true},
		{"limit=-3", 0, true},
		{"limit=ten", 0, true},
		{"limit=1e2", 0, true},
		{"limit=99999999999999999999", 0, true},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/v1/cases?"+tc.query, nil)
		got, err := pageLimit(c, 20, 100)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("%q: %d, %v; want %d, refused %v", tc.query, got, err, tc.want, tc.bad)
		}
		if err != nil && (err.Field != "limit" || err.Message != "must be a whole number from 1 to 100") {
			t.Errorf("%q: refused as %+v", tc.query, err)
		}
	}
}
