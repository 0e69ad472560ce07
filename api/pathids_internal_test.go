package api

import (
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// Every path parameter of every route has its own rule: a new route with an
// ID nobody described fails here.
func TestEveryPathIDHasARule(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	h := New(Config{})
	for _, r := range h.(*gin.Engine).Routes() {
		for _, seg := range strings.Split(r.Path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				if _, _, ok := pathIDRule(r.Path, name); !ok {
					t.Errorf("%s %s: no rule for :%s in pathIDRules", r.Method, r.Path, name)
				}
			}
		}
	}
}
