package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"tandem/activities/ai/eval"
)

// runEval measures the AI layer on the public data in -data and prints one
// table (or JSON). A folder without the data is not an error: there is
// nothing to measure, and it says so.
func runEval(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	dir := fs.String("data", "../shared/eval", "folder with one sub-folder per data set, each holding public.jsonl")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	results, err := eval.Run(ctx, *dir)
	if errors.Is(err, eval.ErrNoData) {
		fmt.Fprintf(stdout, "tandem eval: no evaluation data in %s; nothing measured\n", *dir)
		return nil
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "dataset\tmetric\tvalue\ttarget\tmet\tn\tprotocol")
	for _, r := range results {
		target, met := "", ""
		if r.Target > 0 {
			target, met = fmt.Sprintf("%.2f", r.Target), map[bool]string{true: "yes", false: "NO"}[r.Met]
		}
		fmt.Fprintf(w, "%s\t%s\t%.3f\t%s\t%s\t%d\t%s\n", r.Dataset, r.Metric, r.Value, target, met, r.N, r.Note)
	}
	return w.Flush()
}

// runTrainEmotion trains the emotion models from the public data; the files
// it writes are committed, with the rows they learned from in their headers.
func runTrainEmotion(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("train-emotion", flag.ContinueOnError)
	dir := fs.String("data", "../shared/eval", "folder with one sub-folder per data set, each holding public.jsonl")
	out := fs.String("out", "activities/ai/models", "where to write the models")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wrote, err := eval.TrainEmotion(*dir, *out)
	for _, w := range wrote {
		fmt.Fprintln(stdout, "wrote", w)
	}
	return err
}
