#!/usr/bin/env bash
# Runs the README's walkthrough as written against a running stack (make run,
# or TEMPORAL=cluster TOPOLOGY=multi make run), echoing each command and what
# it printed, so a person can check it against the comments beside it.
set -uo pipefail
cd "$(dirname "$0")/.."
script=$(awk '/^## Walkthrough/{on=1} on && /^```sh$/{inblock=1; next} inblock && /^```$/{exit} inblock' README.md)
[ -n "$script" ] || { echo "no sh block under ## Walkthrough in README.md" >&2; exit 1; }
bash -v <(printf '%s\n' "$script") 2>&1
