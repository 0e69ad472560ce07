package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// result waits for f (an activity's or a local activity's) and decodes its
// value into v. Only what the activity did is an outcome the workflow may
// decide on: a value that is there but cannot be decoded (the payload codec
// could not read a customer's data key, PostgreSQL being slow) is not one,
// for a replay that reads the key would decide otherwise — an AI turn taken
// for a failure here and for an answer there is a non-determinism. Such a
// value fails the workflow task instead (the SDK fails a task whose code
// panics), and Temporal retries the task until the key can be read.
func result(ctx workflow.Context, f workflow.Future, v any) error {
	if err := f.Get(ctx, nil); err != nil || v == nil {
		return err
	}
	if err := f.Get(ctx, v); err != nil {
		panic(UndecodableError{Err: err})
	}
	return nil
}

// UndecodableError is a result the workflow could not decode: its task
// fails and is retried; nothing is decided on it.
type UndecodableError struct{ Err error }

func (e UndecodableError) Error() string {
	return fmt.Sprintf("a result could not be decoded; the workflow task is retried: %v", e.Err)
}

func (e UndecodableError) Unwrap() error { return e.Err }
