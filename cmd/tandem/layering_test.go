package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// allowedImports reads the layering from docs/architecture.md ("Layout
// and dependencies"): a table whose rows name packages in backquotes and,
// in the second column, the project's packages they may import. Workflow
// code reaches no I/O, activities never the HTTP surface, nothing imports
// the binary ("anything"). A new package needs a row there, a new import a
// reason.
func allowedImports(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "\n## Layout and dependencies\n")
	section, _, _ = strings.Cut(section, "\n## ")
	_, table, ok := strings.Cut(section, "| package | may import |\n|---|---|\n")
	if !ok {
		t.Fatal(`docs/architecture.md: no "| package | may import |" table under "## Layout and dependencies"`)
	}
	named := regexp.MustCompile("`([a-z/]+)`")
	names := func(cell string) []string {
		var out []string
		for _, m := range named.FindAllStringSubmatch(cell, -1) {
			out = append(out, "tandem/"+m[1])
		}
		return out
	}
	allowed := map[string][]string{}
	for _, row := range strings.Split(table, "\n") {
		if !strings.HasPrefix(row, "|") {
			break
		}
		cells := strings.Split(row, "|")
		if len(cells) != 4 {
			t.Fatalf("docs/architecture.md: a layering row needs two columns: %s", row)
		}
		imports := names(cells[2])
		if strings.HasPrefix(strings.TrimSpace(cells[2]), "anything") {
			imports = nil // the binary wires everything
		} else if imports == nil {
			imports = []string{}
		}
		for _, pkg := range names(cells[1]) {
			if _, dup := allowed[pkg]; dup {
				t.Fatalf("docs/architecture.md: %s has two layering rows", pkg)
			}
			allowed[pkg] = imports
		}
	}
	return allowed
}

func TestPackagesImportOnlyWhatTheLayeringAllows(t *testing.T) {
	allowedImports := allowedImports(t)
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports ","}}`, "tandem/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	listed := map[string]bool{}
	for _, line := range lines {
		pkg, _, _ := strings.Cut(line, " ")
		listed[pkg] = true
	}
	for pkg := range allowedImports {
		if !listed[pkg] {
			t.Errorf("docs/architecture.md's layering table has a row for %s, which go list does not find", pkg)
		}
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, " ")
		allowed, ok := allowedImports[pkg]
		if !ok {
			t.Errorf("%s is not in docs/architecture.md's layering table: add its row", pkg)
			continue
		}
		if allowed == nil { // anything
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			if strings.HasPrefix(imp, "tandem/") && !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s, which the layering does not allow", pkg, imp)
			}
		}
		for _, imp := range allowed { // the table says what is, not what once was
			if !slices.Contains(strings.Split(imports, ","), imp) {
				t.Errorf("docs/architecture.md lets %s import %s, which it does not: remove it from the row", pkg, imp)
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
