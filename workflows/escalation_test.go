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

// One rule reads the trend for the escalation trigger and for the handoff.
func TestSentimentTrend(t *testing.T) {
	for _, tc := range []struct {
		scores []float64
		want   string
	}{
		{nil, workflows.TrendUnknown},
		{[]float64{0.5}, workflows.TrendUnknown},
		{[]float64{0.1, 0.4}, workflows.TrendRising},
		{[]float64{0.1, 0.2}, workflows.TrendSteady},           // not by a fifth of the scale
		{[]float64{0.9, 0.1, 0.3, 0.6}, workflows.TrendRising}, // the last three
		{[]float64{0.2, 0.5, 0.4, 0.7}, workflows.TrendSteady}, // not each higher
		{[]float64{0.8, 0.6, 0.3}, workflows.TrendFalling},
		{[]float64{0.3, 0.3, 0.3}, workflows.TrendSteady},
	} {
		if got := workflows.SentimentTrend(tc.scores); got != tc.want {
			t.Errorf("SentimentTrend(%v) = %s, want %s", tc.scores, got, tc.want)
		}
	}
}
