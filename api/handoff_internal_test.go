package api

import "testing"

func TestOrderNumberInCustomerWords(t *testing.T) {
	for text, want := range map[string]string{
		"My order #1001 has not arrived":         "1001",
		"order number 555-22 came broken":        "555-22",
		"Order: A-77, please refund":             "A-77",
		"我的订单号 20231 还没到":                        "20231",
		"訂單：TW889 壞了":                            "TW889",
		"I ordered a lamp and it broke, refund!": "",
		"my orders shipped late":                 "",
	} {
		got := ""
		if m := orderNumber.FindStringSubmatch(text); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}
