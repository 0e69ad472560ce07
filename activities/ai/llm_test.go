package ai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLLM speaks the chat-completions protocol; reply decides each answer
// and it keeps every request body it was sent.
type fakeLLM struct {
	mu     sync.Mutex
	bodies []string
	reply  func(w http.ResponseWriter, system, user string)
}

func (f *fakeLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(raw))
	f.mu.Unlock()
	if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer test-key" {
		http.Error(w, "wrong path or key", http.StatusUnauthorized)
		return
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(raw, &req); err != nil || req.Model != "test-model" || len(req.Messages) != 2 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.reply(w, req.Messages[0].Content, req.Messages[1].Content)
}

func completion(w http.ResponseWriter, content string) {
	_ = json.NewEncoder(w).Encode(map[string]any{"choices": []map[string]any{{"message": map[string]string{"role": "assistant", "content": content}}}})
}

func newLLM(t *testing.T, f *fakeLLM, timeout time.Duration) *LLM {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	local, _ := newDemoEngine(t)
	e, err := NewLLM(LLMConfig{BaseURL: srv.URL + "/v1", Model: "test-model", APIKey: "test-key", Timeout: timeout}, local)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLLMAnswersFromTheArticlesWithCitations(t *testing.T) {
	f := &fakeLLM{}
	f.reply = func(w http.ResponseWriter, system, user string) {
		// The model is grounded: it sees the retrieved article and cites it.
		arts := system[strings.Index(system, "Articles:\n[")+len("Articles:\n["):]
		id := arts[:strings.Index(arts, "]")]
		completion(w, "Use the tracking link in your dispatch e-mail ["+id+"].")
	}
	e := newLLM(t, f, time.Second)
	res, err := e.Respond(context.Background(), Request{TenantID: "t", Message: "Where is my parcel? Mail me at ann@example.com or call +44 20 7946 0958, card 4111 1111 1111 1111"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != LLMEngineName || res.Model != "test-model" || res.Answer != "Use the tracking link in your dispatch e-mail." {
		t.Fatalf("answer: %+v", res)
	}
	if len(res.Citations) != 1 || res.Citations[0] != res.ArticleID || res.Intent != "delivery_status" {
		t.Fatalf("citations %v article %s intent %s", res.Citations, res.ArticleID, res.Intent)
	}
	sent := strings.Join(f.bodies, "\n")
	for _, secret := range []string{"ann@example.com", "7946", "4111"} {
		if strings.Contains(sent, secret) {
			t.Fatalf("%q left for the model: %s", secret, sent)
		}
	}
	if !strings.Contains(sent, "[EMAIL]") || !strings.Contains(sent, "[PHONE]") || !strings.Contains(sent, "[CARD]") {
		t.Fatalf("redaction marks missing: %s", sent)
	}
}

// Staff notes the tenant gives the AI are in the model's instructions,
// redacted as the customer's words are, one line each.
func TestLLMSeesTheStaffsNotes(t *testing.T) {
	f := &fakeLLM{}
	var system string
	f.reply = func(w http.ResponseWriter, sys, user string) {
		system = sys
		completion(w, "Use the tracking link in your dispatch e-mail.")
	}
	e := newLLM(t, f, time.Second)
	notes := []string{"Gold customer:\nexpress courier applies.", "Call them on +44 20 7946 0958."}
	if _, err := e.Respond(context.Background(), Request{TenantID: "t", Message: "Where is my parcel?", Notes: notes}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(system, "- Gold customer: express courier applies.\n") || !strings.Contains(system, "- Call them on [PHONE].\n") || strings.Contains(system, "7946") {
		t.Fatalf("instructions:\n%s", system)
	}
	if _, err := e.Respond(context.Background(), Request{TenantID: "t", Message: "Where is my parcel?"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(system, "Staff notes") {
		t.Fatalf("notes announced with none given:\n%s", system)
	}
}

// Whatever goes wrong with the model, the customer gets the local engine's
// answer at once, and the decision records why.
func TestLLMFallsBackToTheLocalEngine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(w http.ResponseWriter, system, user string)
		want  string
	}{
		{"timeout", func(w http.ResponseWriter, _, _ string) { time.Sleep(300 * time.Millisecond); completion(w, "late") }, FallbackTimeout},
		{"rate limited", func(w http.ResponseWriter, _, _ string) { http.Error(w, "slow down", http.StatusTooManyRequests) }, FallbackRefused},
		{"server error", func(w http.ResponseWriter, _, _ string) { http.Error(w, "oops", http.StatusBadGateway) }, FallbackRefused},
		{"malformed", func(w http.ResponseWriter, _, _ string) { _, _ = w.Write([]byte(`{"choices":`)) }, FallbackMalformed},
		{"no choices", func(w http.ResponseWriter, _, _ string) { _, _ = w.Write([]byte(`{"choices":[]}`)) }, FallbackMalformed},
		{"promises a refund", func(w http.ResponseWriter, _, _ string) { completion(w, "Don't worry, we will refund you tomorrow.") }, FallbackGuardrail},
		{"promises in Chinese", func(w http.ResponseWriter, _, _ string) { completion(w, "我们会在明天给您退款。") }, FallbackGuardrail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newLLM(t, &fakeLLM{reply: tc.reply}, 150*time.Millisecond)
			start := time.Now()
			res, err := e.Respond(context.Background(), Request{TenantID: "t", Message: "Where is my parcel?"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Engine != LocalEngineName || res.Fallback != tc.want || !strings.Contains(res.Answer, "tracking link") {
				t.Fatalf("got %+v, want the local answer with fallback %q", res, tc.want)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("the customer waited %v", time.Since(start))
			}
		})
	}
}

func TestLLMNeverAnswersOutsideTheKnowledgeBase(t *testing.T) {
	f := &fakeLLM{reply: func(w http.ResponseWriter, _, _ string) { completion(w, "Ulaanbaatar.") }}
	e := newLLM(t, f, time.Second)
	res, _ := e.Respond(context.Background(), Request{TenantID: "t", Message: "What is the capital of Mongolia?"})
	if !res.OutOfScope || res.Answer != "" || len(f.bodies) != 0 {
		t.Fatalf("out of scope: %+v, %d calls to the model", res, len(f.bodies))
	}
	f.reply = func(w http.ResponseWriter, _, _ string) { completion(w, "NO_ANSWER") }
	res, _ = e.Respond(context.Background(), Request{TenantID: "t", Message: "Where is my parcel?"})
	if !res.OutOfScope || res.Answer != "" {
		t.Fatalf("the model found no answer in the articles: %+v", res)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"mail ann.lee+x@example.co.uk now": "mail [EMAIL] now",
		"身份证 11010519491231002X":           "身份证 [ID]",
		"card 5500-0000-0000-0004 ok":      "card [CARD] ok",
		"call 138 0013 8000":               "call [PHONE]",
		"order 1001 arrived":               "order 1001 arrived",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
