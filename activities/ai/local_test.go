package ai

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"tandem/activities/ai/lang"
	"tandem/activities/store"
)

// memSource serves the demo knowledge base from memory, counting reads.
type memSource struct {
	version atomic.Int64
	arts    []store.Article
	reads   atomic.Int64
}

func (m *memSource) KBVersion(context.Context, string) (int64, error) { return m.version.Load(), nil }
func (m *memSource) PublishedArticles(context.Context, string) (int64, []store.Article, error) {
	m.reads.Add(1)
	return m.version.Load(), m.arts, nil
}

func demoSource(t testing.TB) *memSource {
	t.Helper()
	arts, err := DemoArticles()
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{}
	src.version.Store(1)
	for i, a := range arts {
		src.arts = append(src.arts, store.Article{ID: string(rune('a'+i)) + "-" + a.Intent + "-" + a.Locale, Intent: a.Intent, Title: a.Title,
			Answer: a.Answer, Questions: a.Questions, Locale: a.Locale, Domain: a.Domain, Version: 1, Published: true})
	}
	return src
}

func newDemoEngine(t testing.TB) (*Local, *memSource) {
	src := demoSource(t)
	eng, err := NewLocal(src, LocalOptions{RecheckEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	return eng, src
}

func TestLocalEngineAnswersInTheCustomersLanguage(t *testing.T) {
	eng, _ := newDemoEngine(t)
	tests := []struct {
		msg, intent, language, answerHas string
	}{
		{"Hi, my parcel still hasn't arrived, where is it?", "delivery_status", lang.English, "tracking link"},
		{"how long does a refund take", "refund_policy", lang.English, "30 days"},
		{"我的快递到哪里了？", "delivery_status", lang.Simplified, "物流链接"},
		{"我的快遞到哪裡了？", "delivery_status", lang.Traditional, "物流鏈接"}, // answered from zh-Hans, converted
		{"忘記密碼了，怎麼重設", "reset_password", lang.Traditional, "忘記密碼"},
		{"I forgot my password", "reset_password", lang.English, "Forgot password"},
	}
	for _, tt := range tests {
		res, err := eng.Respond(context.Background(), Request{TenantID: "t", Message: tt.msg})
		if err != nil {
			t.Fatal(err)
		}
		if res.Intent != tt.intent || res.Language != tt.language || res.OutOfScope {
			t.Errorf("%q: intent %q lang %q oos %v (confidence %.2f), want %q %q in scope", tt.msg, res.Intent, res.Language, res.OutOfScope, res.Confidence, tt.intent, tt.language)
		}
		if !contains(res.Answer, tt.answerHas) {
			t.Errorf("%q: answer %q does not contain %q", tt.msg, res.Answer, tt.answerHas)
		}
		if res.Engine != LocalEngineName || res.Model != "tfidf-1/kb-1" {
			t.Errorf("%q: engine %q model %q", tt.msg, res.Engine, res.Model)
		}
	}
}

func TestLocalEngineFlagsWhatItCannotAnswer(t *testing.T) {
	eng, _ := newDemoEngine(t)
	for _, msg := range []string{"What is the capital of Mongolia?", "Can you recommend a good film tonight?", "今天天气怎么样"} {
		res, err := eng.Respond(context.Background(), Request{TenantID: "t", Message: msg})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OutOfScope || res.Answer != "" {
			t.Errorf("%q: out of scope %v (confidence %.2f, intent %q), want out of scope with no answer", msg, res.OutOfScope, res.Confidence, res.Intent)
		}
	}
}

func TestLocalEngineSeesSeveralIntentsSensitiveTopicsAndRepeats(t *testing.T) {
	eng, _ := newDemoEngine(t)
	ctx := context.Background()
	res, _ := eng.Respond(ctx, Request{TenantID: "t", Message: "How do I cancel my order? Also, what payment methods do you accept?"})
	if !slices.Equal(res.Intents, []string{"cancel_order", "payment_methods"}) {
		t.Errorf("two questions: intents %v", res.Intents)
	}
	res, _ = eng.Respond(ctx, Request{TenantID: "t", Message: "Where is my parcel?"})
	if res.Intents != nil {
		t.Errorf("one question: intents %v, want none", res.Intents)
	}
	for msg, topic := range map[string]string{
		"There is an unauthorized transaction on my card, I think it is fraud": "fraud",
		"my account was hacked and someone changed the address":                "account_security",
		"我要找律师起诉你们":                                                            "legal",
		"我的账号被盗了":                                                              "account_security",
		"Where is my parcel?":                                                  "",
	} {
		res, _ := eng.Respond(ctx, Request{TenantID: "t", Message: msg})
		if res.SensitiveTopic != topic {
			t.Errorf("%q: topic %q, want %q", msg, res.SensitiveTopic, topic)
		}
	}
	res, _ = eng.Respond(ctx, Request{TenantID: "t", Message: "where is my parcel??", Previous: []string{"Where is my parcel?"}})
	if !res.Repeated {
		t.Error("the same question again is not noticed")
	}
	res, _ = eng.Respond(ctx, Request{TenantID: "t", Message: "how do I reset my password", Previous: []string{"Where is my parcel?"}})
	if res.Repeated {
		t.Error("a new question counted as a repeat")
	}
}

func TestEmotion(t *testing.T) {
	eng, _ := newDemoEngine(t)
	score := func(msg string) Emotion {
		return emotion(msg, eng.analyzer.Normalize(msg))
	}
	tests := []struct {
		msg  string
		want func(Emotion) bool
		what string
	}{
		{"This is absolutely unacceptable, I am furious!!!", func(e Emotion) bool { return e.Anger > 0.8 && e.Negativity > 0.8 }, "strong anger"},
		{"THIS IS THE WORST SERVICE EVER", func(e Emotion) bool { return e.Anger > 0.6 }, "shouting"},
		{"I am not angry, just asking where my parcel is", func(e Emotion) bool { return e.Anger < 0.1 }, "negated anger"},
		{"I'm really worried, I need this for my daughter's surgery tomorrow", func(e Emotion) bool { return e.Anxiety > 0.6 }, "anxiety"},
		{"so disappointed and sad 😢", func(e Emotion) bool { return e.Sadness > 0.7 }, "sadness with emoji"},
		{"Thanks, that was helpful!", func(e Emotion) bool { return e.Negativity < 0.1 }, "thanks"},
		{"气死我了，什么破服务！！", func(e Emotion) bool { return e.Anger > 0.8 }, "Chinese anger"},
		{"氣死我了，什麼破服務！！", func(e Emotion) bool { return e.Anger > 0.8 }, "Traditional anger"},
		{"我不生气，只是问一下", func(e Emotion) bool { return e.Anger < 0.1 }, "Chinese negation"},
		{"非常担心，怎么办", func(e Emotion) bool { return e.Anxiety > 0.7 }, "Chinese anxiety with intensifier"},
		{"谢谢，很满意", func(e Emotion) bool { return e.Negativity < 0.1 }, "Chinese thanks"},
	}
	for _, tt := range tests {
		if e := score(tt.msg); !tt.want(e) {
			t.Errorf("%s: %q scored %+v", tt.what, tt.msg, e)
		}
	}
}

func TestLocalEngineRebuildsItsIndexWhenTheKnowledgeBaseChanges(t *testing.T) {
	eng, src := newDemoEngine(t)
	ctx := context.Background()
	ask := func() Response {
		res, err := eng.Respond(ctx, Request{TenantID: "t", Message: "Do you have a loyalty programme?"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := ask(); !res.OutOfScope {
		t.Fatalf("loyalty before the article exists: %+v", res)
	}
	src.arts = append(src.arts, store.Article{ID: "loyalty", Intent: "loyalty", Title: "Loyalty programme", Answer: "Every order earns points.",
		Questions: []string{"Do you have a loyalty programme?", "How do I earn points?"}, Locale: "en", Domain: "general", Version: 1, Published: true})
	src.version.Store(2)
	if res := ask(); res.Intent != "loyalty" || res.Model != "tfidf-1/kb-2" {
		t.Fatalf("after the change: %+v", res)
	}
	reads := src.reads.Load()
	ask()
	if src.reads.Load() != reads {
		t.Error("the index was rebuilt though the knowledge base did not change")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
