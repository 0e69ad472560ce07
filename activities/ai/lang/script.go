// Package lang is how Tandem reads English and Chinese text: Traditional and
// Simplified script, the language a text is written in, and the terms an
// index or a classifier works on.
package lang

import (
	"bufio"
	"embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:embed data/*.txt
var scriptData embed.FS

// Scripts converts between Traditional and Simplified Chinese. Tables are
// read once, on first use, from OpenCC's data embedded in the binary.
type Scripts struct {
	toSimp    map[rune]rune     // Taiwan variants and Traditional → Simplified
	toTrad    map[rune]rune     // Simplified → the commonest Traditional form
	twPhrases map[string]string // Taiwan phrase → mainland phrase (Traditional)
	maxPhrase int               // longest Taiwan phrase, in runes
	tradOnly  map[rune]bool     // characters written only in Traditional
	simpOnly  map[rune]bool     // characters written only in Simplified
}

var (
	scriptsOnce sync.Once
	scriptsVal  *Scripts
	scriptsErr  error
)

// LoadScripts returns the script tables, read on the first call.
func LoadScripts() (*Scripts, error) {
	scriptsOnce.Do(func() {
		s := &Scripts{toSimp: map[rune]rune{}, toTrad: map[rune]rune{}, twPhrases: map[string]string{},
			tradOnly: map[rune]bool{}, simpOnly: map[rune]bool{}}
		err := readPairs("data/TSCharacters.txt", func(from string, to []string) {
			t, _ := utf8.DecodeRuneInString(from)
			simp, _ := utf8.DecodeRuneInString(to[0])
			if t != simp {
				s.toSimp[t] = simp
				s.tradOnly[t] = true
			}
		})
		if err == nil {
			err = readPairs("data/STCharacters.txt", func(from string, to []string) {
				simp, _ := utf8.DecodeRuneInString(from)
				t, _ := utf8.DecodeRuneInString(to[0])
				if simp != t {
					s.toTrad[simp] = t
					s.simpOnly[simp] = true
				}
			})
		}
		if err == nil {
			err = readPairs("data/TWVariantsRev.txt", func(from string, to []string) {
				v, _ := utf8.DecodeRuneInString(from)
				if _, simplified := s.toTrad[v]; simplified {
					return // e.g. 么, which Simplified text uses as it is
				}
				std, _ := utf8.DecodeRuneInString(to[0])
				if simp, ok := s.toSimp[std]; ok {
					std = simp
				}
				s.toSimp[v] = std
				s.tradOnly[v] = true
			})
		}
		if err == nil {
			err = readPairs("data/TWPhrasesRev.txt", func(from string, to []string) {
				s.twPhrases[from] = to[0]
				s.maxPhrase = max(s.maxPhrase, utf8.RuneCountInString(from))
			})
		}
		// A character both tables list (e.g. 著) is not evidence of either script.
		for r := range s.tradOnly {
			if s.simpOnly[r] {
				delete(s.tradOnly, r)
				delete(s.simpOnly, r)
			}
		}
		scriptsVal, scriptsErr = s, err
	})
	return scriptsVal, scriptsErr
}

func readPairs(name string, add func(from string, to []string)) error {
	f, err := scriptData.Open(name)
	if err != nil {
		return fmt.Errorf("script table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 {
			add(fields[0], fields[1:])
		}
	}
	return sc.Err()
}

// ToSimplified rewrites Traditional (including Taiwan usage) as Simplified
// Chinese; other text passes through.
func (s *Scripts) ToSimplified(text string) string {
	if !hasHan(text) {
		return text
	}
	runes := []rune(s.twPhrase(text))
	for i, r := range runes {
		if simp, ok := s.toSimp[r]; ok {
			runes[i] = simp
		}
	}
	return string(runes)
}

// twPhrase replaces Taiwan phrases by their mainland forms, longest first.
func (s *Scripts) twPhrase(text string) string {
	runes := []rune(text)
	var b strings.Builder
	for i := 0; i < len(runes); {
		matched := false
		for n := min(s.maxPhrase, len(runes)-i); n >= 2; n-- {
			if to, ok := s.twPhrases[string(runes[i:i+n])]; ok {
				b.WriteString(to)
				i += n
				matched = true
				break
			}
		}
		if !matched {
			b.WriteRune(runes[i])
			i++
		}
	}
	return b.String()
}

// ToTraditional rewrites Simplified Chinese in Traditional characters, taking
// the commonest form where one Simplified character stands for several.
func (s *Scripts) ToTraditional(text string) string {
	runes := []rune(text)
	for i, r := range runes {
		if t, ok := s.toTrad[r]; ok {
			runes[i] = t
		}
	}
	return string(runes)
}

// Language codes DetectLanguage tells apart.
const (
	English     = "en"
	Simplified  = "zh-Hans"
	Traditional = "zh-Hant"
)

// DetectLanguage tells English from Simplified and Traditional Chinese by the
// characters used; a text with no Chinese is English.
func (s *Scripts) DetectLanguage(text string) string {
	han, latin, trad, simp := 0, 0, 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			if s.tradOnly[r] {
				trad++
			} else if s.simpOnly[r] {
				simp++
			}
		case r < 128 && unicode.IsLetter(r):
			latin++
		}
	}
	// One Han character weighs about as much as a short English word.
	if han == 0 || han*3 < latin {
		return English
	}
	if trad > simp {
		return Traditional
	}
	return Simplified
}

func hasHan(text string) bool {
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
