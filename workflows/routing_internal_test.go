package workflows

import "testing"

func TestSkillQueue(t *testing.T) {
	for _, tc := range []struct {
		mem  AIMemory
		want string
	}{
		{AIMemory{}, DefaultQueue},
		{AIMemory{Topic: "fraud", Domain: "finance"}, SecurityQueue},
		{AIMemory{Topic: "account_security"}, SecurityQueue},
		{AIMemory{Domain: "finance"}, BillingQueue},
		{AIMemory{Topic: "medical"}, MedicalQueue},
		{AIMemory{Domain: "legal"}, LegalQueue},
		{AIMemory{Topic: "complaint", Domain: "general"}, DefaultQueue},
	} {
		if got := skillQueue(tc.mem); got != tc.want {
			t.Errorf("skillQueue(%+v) = %q, want %q", tc.mem, got, tc.want)
		}
	}
}
