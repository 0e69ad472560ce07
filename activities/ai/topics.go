package ai

import (
	"strings"

	"tandem/activities/ai/lang"
)

// Sensitive topics: questions a regulated business answers through a person,
// or only from vetted articles. Checked in this order; the first one found
// is reported.
var sensitiveTopics = []struct {
	topic string
	en    []string // whole words or phrases, lower case
	zh    []string // Simplified; matched anywhere
}{
	{"fraud",
		[]string{"fraud", "fraudulent", "scammed", "stolen card", "card was stolen", "unauthorized transaction", "unauthorised transaction",
			"unauthorized payment", "unauthorised payment", "didn't make this payment", "did not make this payment", "identity theft", "phishing"},
		[]string{"诈骗", "盗刷", "被骗", "冒用", "钓鱼", "身份盗用", "不是我本人", "非本人"}},
	{"account_security",
		[]string{"hacked", "compromised", "someone logged in", "someone else logged", "password stolen", "account takeover", "locked out of my account"},
		[]string{"被盗", "被黑", "盗号", "异常登录", "密码被改", "账号被"}},
	{"medical",
		[]string{"diagnosis", "prescription", "symptom", "symptoms", "medication", "dosage", "side effect", "side effects",
			"allergic reaction", "pregnant", "overdose", "chest pain"},
		[]string{"诊断", "处方", "症状", "剂量", "副作用", "过敏反应", "怀孕", "吃药", "用药", "胸痛"}},
	{"legal",
		[]string{"lawyer", "attorney", "solicitor", "sue", "suing", "lawsuit", "court", "legal action", "small claims"},
		[]string{"律师", "起诉", "法院", "诉讼", "法律途径", "打官司"}},
	{"complaint",
		[]string{"formal complaint", "ombudsman", "regulator", "appeal the decision", "appeal this decision", "complain about the decision",
			"report you to"},
		[]string{"投诉", "申诉", "监管部门", "消协", "12315", "银保监"}},
	{"vulnerable_customer",
		[]string{"passed away", "bereavement", "died", "funeral", "suicidal", "self harm", "can't afford to eat", "domestic abuse"},
		[]string{"去世", "过世", "丧事", "自杀", "轻生", "家暴"}},
}

// sensitiveTopic returns the first sensitive topic the normalized text raises, or "".
func sensitiveTopic(normalized string) string {
	padded := " " + strings.Join(lang.Words(normalized), " ") + " "
	for _, t := range sensitiveTopics {
		for _, p := range t.en {
			if strings.Contains(padded, " "+p+" ") {
				return t.topic
			}
		}
		for _, p := range t.zh {
			if strings.Contains(normalized, p) {
				return t.topic
			}
		}
	}
	return ""
}
