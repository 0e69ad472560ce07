package workflows_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
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

// TestEveryVersionChangeHasAHistory fails when a change ID that workflow
// code asks workflow.GetVersion about has no committed history that
// recorded its marker: that branch would be guarded by nothing.
func TestEveryVersionChangeHasAHistory(t *testing.T) {
	asked := versionChangeIDs(t)
	if len(asked) == 0 {
		t.Fatal("found no GetVersion call in the workflow code: the test would prove nothing")
	}
	recorded := map[string][]string{}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	dc := payloadCodec.DataConverter()
	for _, f := range files {
		raw, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(raw, client.HistoryJSONOptions{})
		raw.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, e := range h.GetEvents() {
			m := e.GetMarkerRecordedEventAttributes()
			if e.GetEventType() != enumspb.EVENT_TYPE_MARKER_RECORDED || m.GetMarkerName() != versionMarker {
				continue
			}
			var id string
			if err := dc.FromPayloads(m.GetDetails()["change-id"], &id); err != nil {
				t.Fatalf("%s: event %d: %v", f, e.GetEventId(), err)
			}
			recorded[id] = append(recorded[id], filepath.Base(f))
		}
	}
	for _, id := range asked {
		if len(recorded[id]) == 0 {
			t.Errorf("change %q is asked for in workflow code but no history in testdata/ records it: record one (make histories)", id)
		}
	}
}

// versionMarker is the marker the Go SDK records for workflow.GetVersion.
const versionMarker = "Version"

// versionChangeIDs lists the change IDs the package's workflow code passes
// to workflow.GetVersion, read from its source.
func versionChangeIDs(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "GetVersion" {
				return true
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: GetVersion with a change ID that is not a string literal", fset.Position(call.Pos()))
				return true
			}
			id, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
			return true
		})
	}
	return ids
}
