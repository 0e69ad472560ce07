package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tandem/workflows"
	"tandem/workflows/codec"
)

var workflowOpts = workflow.RegisterOptions{Name: workflows.CaseWorkflowName}

// payloadCodec opens the payloads of histories recorded by `make histories`.
// Test-only key; it must match the one in api/stack_test.go.
var payloadCodec, _ = codec.New(nil, codec.Key{ID: "test", Key: []byte("test-only-payload-key-32-bytes!!")})

// TestReplayCommittedHistories replays every history in testdata/ against the
// current workflow code. A failure means a change would break cases already
// running in production: guard it with workflow.GetVersion (see README).
// Histories are recorded from the real server by `make histories`.
func TestReplayCommittedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, f := range files {
		types[strings.SplitN(filepath.Base(f), "_", 2)[0]]++
	}
	// Every workflow type must be guarded by at least one history.
	for _, typ := range []string{workflows.CaseWorkflowName, workflows.RefundWorkflowName} {
		if types[typ] == 0 {
			t.Errorf("no committed history for %s in testdata/ (file names start with the type)", typ)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: payloadCodec.DataConverter()})
			if err != nil {
				t.Fatal(err)
			}
			workflows.Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
