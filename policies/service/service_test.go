package service_test

import (
	"strings"
	"testing"
	"time"

	"tandem/policies/service"
)

func TestEmbeddedProfilesAreValid(t *testing.T) {
	for _, name := range service.Profiles {
		p, err := service.Profile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Profile != name {
			t.Errorf("%s names itself %q", name, p.Profile)
		}
	}
	if _, err := service.Profile("cheapest"); err == nil {
		t.Error("an unknown profile loaded")
	}
}

// The profiles differ as the issue says they must.
func TestProfilesDiffer(t *testing.T) {
	eff, _ := service.Profile("efficiency-first")
	exp, _ := service.Profile("experience-first")
	risk, _ := service.Profile("risk-sensitive")
	if !(exp.Escalation.NegativeSentiment < eff.Escalation.NegativeSentiment && exp.Escalation.MinConfidence > eff.Escalation.MinConfidence) {
		t.Error("experience-first must escalate sooner than efficiency-first")
	}
	if exp.Escalation.HumanShare <= 0 {
		t.Error("experience-first must give a share of cases to people")
	}
	if !risk.Escalation.SensitiveTopicsToHuman || !risk.Refunds.AlwaysHuman || !risk.Refunds.StepUpForApproval {
		t.Error("risk-sensitive must send sensitive topics and every refund to people, with step-up")
	}
}

func TestParseRefusesBadDocuments(t *testing.T) {
	good, _ := service.Profile("efficiency-first")
	for name, mutate := range map[string]func(*service.Policy){
		"no urgent target":   func(p *service.Policy) { delete(p.SLA.FirstResponse, "urgent") },
		"descending warn":    func(p *service.Policy) { p.SLA.WarnAt = []float64{0.9, 0.5} },
		"bad breach action":  func(p *service.Policy) { p.SLA.OnBreach = "ignore" },
		"bad zone":           func(p *service.Policy) { p.BusinessHours.TimeZone = "Mars/Olympus" },
		"close before open":  func(p *service.Policy) { p.BusinessHours.Open, p.BusinessHours.Close = "18:00", "09:00" },
		"bad holiday":        func(p *service.Policy) { p.BusinessHours.Holidays = []string{"25/12/2026"} },
		"close after 24:00":  func(p *service.Policy) { p.BusinessHours.Open, p.BusinessHours.Close = "00:00", "24:30" },
		"unknown AI engine":  func(p *service.Policy) { p.AI.Engine = "gpt" },
		"approval by admins": func(p *service.Policy) { p.Refunds.ApprovalLimits = map[string]string{"admin": "10.00"} },
		"negative SLA":       func(p *service.Policy) { p.Refunds.ApprovalSLA = service.Duration(-time.Hour) },
		"escalate to agents": func(p *service.Policy) { p.Refunds.EscalateTo = "agent" },
		"bad reason code":    func(p *service.Policy) { p.Refunds.NonRefundableReasons = []string{"Used Item"} },
		"a float limit":      func(p *service.Policy) { p.Refunds.ApprovalLimits = map[string]string{"finance": "1e6"} },
		"offer timeout":      func(p *service.Policy) { p.Routing.OfferTimeout = service.Duration(48 * time.Hour) },
		"threshold over 1":   func(p *service.Policy) { p.Escalation.MinConfidence = 1.5 },
		"float amount":       func(p *service.Policy) { p.Refunds.AutoApproveLimit = "1e3" },
		"bad currency":       func(p *service.Policy) { p.Refunds.Currency = "euro" },
	} {
		p := good
		p.SLA.FirstResponse = map[string]service.Duration{}
		for k, v := range good.SLA.FirstResponse {
			p.SLA.FirstResponse[k] = v
		}
		mutate(&p)
		if errs := p.Validate(); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	aroundTheClock := good
	aroundTheClock.BusinessHours.Open, aroundTheClock.BusinessHours.Close = "00:00", "24:00"
	if errs := aroundTheClock.Validate(); len(errs) != 0 {
		t.Errorf("00:00–24:00 refused: %v", errs)
	}
	if _, err := service.Parse([]byte(`{"profile":"x","surprise":1}`)); err == nil || !strings.Contains(err.Error(), "surprise") {
		t.Errorf("unknown field: %v", err)
	}
}
