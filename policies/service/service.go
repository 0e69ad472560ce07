// Package service holds tenants' service policies: SLA targets, business
// hours, escalation thresholds and refund limits. Three profiles are embedded;
// a tenant picks one or overrides it, and each case pins the policy it opened
// with (invariant 6), so the workflow imports this package: it is data only.
package service

import (
	"embed"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

//go:embed profiles/*.json
var profiles embed.FS

// Profiles names the embedded profiles.
var Profiles = []string{"efficiency-first", "experience-first", "risk-sensitive"}

// DefaultProfile is a tenant's policy until an administrator picks another.
const DefaultProfile = "efficiency-first"

// Policy is a tenant's service policy. Version is the tenant's policy version
// (0 for an untouched default), pinned with the policy into each case.
type Policy struct {
	Profile       string        `json:"profile"`
	Version       int64         `json:"version"`
	SLA           SLA           `json:"sla"`
	BusinessHours BusinessHours `json:"business_hours"`
	Escalation    Escalation    `json:"escalation"`
	Refunds       Refunds       `json:"refunds"`
	ReopenWindow  Duration      `json:"reopen_window"`
	// SurveyWindow is how long after a case is resolved its customer may
	// rate it (0: DefaultSurveyWindow).
	SurveyWindow Duration `json:"survey_window,omitempty"`
	Routing      Routing  `json:"routing"`
	AI           AI       `json:"ai"`
}

// AI chooses the tenant's AI engine.
type AI struct {
	// Engine is "local" (the default: no network) or "llm" (the configured
	// OpenAI-compatible endpoint, grounded on the local engine's articles,
	// falling back to it).
	Engine string `json:"engine,omitempty"`
	// Disclosure is what the first AI message of every case opens with, by
	// language (en, zh-Hans, zh-Hant): that the customer is talking to an
	// AI system and how to reach a person (EU AI Act, Art. 50). A language
	// left out takes DefaultDisclosure's.
	Disclosure map[string]string `json:"disclosure,omitempty"`
	// PeopleDomains: questions in these domains (medical, legal, …) always
	// go to people, whether an article matched them or the topic was seen.
	PeopleDomains []string `json:"people_domains,omitempty"`
	// StrictDomains: questions in these domains are answered only from
	// articles of the same domain; anything else counts as out of scope.
	StrictDomains []string `json:"strict_domains,omitempty"`
	// NotesInContext gives the AI the case's latest staff notes as context
	// for its answers (the LLM engine's instructions say never to quote
	// them). Off, the default, notes reach no AI: they are for staff.
	NotesInContext bool `json:"notes_in_context,omitempty"`
}

// AI engines a policy may choose.
var Engines = []string{"local", "llm"}

// Routing holds how queued cases are offered to agents.
type Routing struct {
	// OfferTimeout is how long an agent has to take an offered case before
	// it is offered to the next one (0: two minutes).
	OfferTimeout Duration `json:"offer_timeout,omitempty"`
	// Rules act on cases by their custom fields, their channel and what the
	// AI read them to be about: a matching rule tags the case and sets its
	// fields, and a case matching a rule with a queue waits for people in
	// the first such rule's queue, taking the highest priority a matching
	// rule names when that is higher than its own (the SLA's targets for
	// it apply from then). Rules apply when fields change and, where a rule
	// looks at the channel or the intent or acts on tags and fields, on
	// each customer message.
	Rules []RoutingRule `json:"rules,omitempty"`
}

// RoutingRule is a rule's conditions, all of which must hold (a text
// field's values are sealed and match nothing), and what it does.
type RoutingRule struct {
	Field   string `json:"field,omitempty"`
	Equals  string `json:"equals,omitempty"`
	Channel string `json:"channel,omitempty"` // web_chat, app, email, ivr, api
	Intent  string `json:"intent,omitempty"`  // of the article the AI last matched

	Queue     string            `json:"queue,omitempty"`
	Priority  string            `json:"priority,omitempty"`
	AddTags   []string          `json:"add_tags,omitempty"`
	SetFields map[string]string `json:"set_fields,omitempty"` // values as a case listing's filter writes them
}

// Acts says whether the rule tags cases or sets their fields.
func (r RoutingRule) Acts() bool { return len(r.AddTags) > 0 || len(r.SetFields) > 0 }

// OnMessages says whether the rules apply on each customer message: they
// look at more than fields, or act on tags and fields. Policies pinned
// before such rules existed have none, so their runs' paths are unchanged.
func (r Routing) OnMessages() bool {
	return slices.ContainsFunc(r.Rules, func(r RoutingRule) bool { return r.Channel != "" || r.Intent != "" || r.Acts() })
}

// MaxRuleFields bounds the fields one rule sets.
const MaxRuleFields = 10

// DefaultSurveyWindow is how long a customer may rate a resolved case when
// the policy says nothing.
const DefaultSurveyWindow = 7 * 24 * time.Hour

// Survey is the policy's survey window, or the default.
func (p Policy) Survey() time.Duration {
	if p.SurveyWindow > 0 {
		return time.Duration(p.SurveyWindow)
	}
	return DefaultSurveyWindow
}

// MaxRoutingRules bounds a policy's rules.
const MaxRoutingRules = 50

// SLA holds targets per priority (low, normal, high, urgent).
type SLA struct {
	FirstResponse map[string]Duration `json:"first_response"`
	NextResponse  map[string]Duration `json:"next_response"`
	Resolution    map[string]Duration `json:"resolution"`
	WarnAt        []float64           `json:"warn_at"`   // fractions of a target, ascending
	OnBreach      string              `json:"on_breach"` // escalate, raise_priority, notify_supervisor
}

// BusinessHours is when SLA clocks run.
type BusinessHours struct {
	TimeZone string   `json:"time_zone"`
	Weekdays []string `json:"weekdays"` // mon … sun
	Open     string   `json:"open"`     // HH:MM
	Close    string   `json:"close"`    // HH:MM after Open; 24:00 for the end of the day
	Holidays []string `json:"holidays"` // YYYY-MM-DD in TimeZone
}

// Escalation holds the thresholds that hand a case to people.
type Escalation struct {
	NegativeSentiment      float64 `json:"negative_sentiment"` // 0–1
	MinConfidence          float64 `json:"min_confidence"`     // 0–1
	UnhelpfulAnswers       int     `json:"unhelpful_answers"`
	SensitiveTopicsToHuman bool    `json:"sensitive_topics_to_human"`
	HumanShare             float64 `json:"human_share"` // 0–1: share of cases a person touches
}

// Refunds holds how refunds and compensations are decided; amounts are
// decimal strings, never floats. Zero durations take the defaults below.
type Refunds struct {
	AutoApproveLimit  string `json:"auto_approve_limit"`
	Currency          string `json:"currency"`
	AlwaysHuman       bool   `json:"always_human"`
	StepUpForApproval bool   `json:"step_up_for_approval"`
	// ApprovalLimits: the largest refund each role may approve (agent,
	// supervisor, finance), decimal strings. None set: supervisors and
	// finance may approve any amount; agents approve only under a limit.
	ApprovalLimits map[string]string `json:"approval_limits,omitempty"`
	// RefundWindow: only orders placed this recently are auto-approved;
	// older ones go to a person. Zero: no window.
	RefundWindow Duration `json:"refund_window,omitempty"`
	// RejectAfter: requests on orders older than this are rejected by rule
	// (outside_refund_period), and may be appealed. Zero: never.
	RejectAfter Duration `json:"reject_after,omitempty"`
	// NonRefundableReasons: reason codes rejected by rule
	// (non_refundable_reason), and may be appealed.
	NonRefundableReasons []string `json:"non_refundable_reasons,omitempty"`
	// ApprovalSLA: an approval waiting longer is escalated to EscalateTo.
	ApprovalSLA Duration `json:"approval_sla,omitempty"`
	EscalateTo  string   `json:"escalate_to,omitempty"`
	// AppealWindow: how long after a rule rejected a request it may be appealed.
	AppealWindow Duration `json:"appeal_window,omitempty"`
	// PaymentUnknownAfter: how long a payment whose outcome the provider has
	// not told (timeouts, errors, lost replies) is retried and looked up
	// before the refund is parked as payment_unknown for finance. It is
	// never reversed while unknown; the saga goes on asking the provider.
	PaymentUnknownAfter Duration `json:"payment_unknown_after,omitempty"`
	// CompensationAutoLimit: compensations (credits, coupons, waivers) up to
	// this are granted without a person; "": DefaultCompensationAutoLimit.
	CompensationAutoLimit string `json:"compensation_auto_limit,omitempty"`
	// CompensationBudget: what one customer may be granted in compensations
	// within CompensationPeriod, in Currency; "": no budget.
	CompensationBudget string   `json:"compensation_budget,omitempty"`
	CompensationPeriod Duration `json:"compensation_period,omitempty"`
	// Currencies: limits for requests in currencies other than Currency, in
	// minor units of each (ISO 4217: 5000 EUR is 50.00, 5000 JPY is 5000 yen,
	// 50000 KWD is 50.000 dinars), so no limit is read in the wrong
	// currency. A request in a currency not listed here always goes to a
	// person, and only finance decides it.
	Currencies map[string]CurrencyLimits `json:"currencies,omitempty"`
}

// CurrencyLimits are a policy's limits in one currency, in its minor units.
type CurrencyLimits struct {
	AutoApprove      int64 `json:"auto_approve"`
	CompensationAuto int64 `json:"compensation_auto"`
	// CompensationBudget: what one customer may be granted in compensations
	// in this currency within the policy's compensation period; 0: none.
	CompensationBudget int64            `json:"compensation_budget,omitempty"`
	Approval           map[string]int64 `json:"approval,omitempty"` // by role: agent, supervisor, finance
}

// ForCurrency returns the limits for a request in currency, if the policy
// has limits in it besides its own currency's.
func (r Refunds) ForCurrency(currency string) (CurrencyLimits, bool) {
	if currency == r.Currency {
		return CurrencyLimits{}, false
	}
	l, ok := r.Currencies[currency]
	return l, ok
}

// CompensationLimit is the policy's compensation auto-approve limit.
func (r Refunds) CompensationLimit() string {
	if r.CompensationAutoLimit == "" {
		return DefaultCompensationAutoLimit
	}
	return r.CompensationAutoLimit
}

// Refund defaults for policies that leave them out.
const (
	DefaultCompensationAutoLimit = "10.00"
	DefaultCompensationPeriod    = 365 * 24 * time.Hour
	DefaultApprovalSLA           = 4 * time.Hour
	DefaultEscalateTo            = "finance"
	DefaultAppealWindow          = 14 * 24 * time.Hour
	DefaultPaymentUnknownAfter   = time.Hour
)

// ApproverRoles are the roles that approve refunds, lowest limit first.
var ApproverRoles = []string{"agent", "supervisor", "finance"}

// Duration is a time.Duration written as "8h", "30m" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as Go writes it.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration such as "8h" or "1h30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"8h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Profile returns an embedded profile.
func Profile(name string) (Policy, error) {
	if !slices.Contains(Profiles, name) {
		return Policy{}, fmt.Errorf("unknown profile %q (profiles: %s)", name, strings.Join(Profiles, ", "))
	}
	raw, err := profiles.ReadFile("profiles/" + name + ".json")
	if err != nil {
		return Policy{}, err
	}
	return Parse(raw)
}

// Parse reads a policy document, refusing unknown fields, and validates it.
func Parse(raw []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("service policy: %w", err)
	}
	if errs := p.Validate(); len(errs) > 0 {
		return Policy{}, fmt.Errorf("service policy: %s", strings.Join(errs, "; "))
	}
	return p, nil
}

var (
	hhmm       = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weekdays   = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	priority   = []string{"low", "normal", "high", "urgent"}
	ruleField  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	ruleQueue  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	ruleIntent = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	onBreach   = []string{"escalate", "raise_priority", "notify_supervisor"}
	decimalRe  = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,4})?$`)
	domainName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
)

// Validate lists what is wrong with the policy, as "field: problem".
func (p Policy) Validate() []string {
	var errs []string
	bad := func(field, problem string) { errs = append(errs, field+": "+problem) }
	for name, targets := range map[string]map[string]Duration{
		"sla.first_response": p.SLA.FirstResponse, "sla.next_response": p.SLA.NextResponse, "sla.resolution": p.SLA.Resolution,
	} {
		for _, pr := range priority {
			if d, ok := targets[pr]; !ok || d <= 0 {
				bad(name+"."+pr, "a positive duration is required")
			}
		}
		if len(targets) != len(priority) {
			bad(name, "only low, normal, high and urgent")
		}
	}
	for i, f := range p.SLA.WarnAt {
		if f <= 0 || f >= 1 || (i > 0 && f <= p.SLA.WarnAt[i-1]) {
			bad("sla.warn_at", "ascending fractions between 0 and 1")
			break
		}
	}
	if !slices.Contains(onBreach, p.SLA.OnBreach) {
		bad("sla.on_breach", "one of "+strings.Join(onBreach, ", "))
	}
	bh := p.BusinessHours
	if _, err := Zone(bh.TimeZone); err != nil || bh.TimeZone == "" {
		bad("business_hours.time_zone", "an IANA time zone such as Europe/Berlin")
	}
	if len(bh.Weekdays) == 0 {
		bad("business_hours.weekdays", "at least one day")
	}
	for _, d := range bh.Weekdays {
		if !slices.Contains(weekdays, d) {
			bad("business_hours.weekdays", "days are mon … sun")
			break
		}
	}
	// Close may be 24:00, the end of the day: "00:00"–"24:00" is around the clock.
	if !hhmm.MatchString(bh.Open) || (!hhmm.MatchString(bh.Close) && bh.Close != "24:00") || bh.Open >= bh.Close {
		bad("business_hours", "open and close are HH:MM (close up to 24:00) with open before close")
	}
	for _, h := range bh.Holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil {
			bad("business_hours.holidays", "dates are YYYY-MM-DD")
			break
		}
	}
	e := p.Escalation
	for name, v := range map[string]float64{"escalation.negative_sentiment": e.NegativeSentiment,
		"escalation.min_confidence": e.MinConfidence, "escalation.human_share": e.HumanShare} {
		if v < 0 || v > 1 {
			bad(name, "from 0 to 1")
		}
	}
	if e.UnhelpfulAnswers < 1 || e.UnhelpfulAnswers > 20 {
		bad("escalation.unhelpful_answers", "from 1 to 20")
	}
	if !decimalRe.MatchString(p.Refunds.AutoApproveLimit) {
		bad("refunds.auto_approve_limit", "a decimal amount such as 50.00")
	} else if _, ok := new(big.Rat).SetString(p.Refunds.AutoApproveLimit); !ok {
		bad("refunds.auto_approve_limit", "a decimal amount such as 50.00")
	}
	for name, v := range map[string]string{"refunds.compensation_auto_limit": p.Refunds.CompensationAutoLimit,
		"refunds.compensation_budget": p.Refunds.CompensationBudget} {
		if v != "" && !decimalRe.MatchString(v) {
			bad(name, "a decimal amount such as 25.00")
		}
	}
	for _, role := range sortedKeys(p.Refunds.ApprovalLimits) {
		if !slices.Contains(ApproverRoles, role) {
			bad("refunds.approval_limits", "roles are "+strings.Join(ApproverRoles, ", "))
			break
		}
		if !decimalRe.MatchString(p.Refunds.ApprovalLimits[role]) {
			bad("refunds.approval_limits."+role, "a decimal amount such as 500.00")
		}
	}
	r := p.Refunds
	for name, d := range map[string]Duration{"refunds.refund_window": r.RefundWindow, "refunds.reject_after": r.RejectAfter,
		"refunds.approval_sla": r.ApprovalSLA, "refunds.appeal_window": r.AppealWindow, "refunds.compensation_period": r.CompensationPeriod,
		"refunds.payment_unknown_after": r.PaymentUnknownAfter} {
		if d < 0 || time.Duration(d) > 5*365*24*time.Hour {
			bad(name, "a duration from 0 (the default) to 5 years, e.g. \"720h\"")
		}
	}
	if r.EscalateTo != "" && !slices.Contains(ApproverRoles[1:], r.EscalateTo) {
		bad("refunds.escalate_to", "supervisor or finance")
	}
	if len(r.NonRefundableReasons) > 50 {
		bad("refunds.non_refundable_reasons", "at most 50 reason codes")
	}
	for _, code := range r.NonRefundableReasons {
		if !domainName.MatchString(code) {
			bad("refunds.non_refundable_reasons", "lower-case reason codes such as used_item")
			break
		}
	}
	for _, cur := range sortedKeys(r.Currencies) {
		l, field := r.Currencies[cur], "refunds.currencies."+cur
		switch {
		case !KnownCurrency(cur) || cur == r.Currency:
			bad(field, "an ISO 4217 code other than refunds.currency")
		case l.AutoApprove < 0 || l.CompensationAuto < 0 || l.CompensationBudget < 0:
			bad(field, "limits are whole numbers of minor units, 0 or more")
		}
		for _, role := range sortedKeys(l.Approval) {
			if !slices.Contains(ApproverRoles, role) || l.Approval[role] < 0 {
				bad(field+".approval", "roles are "+strings.Join(ApproverRoles, ", ")+"; limits 0 or more minor units")
				break
			}
		}
	}
	if !KnownCurrency(p.Refunds.Currency) {
		bad("refunds.currency", "an ISO 4217 code such as EUR")
	}
	if p.ReopenWindow <= 0 {
		bad("reopen_window", "a positive duration")
	}
	if w := time.Duration(p.SurveyWindow); w < 0 || w > 90*24*time.Hour {
		bad("survey_window", "from 0 (the default, 7 days) to 90 days")
	}
	if p.AI.Engine != "" && !slices.Contains(Engines, p.AI.Engine) {
		bad("ai.engine", "one of "+strings.Join(Engines, ", "))
	}
	for _, lang := range sortedKeys(p.AI.Disclosure) {
		text := p.AI.Disclosure[lang]
		if _, known := DefaultDisclosure[lang]; !known || strings.TrimSpace(text) == "" || utf8.RuneCountInString(text) > 500 {
			bad("ai.disclosure."+lang, "languages are en, zh-Hans, zh-Hant; each text 1 to 500 characters, saying it is an AI and how to reach a person")
		}
	}
	for field, domains := range map[string][]string{"ai.people_domains": p.AI.PeopleDomains, "ai.strict_domains": p.AI.StrictDomains} {
		if len(domains) > 20 {
			bad(field, "at most 20 domains")
		}
		for _, d := range domains {
			if !domainName.MatchString(d) {
				bad(field, "lower-case domain names such as medical, legal")
				break
			}
		}
	}
	if t := time.Duration(p.Routing.OfferTimeout); t < 0 || t > 24*time.Hour {
		bad("routing.offer_timeout", "from 0 (the default, two minutes) to 24h")
	}
	if len(p.Routing.Rules) > MaxRoutingRules {
		bad("routing.rules", "at most 50 rules")
	}
	for i, r := range p.Routing.Rules {
		field := fmt.Sprintf("routing.rules[%d]", i)
		switch {
		case r.Field == "" && r.Channel == "" && r.Intent == "":
			bad(field, "a condition: a field and the value it equals, a channel, an intent")
		case r.Field != "" && !ruleField.MatchString(r.Field):
			bad(field+".field", "a custom field's name")
		case (r.Field != "") != (r.Equals != "") || utf8.RuneCountInString(r.Equals) > 64:
			bad(field+".equals", "with a field, the value to match, 1 to 64 characters")
		case r.Channel != "" && !ruleField.MatchString(r.Channel):
			bad(field+".channel", "a channel: web_chat, app, email, ivr, api")
		case r.Intent != "" && !ruleIntent.MatchString(r.Intent):
			bad(field+".intent", "an article's intent: lower-case letters, digits, _ . -, at most 64")
		case r.Queue == "" && r.Priority == "" && !r.Acts():
			bad(field, "a queue, a priority, tags to add or fields to set")
		case r.Queue != "" && !ruleQueue.MatchString(r.Queue):
			bad(field+".queue", "a queue name: lowercase letters, digits, - and _")
		case r.Priority != "" && !slices.Contains(priority, r.Priority):
			bad(field+".priority", "one of low, normal, high, urgent")
		case len(r.AddTags) > 20 || slices.ContainsFunc(r.AddTags, func(t string) bool { return !ruleQueue.MatchString(t) }):
			bad(field+".add_tags", "at most 20 tags, each 1 to 40 lowercase letters, digits, - or _")
		case len(r.SetFields) > MaxRuleFields:
			bad(field+".set_fields", "at most 10 fields")
		}
		for _, name := range sortedKeys(r.SetFields) {
			if !ruleField.MatchString(name) || r.SetFields[name] == "" || utf8.RuneCountInString(r.SetFields[name]) > 64 {
				bad(field+".set_fields."+name, "a custom field's name and its value, 1 to 64 characters")
			}
		}
	}
	slices.Sort(errs) // map order must not change the message
	return errs
}

// sortedKeys: a map's keys in order, so validation reports the same way each time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DefaultDisclosure tells a customer they are talking to an AI system and
// how to reach a person, in each language the AI detects.
var DefaultDisclosure = map[string]string{
	"en":      "You are talking to an AI assistant. To talk to a person at any time, write \"agent\".",
	"zh-Hans": "您正在与人工智能助手对话。如需人工服务，请随时回复“转人工”。",
	"zh-Hant": "您正在與人工智慧助理對話。如需真人服務，請隨時回覆「轉人工」。",
}

// DisclosureIn is the policy's disclosure in lang, or English's where it
// has none in lang.
func (a AI) DisclosureIn(lang string) string {
	if _, known := DefaultDisclosure[lang]; !known {
		lang = "en"
	}
	if text := a.Disclosure[lang]; text != "" {
		return text
	}
	return DefaultDisclosure[lang]
}
