package service

import (
	"slices"
	"testing"
)

func TestKnownCurrency(t *testing.T) {
	if !slices.IsSorted(currencies) {
		t.Fatal("the list must stay sorted for the binary search")
	}
	for code, want := range map[string]bool{"EUR": true, "CNY": true, "TWD": true, "HKD": true, "USD": true, "ZWL": true, "AED": true,
		"XXX": false, "EU": false, "eur": false, "ABC": false} {
		if KnownCurrency(code) != want {
			t.Errorf("%s: %v, want %v", code, !want, want)
		}
	}
}

func TestMinorUnits(t *testing.T) {
	for code, want := range map[string]int{"EUR": 2, "CNY": 2, "JPY": 0, "KRW": 0, "KWD": 3, "TWD": 2} {
		if got := MinorUnits(code); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
}
