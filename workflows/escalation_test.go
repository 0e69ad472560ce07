package workflows_test

import (
	"testing"

	"tandem/workflows"
)

func TestAsksForPerson(t *testing.T) {
	for text, want := range map[string]bool{
		"转人工":                           true,
		"我要人工客服，谢谢":                     true,
		"轉人工":                           true,
		"請幫我轉接人工":                       true,
		"Can I talk to a human please?": true,
		"AGENT!!!":                      true,
		"I want a real person":          true,
		"Let me speak to someone":       true,
		"Where is my parcel?":           false,
		"Put it on the agenda":          false,
		"我的包裹在哪里":                       false,
		"humanitarian aid donation":     false,
	} {
		if got := workflows.AsksForPerson(text); got != want {
			t.Errorf("AsksForPerson(%q) = %v, want %v", text, got, want)
		}
	}
}
