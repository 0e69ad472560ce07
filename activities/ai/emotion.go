package ai

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"tandem/activities/ai/lang"
)

// Emotion holds per-message scores from 0 (none) to 1 (extreme).
type Emotion struct {
	Anger      float64 `json:"anger"`
	Anxiety    float64 `json:"anxiety"` // anxiety and fear
	Sadness    float64 `json:"sadness"`
	Negativity float64 `json:"negativity"` // dissatisfaction of any kind, a complaint included
	Distress   float64 `json:"distress"`   // the strongest of anger, anxiety and sadness: what hands a case to people
}

type feeling int

const (
	anger feeling = iota
	anxiety
	sadness
	negative // dissatisfaction without a named emotion
	positive
	feelings
)

// cue is one lexicon entry: what it signals and how strongly (about 1 for a
// clear word, less for a weak one).
type cue struct {
	f feeling
	w float64
}

// The lexicons were written for Tandem. English entries are whole words or
// phrases; Chinese entries are matched in Simplified script anywhere.
var (
	lexEN = map[string]cue{
		"angry": {anger, 1.2}, "furious": {anger, 1.6}, "outraged": {anger, 1.5}, "livid": {anger, 1.5},
		"ridiculous": {anger, 1}, "unacceptable": {anger, 1.2}, "disgusting": {anger, 1.2}, "disgraceful": {anger, 1.2},
		"hate": {anger, 1}, "worst": {anger, 1}, "useless": {anger, 1}, "pathetic": {anger, 1.1},
		"incompetent": {anger, 1.1}, "scam": {anger, 1.1}, "rip off": {anger, 1.1}, "ripoff": {anger, 1.1},
		"fed up": {anger, 1.1}, "sick of": {anger, 1}, "sick and tired": {anger, 1.3}, "infuriating": {anger, 1.4},
		"rude": {anger, 0.9}, "stupid": {anger, 0.9}, "idiots": {anger, 1.1}, "wtf": {anger, 1.2}, "damn": {anger, 0.7},
		"annoyed": {anger, 0.8}, "annoying": {anger, 0.8}, "frustrated": {anger, 0.9}, "frustrating": {anger, 0.9},
		"mad": {anger, 0.9}, "shameful": {anger, 1}, "joke": {anger, 0.5}, "lied": {anger, 1}, "liars": {anger, 1.2},
		"terrible": {negative, 1}, "awful": {negative, 1}, "horrible": {negative, 1.1}, "appalling": {anger, 1.2},
		"worried": {anxiety, 1}, "worry": {anxiety, 0.8}, "anxious": {anxiety, 1.1}, "scared": {anxiety, 1.1},
		"afraid": {anxiety, 1}, "nervous": {anxiety, 0.9}, "panic": {anxiety, 1.3}, "panicking": {anxiety, 1.4},
		"desperate": {anxiety, 1.2}, "concerned": {anxiety, 0.7}, "frightened": {anxiety, 1.2}, "terrified": {anxiety, 1.5},
		"stressed": {anxiety, 1}, "emergency": {anxiety, 1}, "urgent": {anxiety, 0.7}, "urgently": {anxiety, 0.7},
		"asap": {anxiety, 0.6}, "fear": {anxiety, 0.9}, "uneasy": {anxiety, 0.8}, "help me": {anxiety, 0.6},
		"sad": {sadness, 1}, "upset": {sadness, 0.9}, "disappointed": {sadness, 1}, "disappointing": {sadness, 0.9},
		"heartbroken": {sadness, 1.4}, "unhappy": {sadness, 0.9}, "depressed": {sadness, 1.2}, "miserable": {sadness, 1.2},
		"crying": {sadness, 1.1}, "devastated": {sadness, 1.4}, "hopeless": {sadness, 1.2}, "let down": {sadness, 1},
		"bad": {negative, 0.6}, "poor": {negative, 0.6}, "broken": {negative, 0.6}, "wrong": {negative, 0.5},
		"failed": {negative, 0.5}, "delayed": {negative, 0.5}, "late": {negative, 0.4}, "lost": {negative, 0.5},
		"missing": {negative, 0.4}, "cancelled": {negative, 0.4}, "never": {negative, 0.3}, "complaint": {negative, 0.7},
		"waste": {negative, 0.8}, "fail": {negative, 0.5}, "again": {negative, 0.2}, "still": {negative, 0.2},
		"thanks": {positive, 0.8}, "thank": {positive, 0.8}, "great": {positive, 1}, "love": {positive, 1},
		"excellent": {positive, 1.2}, "perfect": {positive, 1}, "awesome": {positive, 1.1}, "happy": {positive, 1},
		"good": {positive, 0.7}, "helpful": {positive, 0.9}, "amazing": {positive, 1.1}, "appreciate": {positive, 0.9},
	}
	lexZH = map[string]cue{
		"生气": {anger, 1.2}, "气死": {anger, 1.6}, "愤怒": {anger, 1.5}, "恼火": {anger, 1.2}, "火大": {anger, 1.3},
		"垃圾": {anger, 1.2}, "骗子": {anger, 1.4}, "欺骗": {anger, 1.2}, "忽悠": {anger, 1}, "坑人": {anger, 1.2},
		"恶心": {anger, 1.2}, "离谱": {anger, 1}, "受够": {anger, 1.3}, "过分": {anger, 1}, "可恶": {anger, 1.2},
		"讨厌": {anger, 0.9}, "无语": {anger, 0.8}, "混蛋": {anger, 1.5}, "滚": {anger, 0.8}, "差劲": {anger, 1},
		"态度差": {anger, 1}, "太差": {anger, 1}, "什么破": {anger, 1.1}, "破玩意": {anger, 1.2}, "烂": {negative, 0.8},
		"投诉": {anger, 0.8}, "不满": {anger, 0.8}, "不爽": {anger, 0.9}, "怒": {anger, 1}, "凭什么": {anger, 1},
		"着急": {anxiety, 1}, "急死": {anxiety, 1.5}, "担心": {anxiety, 1}, "害怕": {anxiety, 1.1}, "焦虑": {anxiety, 1.2},
		"紧张": {anxiety, 0.9}, "恐慌": {anxiety, 1.3}, "怎么办": {anxiety, 0.9}, "慌": {anxiety, 0.9}, "不安": {anxiety, 0.9},
		"救命": {anxiety, 1.3}, "赶紧": {anxiety, 0.6}, "尽快": {anxiety, 0.5}, "怕": {anxiety, 0.7}, "急": {anxiety, 0.6},
		"恐惧": {anxiety, 1.3}, "吓": {anxiety, 0.9},
		"伤心": {sadness, 1.1}, "难过": {sadness, 1.1}, "失望": {sadness, 1}, "郁闷": {sadness, 0.9}, "痛苦": {sadness, 1.2},
		"哭": {sadness, 1}, "委屈": {sadness, 1}, "绝望": {sadness, 1.4}, "心寒": {sadness, 1.2}, "沮丧": {sadness, 1.1},
		"遗憾": {sadness, 0.7}, "悲": {sadness, 1},
		"不好": {negative, 0.7}, "差": {negative, 0.6}, "慢": {negative, 0.4}, "难吃": {negative, 0.9}, "没收到": {negative, 0.6},
		"丢失": {negative, 0.6}, "坏了": {negative, 0.6}, "错": {negative, 0.4}, "失败": {negative, 0.5}, "糟糕": {negative, 1},
		"问题": {negative, 0.2}, "还没": {negative, 0.3}, "一直": {negative, 0.2}, "又": {negative, 0.2}, "难用": {negative, 0.9},
		"谢谢": {positive, 0.8}, "感谢": {positive, 0.9}, "满意": {positive, 1}, "好吃": {positive, 1}, "不错": {positive, 1},
		"喜欢": {positive, 1}, "棒": {positive, 1}, "赞": {positive, 0.9}, "开心": {positive, 1}, "推荐": {positive, 0.7},
		"好评": {positive, 1.1}, "方便": {positive, 0.6}, "快": {positive, 0.3}, "干净": {positive, 0.6},
	}
	emoji = map[rune]cue{
		'😡': {anger, 1.5}, '🤬': {anger, 1.8}, '😠': {anger, 1.3}, '👎': {negative, 0.8}, '💢': {anger, 1},
		'😢': {sadness, 1.2}, '😭': {sadness, 1.4}, '😞': {sadness, 1}, '😔': {sadness, 0.9}, '💔': {sadness, 1.2},
		'😰': {anxiety, 1.3}, '😨': {anxiety, 1.2}, '😱': {anxiety, 1.4}, '😟': {anxiety, 1},
		'😊': {positive, 1}, '😀': {positive, 1}, '👍': {positive, 1}, '❤': {positive, 1}, '🙏': {positive, 0.5},
	}
	negatorsEN = lang.SetOf([]string{"not", "no", "never", "without", "hardly", "nothing", "isn't", "wasn't", "don't",
		"doesn't", "didn't", "aren't", "weren't", "won't", "can't", "cannot", "couldn't", "nor"})
	intensifiersEN = map[string]float64{"very": 1.5, "so": 1.4, "really": 1.4, "extremely": 1.8, "totally": 1.5,
		"absolutely": 1.7, "completely": 1.5, "super": 1.4, "incredibly": 1.7, "utterly": 1.7, "such": 1.3, "too": 1.3, "most": 1.3}
	negatorsZH     = []string{"不", "没", "别", "无", "未"}
	intensifiersZH = []struct {
		word   string
		factor float64
	}{{"非常", 1.7}, {"特别", 1.6}, {"超级", 1.7}, {"十分", 1.6}, {"太", 1.5}, {"很", 1.4}, {"极", 1.8}, {"最", 1.4}, {"真", 1.3}, {"好", 1.2}}
	lexZHByFirst    = byFirstRune(lexZH)
	maxLexENPhrases = 3
)

// byFirstRune groups Chinese entries by their first character, longest first,
// so a scan tries only the entries that can start at each position.
func byFirstRune(m map[string]cue) map[rune][]string {
	out := map[rune][]string{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		r, _ := utf8.DecodeRuneInString(k)
		out[r] = append(out[r], k)
	}
	for _, entries := range out {
		sort.SliceStable(entries, func(i, j int) bool { return len(entries[i]) > len(entries[j]) })
	}
	return out
}

// emotion scores a message. normalized is the analyzer's normalized text
// (lower case, Simplified); raw is what the customer wrote, for capitals.
func emotion(raw, normalized string) Emotion {
	var sum [feelings]float64
	scoreEnglish(raw, normalized, &sum)
	scoreChinese(normalized, &sum)
	for _, r := range raw {
		if c, ok := emoji[r]; ok {
			sum[c.f] += c.w
		}
	}
	// Repeated exclamation and question marks raise whatever is there.
	marks := strings.Count(raw, "!") + strings.Count(raw, "！") + strings.Count(raw, "?!") + strings.Count(raw, "？！")
	boost := 1 + 0.15*float64(min(marks, 4))
	if strings.Contains(raw, "??") || strings.Contains(raw, "？？") {
		sum[anxiety] += 0.3
	}
	intensity := func(x float64) float64 { return 1 - math.Exp(-max(0, x)*boost*0.8) }
	e := Emotion{Anger: intensity(sum[anger]), Anxiety: intensity(sum[anxiety]), Sadness: intensity(sum[sadness])}
	neg := 1 - (1-e.Anger)*(1-e.Anxiety)*(1-e.Sadness)*(1-intensity(sum[negative]))
	// Thanks and praise soften dissatisfaction, but never anger on their own.
	e.Negativity = neg * math.Exp(-0.5*sum[positive])
	return e
}

func scoreEnglish(raw, normalized string, sum *[feelings]float64) {
	ws := lang.Words(normalized)
	rawWords := strings.FieldsFunc(raw, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	caps := 0
	for _, w := range rawWords {
		if len(w) >= 3 && w == strings.ToUpper(w) && strings.ToLower(w) != w {
			caps++
		}
	}
	capsBoost := 1.0
	if caps > 0 && caps*2 >= len(rawWords) { // shouting: most of the message in capitals
		capsBoost = 1.6
	} else if caps > 0 {
		capsBoost = 1.2
	}
	for i := 0; i < len(ws); i++ {
		var c cue
		n := 0
		for k := min(maxLexENPhrases, len(ws)-i); k >= 1; k-- {
			if hit, ok := lexEN[strings.Join(ws[i:i+k], " ")]; ok {
				c, n = hit, k
				break
			}
		}
		if n == 0 {
			continue
		}
		w := c.w * capsBoost
		for j := max(0, i-3); j < i; j++ {
			if f, ok := intensifiersEN[ws[j]]; ok {
				w *= f
			}
			if negatorsEN[ws[j]] || strings.HasSuffix(ws[j], "n't") {
				w = -w * 0.3 // "not angry" is a little reassuring, not anger
			}
		}
		if c.f == negative && w < 0 {
			w = 0 // "not bad" is not praise either
		}
		sum[c.f] += w
		i += n - 1
	}
}

func scoreChinese(normalized string, sum *[feelings]float64) {
	runes := []rune(normalized)
	for i := 0; i < len(runes); {
		matched := 0
		for _, entry := range lexZHByFirst[runes[i]] {
			er := []rune(entry)
			if i+len(er) <= len(runes) && string(runes[i:i+len(er)]) == entry {
				c := lexZH[entry]
				w := c.w
				before := string(runes[max(0, i-2):i])
				for _, neg := range negatorsZH {
					if strings.Contains(before, neg) {
						w = -w * 0.3
						break
					}
				}
				for _, in := range intensifiersZH {
					if strings.Contains(string(runes[max(0, i-3):i]), in.word) {
						w *= in.factor
						break
					}
				}
				if c.f == negative && w < 0 {
					w = 0
				}
				sum[c.f] += w
				matched = len(er)
				break
			}
		}
		if matched == 0 {
			i++
		} else {
			i += matched
		}
	}
}
