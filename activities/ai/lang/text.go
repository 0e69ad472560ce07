package lang

import (
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// Analyzer turns text into the terms the indexes and the classifiers work
// on: English words lower-cased and stemmed, stop words dropped; Chinese in
// Simplified script as single characters and character pairs, which match
// words without a dictionary and tolerate segmentation differences.
type Analyzer struct {
	Scripts *Scripts
}

// NewAnalyzer is an Analyzer with the script tables loaded.
func NewAnalyzer() (Analyzer, error) {
	sc, err := LoadScripts()
	return Analyzer{Scripts: sc}, err
}

// Normalize folds width and case and rewrites Chinese as Simplified.
func (a Analyzer) Normalize(text string) string {
	text = strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			return r - 0xFEE0
		case r == 0x3000:
			return ' '
		}
		return unicode.ToLower(r)
	}, text)
	return a.Scripts.ToSimplified(text)
}

// Terms returns the index terms of a text, in order, with repeats.
func (a Analyzer) Terms(text string) []string {
	return a.TermsOfNormalized(a.Normalize(text))
}

// TermsOfNormalized are the index terms of text Normalize returned.
func (a Analyzer) TermsOfNormalized(text string) []string {
	return a.tokens(text, true)
}

// ClassifierTerms are the terms the intent classifier reads: stop words
// stay, since "can I" and "I can't" ask different things.
func (a Analyzer) ClassifierTerms(normalized string) []string {
	return a.tokens(normalized, false)
}

func (a Analyzer) tokens(text string, dropStop bool) []string {
	var out []string
	var han []rune
	flushHan := func() {
		for i, r := range han {
			if !stopHan[r] {
				out = append(out, string(r))
			}
			if i+1 < len(han) {
				out = append(out, string(han[i:i+2]))
			}
		}
		han = han[:0]
	}
	var word strings.Builder
	flushWord := func() {
		w := word.String()
		word.Reset()
		if w == "" || (dropStop && stopEN[w]) {
			return
		}
		out = append(out, english.Stem(w, false))
	}
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			han = append(han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			flushHan()
			if r != '\'' {
				word.WriteRune(r)
			}
		default:
			flushWord()
			flushHan()
		}
	}
	flushWord()
	flushHan()
	return out
}

// Words splits normalized text into lower-case English words and single Han
// characters, unstemmed, for the lexicons.
func Words(text string) []string {
	var out []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			out = append(out, word.String())
			word.Reset()
		}
	}
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			word.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return out
}

var stopEN = SetOf(strings.Fields(`a an the and or but if of to in on at by for from with about as into
	is are was were be been being am do does did doing have has had having i me my myself we our ours you your
	he him his she her it its they them their this that these those there here what which who whom
	can could would should will shall may might must just so than too very also then now please hi hello
	thanks thank hey dear im i'm i've ive id i'd`))

var stopHan = map[rune]bool{'的': true, '了': true, '吗': true, '呢': true, '吧': true, '啊': true, '呀': true,
	'我': true, '你': true, '是': true, '在': true, '和': true, '请': true, '么': true}

// SetOf is a set of the words.
func SetOf(words []string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
