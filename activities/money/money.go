// Package money holds the rules money moves by, with no I/O: why a refund
// request is refused, what a refund's status requires of its ledger
// movements, and how amounts compare and balance. Amounts are decimal
// strings, compared exactly.
package money

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"tandem/workflows"
)

// Refusal is a fact of the order that refuses a refund request. Its text is
// the rule recorded with the refused request.
type Refusal string

// Reasons a refund request is refused.
const (
	ErrOrderNotFound     Refusal = "order_not_found"
	ErrNotCustomersOrder Refusal = "not_customers_order"
	ErrCurrencyMismatch  Refusal = "currency_mismatch"
	ErrOverRefund        Refusal = "over_refundable_amount"
	ErrOverBudget        Refusal = "over_compensation_budget"
)

// Budget is what one customer may be granted in compensations in Currency
// since Since; a zero Amount is no budget. Compensations in other currencies
// do not count against it (a person decides those, or their currency's own
// budget holds them).
type Budget struct {
	Amount   string
	Currency string
	Since    time.Time
}

var refusalText = map[Refusal]string{
	ErrOrderNotFound:     "no such order",
	ErrNotCustomersOrder: "the order is not the case's customer's",
	ErrCurrencyMismatch:  "the refund's currency is not the order's",
	ErrOverRefund:        "the amount is above what is left to refund on the order",
	ErrOverBudget:        "the compensation is above what the policy grants one customer in its period",
}

func (r Refusal) Error() string { return refusalText[r] }

// AccountBalance is an account's balance in one currency: debits less credits.
type AccountBalance struct {
	Account  string `json:"account"`
	Currency string `json:"currency"`
	Balance  string `json:"balance"`
}

// Balanced says each currency's balances sum to zero.
func Balanced(tb []AccountBalance) (bool, error) {
	sums := map[string]*big.Rat{}
	for _, b := range tb {
		v, ok := new(big.Rat).SetString(b.Balance)
		if !ok {
			return false, fmt.Errorf("balance %q of %s is not a number", b.Balance, b.Account)
		}
		if sums[b.Currency] == nil {
			sums[b.Currency] = new(big.Rat)
		}
		sums[b.Currency].Add(sums[b.Currency], v)
	}
	for _, sum := range sums {
		if sum.Sign() != 0 {
			return false, nil
		}
	}
	return true, nil
}

// RefundBooks is what the ledger holds of one refund: its movements by
// step (booked, paid, reversed), each the amount posted or "".
type RefundBooks struct {
	ID       string `json:"id"`
	CaseID   string `json:"case_id"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Booked   string `json:"booked,omitempty"`
	Paid     string `json:"paid,omitempty"`
	Reversed string `json:"reversed,omitempty"`
}

// LedgerRule says what a refund's status requires of its ledger
// movements, and whether b holds it: paid is booked and paid (what was
// payable is paid out: nothing left payable; a saga before refund-v2 paid
// without booking), failed is booked and reversed (or, before refund-v2,
// nothing), issued is booked, payment_unknown is booked and neither paid
// nor reversed (money may be out), rejected and every status before a
// decision is nothing booked, and approved may be booked but not paid or
// reversed yet. Each movement is for the refund's amount.
func LedgerRule(b RefundBooks) (want string, ok bool) {
	has := func(amount string) bool { return amount != "" && SameAmount(amount, b.Amount) }
	none := func(amount string) bool { return amount == "" }
	// Sagas before refund-v2 paid straight from the expense account without
	// booking, and posted nothing for a failed payment: those shapes stand.
	switch b.Status {
	case workflows.RefundPaid:
		return "booked and paid, nothing reversed", (has(b.Booked) || none(b.Booked)) && has(b.Paid) && none(b.Reversed)
	case workflows.RefundFailed:
		return "booked and reversed, nothing paid", (has(b.Booked) && has(b.Reversed) || none(b.Booked) && none(b.Reversed)) && none(b.Paid)
	case workflows.RefundIssued, workflows.RefundPaymentUnknown:
		return "booked, neither paid nor reversed", has(b.Booked) && none(b.Paid) && none(b.Reversed)
	case workflows.RefundApproved:
		return "at most booked", (none(b.Booked) || has(b.Booked)) && none(b.Paid) && none(b.Reversed)
	}
	return "nothing booked", none(b.Booked) && none(b.Paid) && none(b.Reversed)
}

// Movements names the movements b holds, for a report.
func (b RefundBooks) Movements() string {
	var have []string
	for _, m := range []struct{ name, amount string }{{"booked", b.Booked}, {"paid", b.Paid}, {"reversed", b.Reversed}} {
		if m.amount != "" {
			have = append(have, m.name+" "+m.amount)
		}
	}
	if len(have) == 0 {
		return "nothing"
	}
	return strings.Join(have, ", ")
}

// SameAmount says two decimal amounts are equal ("12.5" and "12.5000" are).
func SameAmount(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}
