package workflows_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
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

// dataKeysDown is a key store that seals with one customer's data key but
// cannot read a data key by its ID: it is slow or down.
type dataKeysDown struct{ oneKey }

func (dataKeysDown) DataKey(ctx context.Context, _ string) ([]byte, error) {
	return nil, fmt.Errorf("read data key: %w", context.DeadlineExceeded)
}

// oneKey is a key store holding one customer's data key.
type oneKey struct{ key []byte }

func (k oneKey) WorkflowKey(context.Context, string) (string, []byte, bool, error) {
	return "dk_test", k.key, true, nil
}

func (k oneKey) DataKey(context.Context, string) ([]byte, error) { return k.key, nil }

// A payload whose customer's key cannot be read while a worker replays a
// case fails that workflow task, to be retried; the replay never goes on
// without it. The SDK reads version markers and update inputs itself, and
// before the worker's converter failed such reads, a version marker it could
// not read was taken for "no version" and an update input for a rejection:
// the replay took another path than the run had (TMPRL1100).
func TestReplayWithoutAKeyFailsTheTask(t *testing.T) {
	const file = "testdata/CaseWorkflow_concurrent_messages.json"
	dataKey := []byte("test-only-data-key-of-32-bytes!!")
	for _, c := range []struct {
		name string
		seal func(*historypb.HistoryEvent) bool
	}{
		{"version markers", func(e *historypb.HistoryEvent) bool {
			return e.GetMarkerRecordedEventAttributes().GetMarkerName() == versionMarker
		}},
		{"update inputs", func(e *historypb.HistoryEvent) bool {
			return e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := resealed(t, file, dataKey, c.seal)
			keys, err := codec.New(oneKey{dataKey}, codec.Key{ID: "test", Key: []byte("test-only-payload-key-32-bytes!!")})
			if err != nil {
				t.Fatal(err)
			}
			if err := replay(keys, h); err != nil {
				t.Fatalf("with its key the history does not replay: %v", err)
			}
			down, err := codec.New(dataKeysDown{oneKey{dataKey}}, codec.Key{ID: "test", Key: []byte("test-only-payload-key-32-bytes!!")})
			if err != nil {
				t.Fatal(err)
			}
			down.SetLookupLimit(10 * time.Millisecond)
			err = replay(down, h)
			if err == nil {
				t.Fatal("the history replayed without its key")
			}
			if !strings.Contains(err.Error(), "its key being unavailable") || strings.Contains(err.Error(), "TMPRL1100") {
				t.Fatalf("replay without the key: %v; want the task failed for want of the key, nothing replayed without it", err)
			}
		})
	}
}

func replay(c *codec.Codec, h *historypb.History) error {
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter: c.WorkerDataConverter(), FailureConverter: c.WorkerFailureConverter()})
	if err != nil {
		return err
	}
	workflows.Register(r)
	return r.ReplayWorkflowHistory(nil, h)
}

// resealed is a committed history with the payloads of the events seal
// picks sealed with a customer's data key instead of the payload key.
func resealed(t *testing.T, file string, dataKey []byte, seal func(*historypb.HistoryEvent) bool) *historypb.History {
	t.Helper()
	raw, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	h, err := client.HistoryFromJSON(raw, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	customer, err := codec.New(oneKey{dataKey}, codec.Key{ID: "test", Key: []byte("test-only-payload-key-32-bytes!!")})
	if err != nil {
		t.Fatal(err)
	}
	sealer := customer.WithSerializationContext(converter.WorkflowSerializationContext{WorkflowID: "case:test"})
	sealed := 0
	for _, e := range h.GetEvents() {
		if !seal(e) {
			continue
		}
		sealed++
		err := proxy.VisitPayloads(t.Context(), e, proxy.VisitPayloadsOptions{
			Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
				plain, err := payloadCodec.Decode(ps)
				if err != nil {
					return nil, err
				}
				return sealer.Encode(plain)
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if sealed == 0 {
		t.Fatalf("%s has no event to seal: the test would prove nothing", file)
	}
	return h
}
