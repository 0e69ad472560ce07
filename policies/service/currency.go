package service

import (
	"slices"
	"strconv"
	"strings"
)

// iso4217 lists the active ISO 4217 currency codes (2024), sorted. Funds,
// precious metals and testing codes are left out: nobody is refunded in them.
const iso4217 = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD " +
	"CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD " +
	"HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD " +
	"MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG " +
	"QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD " +
	"TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"

var currencies = strings.Fields(iso4217)

// KnownCurrency says code is an active ISO 4217 currency.
func KnownCurrency(code string) bool {
	_, ok := slices.BinarySearch(currencies, code)
	return ok
}

// MinorUnits is how many decimals amounts in the currency have (ISO 4217):
// none for the yen or the won, three for the dinars of Bahrain, Iraq,
// Jordan, Kuwait, Libya and Tunisia and the rial of Oman, two otherwise.
func MinorUnits(code string) int {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// MinorAmount is a decimal amount in the currency's minor units (12.50 EUR
// is 1250); false for an amount with more decimals than the currency has,
// or one that is not a plain decimal.
func MinorAmount(amount, currency string) (int64, bool) {
	whole, frac, _ := strings.Cut(amount, ".")
	digits := MinorUnits(currency)
	if whole == "" || len(frac) > digits || strings.Trim(whole+frac, "0123456789") != "" || len(whole) > 15 {
		return 0, false
	}
	frac += strings.Repeat("0", digits-len(frac))
	var n int64
	for _, c := range whole + frac {
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// DecimalAmount is minor units as a decimal amount in the currency (1250
// EUR is "12.50").
func DecimalAmount(minor int64, currency string) string {
	digits := MinorUnits(currency)
	s := strconv.FormatInt(minor, 10)
	if digits == 0 {
		return s
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}
