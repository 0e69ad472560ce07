package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowedImports is the layering of docs/architecture.md ("Layout and
// dependencies"): the project's packages each package may import. Workflow
// code reaches no I/O, activities never the HTTP surface, nothing imports
// the binary. A new package needs a row here, a new import a reason there.
var allowedImports = map[string][]string{
	"tandem/workflows":           {"tandem/policies/service"},
	"tandem/workflows/codec":     {},
	"tandem/policies":            {},
	"tandem/policies/service":    {},
	"tandem/migrations":          {},
	"tandem/activities/envelope": {},
	"tandem/activities/auditlog": {},
	"tandem/activities/notify":   {},
	"tandem/activities/money":    {"tandem/workflows"},
	"tandem/activities/webhooks": {"tandem/activities/notify"},
	"tandem/activities/ai/lang":  {},
	"tandem/activities/store": {"tandem/activities/ai/lang", "tandem/activities/auditlog", "tandem/activities/envelope",
		"tandem/activities/money", "tandem/activities/notify", "tandem/policies", "tandem/policies/service", "tandem/workflows"},
	"tandem/activities/store/storetest": {"tandem/activities/envelope", "tandem/activities/store", "tandem/migrations"},
	"tandem/activities/ai":              {"tandem/activities/ai/lang", "tandem/activities/store"},
	"tandem/activities/ai/eval":         {"tandem/activities/ai", "tandem/activities/store"},
	"tandem/activities/payments":        {"tandem/activities/money", "tandem/activities/store", "tandem/workflows"},
	"tandem/activities": {"tandem/activities/ai", "tandem/activities/money", "tandem/activities/payments", "tandem/activities/store",
		"tandem/activities/webhooks", "tandem/policies/service", "tandem/workflows"},
	"tandem/activities/consistency": {"tandem/activities", "tandem/activities/store", "tandem/workflows"},
	"tandem/api/telemetry":          {},
	"tandem/api/tandemclient":       {},
	"tandem/api": {"tandem/activities/ai", "tandem/activities/auditlog", "tandem/activities/consistency",
		"tandem/activities/money", "tandem/activities/payments", "tandem/activities/store", "tandem/activities/webhooks",
		"tandem/api/telemetry", "tandem/policies", "tandem/policies/service", "tandem/workflows"},
	"tandem/cmd/tandem": nil, // the binary wires everything
}

func TestPackagesImportOnlyWhatTheLayeringAllows(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports ","}}`, "tandem/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < len(allowedImports) {
		t.Fatalf("go list found %d packages, the table has %d", len(lines), len(allowedImports))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, " ")
		allowed, ok := allowedImports[pkg]
		if !ok {
			t.Errorf("%s is not in the layering table: add its row (and one to docs/architecture.md)", pkg)
			continue
		}
		if pkg == "tandem/cmd/tandem" {
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			if strings.HasPrefix(imp, "tandem/") && !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s, which the layering does not allow", pkg, imp)
			}
		}
	}
}

// A source file holds one job: past about 600 lines it says at its top why
// it is one file ("one file because …"). Tests and generated code aside.
func TestNoSourceFileOutgrowsOneJob(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}`, "tandem/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, file := range strings.Fields(string(out)) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		if strings.Contains(text, "Code generated") {
			continue
		}
		head, _, _ := strings.Cut(text, "\nimport")
		if n := strings.Count(text, "\n"); n > 600 && !strings.Contains(head, "one file because") {
			t.Errorf("%s has %d lines: split it by job, or say at its top why it is one file (\"one file because …\")", file, n)
		}
	}
}
