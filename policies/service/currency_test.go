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

func TestMinorAmount(t *testing.T) {
	for _, c := range []struct {
		amount, currency string
		want             int64
		ok               bool
	}{
		{"12.50", "EUR", 1250, true}, {"12.5", "EUR", 1250, true}, {"12", "EUR", 1200, true},
		{"50.000", "KWD", 50000, true}, {"50.00", "KWD", 50000, true},
		{"4000", "JPY", 4000, true}, {"4000.5", "JPY", 0, false}, {"1.001", "EUR", 0, false},
		{"", "EUR", 0, false}, {".5", "EUR", 0, false}, {"-1", "EUR", 0, false}, {"1e3", "EUR", 0, false},
		{"1234567890123456", "EUR", 0, false},
	} {
		got, ok := MinorAmount(c.amount, c.currency)
		if got != c.want || ok != c.ok {
			t.Errorf("MinorAmount(%q, %s) = %d %v, want %d %v", c.amount, c.currency, got, ok, c.want, c.ok)
		}
	}
}

func TestDecimalAmount(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{{1250, "EUR", "12.50"}, {5, "EUR", "0.05"}, {0, "EUR", "0.00"}, {50000, "KWD", "50.000"}, {4000, "JPY", "4000"}} {
		if got := DecimalAmount(c.minor, c.currency); got != c.want {
			t.Errorf("DecimalAmount(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
		if back, ok := MinorAmount(DecimalAmount(c.minor, c.currency), c.currency); !ok || back != c.minor {
			t.Errorf("round trip of %d %s: %d %v", c.minor, c.currency, back, ok)
		}
	}
}
