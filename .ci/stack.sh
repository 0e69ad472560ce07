#!/usr/bin/env bash
# Brings up what Tandem needs on a Debian machine with Go, and runs it.
#
#   .ci/stack.sh run    PostgreSQL + Temporal dev server, migrate, seed, `tandem dev` in the
#                       foreground; Ctrl-C stops tandem and whatever this script started.
#   .ci/stack.sh test   the same services, then the linters, the whole test suite and the fault tests.
#   .ci/stack.sh lint   go vet, staticcheck and workflowcheck only.
#   .ci/stack.sh faults the fault tests only (kill and restart real processes under load).
#   .ci/stack.sh up     only the services (they keep running; `down` stops them).
#   .ci/stack.sh down   stops the services a previous `up` started.
#   .ci/stack.sh reset  drops the development database (asks first; FORCE=1 does not).
#
# PostgreSQL: DATABASE_URL, if set, is used as it is. Otherwise a server on
# 127.0.0.1:5432 is reused, or the local Debian cluster is started, or Debian's
# postgresql package is installed; then the dev-only role and database are created.
# Temporal: a server answering at TEMPORAL_ADDRESS is reused; otherwise the pinned
# CLI is installed if missing and `temporal server start-dev` runs with its SQLite
# file under .data/. With TEMPORAL=cluster it is instead a Temporal server built
# from go.temporal.io/server at the pinned version, on PostgreSQL (databases
# tandem_temporal and tandem_temporal_visibility, schema by Temporal's SQL tool),
# its frontend on 127.0.0.1:7333 unless TEMPORAL_ADDRESS says otherwise.
# TOPOLOGY=multi makes `run` start two `tandem serve` (:8080, :8081) and two
# `tandem worker` processes instead of one `tandem dev`.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA="$ROOT/.data"
mkdir -p "$DATA"

TEMPORAL_VERSION=1.5.1
TEMPORAL_SERVER_VERSION=1.29.1 # what CLI v1.5.1 embeds; `go install` builds print version 0.0.0-DEV
# Dev-only credentials: the owner runs migrations; the application's role owns
# nothing, so it cannot alter tables or drop the audit trail's triggers.
DEV_MIGRATE_URL="postgres://tandem:tandem-dev-only@127.0.0.1:5432/tandem?sslmode=disable"
DEV_DATABASE_URL="postgres://tandem_app:tandem-app-dev-only@127.0.0.1:5432/tandem?sslmode=disable"
TEMPORAL_MODE="${TEMPORAL:-dev}"
case "$TEMPORAL_MODE" in
  dev) export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}" ;;
  cluster) export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7333}" ;;
  *) echo "TEMPORAL must be dev or cluster, not $TEMPORAL_MODE" >&2; exit 2 ;;
esac
TOPOLOGY="${TOPOLOGY:-single}"
GOBIN_DIR="$(go env GOPATH)/bin"

log() { printf '\033[1mstack:\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  log "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_chromium installs Debian's chromium for the console's browser tests
# (chromedp drives it); the tests find it on PATH or in TANDEM_CHROMIUM.
# Chinese labels need a CJK font (the screenshots show them).
ensure_chromium() {
  local want=()
  if [ -z "${TANDEM_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then want+=(chromium); fi
  if ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then want+=(fonts-noto-cjk); fi
  if [ "${#want[@]}" -gt 0 ]; then apt_install "${want[@]}"; fi
}

# superuser_psql runs psql as the PostgreSQL superuser: over TCP where trust
# auth allows it, else through the local socket as the postgres OS user.
superuser_psql() {
  if psql "postgresql://postgres@127.0.0.1:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
    psql "postgresql://postgres@127.0.0.1:5432/postgres" -v ON_ERROR_STOP=1 -Atq "$@"
  else
    as_root runuser -u postgres -- psql -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  fi
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "PostgreSQL: using DATABASE_URL (and TANDEM_MIGRATE_DATABASE_URL) as given"
    return
  fi
  export DATABASE_URL="$DEV_DATABASE_URL" TANDEM_MIGRATE_DATABASE_URL="$DEV_MIGRATE_URL"
  if port_open 127.0.0.1 5432; then
    log "PostgreSQL: reusing the server on 127.0.0.1:5432"
  else
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      apt_install postgresql
    fi
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "PostgreSQL: starting the local cluster $ver/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    echo "$ver" >"$DATA/postgres.started"
    STARTED+=(postgres)
    for _ in $(seq 1 60); do port_open 127.0.0.1 5432 && break; sleep 0.5; done
    port_open 127.0.0.1 5432 || die "PostgreSQL did not start listening on 127.0.0.1:5432 (is listen_addresses set?)"
  fi
  command -v psql >/dev/null || apt_install postgresql-client
  superuser_psql <<'SQL'
SELECT 'CREATE ROLE tandem LOGIN CREATEDB PASSWORD ''tandem-dev-only'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tandem')\gexec
SELECT 'CREATE ROLE tandem_app LOGIN PASSWORD ''tandem-app-dev-only'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tandem_app')\gexec
SELECT 'CREATE DATABASE tandem OWNER tandem'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tandem')\gexec
SQL
}

temporal_bin() {
  local bin
  for bin in "$(command -v temporal || true)" "$GOBIN_DIR/temporal"; do
    if [ -n "$bin" ] && [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "Server $TEMPORAL_SERVER_VERSION"; then
      echo "$bin"; return
    fi
  done
  log "Temporal: installing CLI v$TEMPORAL_VERSION with go install (a few minutes the first time)"
  GOFLAGS=-buildvcs=false go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION"
  echo "$GOBIN_DIR/temporal"
}

# ensure_weed builds SeaweedFS's `weed`, the S3-compatible object store the
# tests start, from its Go module at the version storetest.WeedVersion pins,
# once per machine. Its go.mod has replace directives, which `go install
# pkg@version` refuses, so it is built inside the module's own directory.
ensure_weed() {
  local version
  version=$(sed -n 's/^const WeedVersion = "\(.*\)"$/\1/p' "$ROOT/activities/store/storetest/objects.go")
  [ -n "$version" ] || die "no WeedVersion in activities/store/storetest/objects.go"
  local bin="$GOBIN_DIR/weed-$version"
  [ -x "$bin" ] && return
  log "SeaweedFS: building weed $version from its Go module (about ten minutes the first time)"
  local dir
  dir=$(go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || die "could not download github.com/seaweedfs/seaweedfs@$version"
  mkdir -p "$GOBIN_DIR"
  (cd "$dir" && GOFLAGS=-buildvcs=false go build -o "$bin.tmp" ./weed) && mv "$bin.tmp" "$bin"
}

# quietly runs a command, showing its output only if it fails.
quietly() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

# temporal_server_dir builds the pinned Temporal server and its SQL tool
# (go.temporal.io/server, served by the module proxy) once, and names their directory.
temporal_server_dir() {
  local dir="$GOBIN_DIR/temporal-server-$TEMPORAL_SERVER_VERSION"
  if [ ! -x "$dir/server" ] || [ ! -x "$dir/sql" ]; then
    log "Temporal: building server v$TEMPORAL_SERVER_VERSION and its SQL tool with go install (a few minutes the first time)"
    GOFLAGS=-buildvcs=false GOBIN="$dir" go install "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
      "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION" >&2
  fi
  echo "$dir"
}

# ensure_temporal_cluster starts a Temporal server on PostgreSQL: the
# production shape (frontend, history, matching and worker services; in one
# process here, each its own deployment in production).
ensure_temporal_cluster() {
  local host=${TEMPORAL_ADDRESS%:*} port=${TEMPORAL_ADDRESS##*:} dir bin cli
  dir=$(temporal_server_dir)
  cli=$(temporal_bin)
  local sqltool=(quietly "$dir/sql" --plugin postgres12 --ep 127.0.0.1 -p 5432 -u tandem --pw tandem-dev-only)
  for db in tandem_temporal tandem_temporal_visibility; do
    if ! superuser_psql -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      log "Temporal: creating database $db and its schema"
      "${sqltool[@]}" --db "$db" create-database
      "${sqltool[@]}" --db "$db" setup-schema -v 0.0
    fi
  done
  # Brings an existing schema up to the pinned server's, too.
  "${sqltool[@]}" --db tandem_temporal update-schema --schema-name postgresql/v12/temporal
  "${sqltool[@]}" --db tandem_temporal_visibility update-schema --schema-name postgresql/v12/visibility
  local root="$DATA/temporal-cluster"
  mkdir -p "$root/config/dynamicconfig"
  cat >"$root/config/dynamicconfig/cluster.yaml" <<'YAML'
matching.numTaskqueueReadPartitions:
  - value: 1
matching.numTaskqueueWritePartitions:
  - value: 1
YAML
  sed -e "s/@HOST@/$host/g" -e "s/@PORT@/$port/g" \
      -e "s/@HISTORY@/$((port + 1))/g" -e "s/@MATCHING@/$((port + 2))/g" -e "s/@WORKER@/$((port + 6))/g" \
      -e "s/@HTTP@/$((port + 10))/g" -e "s/@MPORT@/$((port - 400))/g" -e "s/@MHISTORY@/$((port - 399))/g" \
      -e "s/@MMATCHING@/$((port - 398))/g" -e "s/@MWORKER@/$((port - 394))/g" -e "s|@ROOT@|$root|g" \
      "$ROOT/.ci/temporal-cluster.yaml" >"$root/config/cluster.yaml"
  log "Temporal: starting the server on PostgreSQL at $TEMPORAL_ADDRESS (log $DATA/temporal-cluster.log)"
  setsid "$dir/server" --root "$root" --config config --env cluster --allow-no-auth start \
    >"$DATA/temporal-cluster.log" 2>&1 </dev/null &
  echo $! >"$DATA/temporal-cluster.pid"
  STARTED+=(temporal)
  local ok=
  for _ in $(seq 1 120); do
    if "$cli" operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; then ok=1; break; fi
    kill -0 "$(cat "$DATA/temporal-cluster.pid")" 2>/dev/null || { tail -n 20 "$DATA/temporal-cluster.log" >&2; die "Temporal server exited"; }
    sleep 0.5
  done
  [ -n "$ok" ] || die "Temporal server did not become healthy in 60 s; see $DATA/temporal-cluster.log"
  "$cli" operator namespace create --namespace "${TEMPORAL_NAMESPACE:-default}" --retention 72h \
    --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 || true # registered before: kept
  for _ in $(seq 1 60); do # the frontends learn of a new namespace within seconds
    "$cli" workflow list --namespace "${TEMPORAL_NAMESPACE:-default}" --limit 1 --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 && return
    sleep 0.5
  done
  die "namespace ${TEMPORAL_NAMESPACE:-default} did not become usable; see $DATA/temporal-cluster.log"
}

ensure_temporal() {
  local host=${TEMPORAL_ADDRESS%:*} port=${TEMPORAL_ADDRESS##*:}
  if port_open "$host" "$port"; then
    log "Temporal: reusing the server at $TEMPORAL_ADDRESS"
    return
  fi
  case "$host" in
    127.0.0.1|localhost) ;;
    *) die "TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS does not answer, and only a local server can be started" ;;
  esac
  if [ "$TEMPORAL_MODE" = cluster ]; then
    ensure_temporal_cluster
    return
  fi
  local bin
  bin=$(temporal_bin)
  log "Temporal: starting the dev server on $TEMPORAL_ADDRESS (UI http://127.0.0.1:8233, data $DATA/temporal.db)"
  # setsid: its own process group, so a Ctrl-C reaches tandem first and this
  # script's trap stops the server after tandem has drained.
  setsid "$bin" server start-dev \
    --ip "$host" --port "$port" --ui-port 8233 \
    --db-filename "$DATA/temporal.db" \
    --ui-codec-endpoint "http://${TANDEM_CODEC_ADDR:-127.0.0.1:8234}" \
    --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=NORMAL \
    --dynamic-config-value matching.numTaskqueueReadPartitions=1 \
    --dynamic-config-value matching.numTaskqueueWritePartitions=1 \
    --log-level warn >"$DATA/temporal.log" 2>&1 </dev/null &
  echo $! >"$DATA/temporal.pid"
  STARTED+=(temporal)
  for _ in $(seq 1 120); do
    if "$bin" operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; then
      return
    fi
    kill -0 "$(cat "$DATA/temporal.pid")" 2>/dev/null || { tail -n 20 "$DATA/temporal.log" >&2; die "Temporal dev server exited"; }
    sleep 0.5
  done
  die "Temporal dev server did not become healthy in 60 s; see $DATA/temporal.log"
}

stop_temporal() {
  local f pid
  for f in "$DATA/temporal.pid" "$DATA/temporal-cluster.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      log "Temporal: stopping the server (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

stop_postgres() {
  [ -f "$DATA/postgres.started" ] || return 0
  log "PostgreSQL: stopping the cluster this script started"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(cat "$DATA/postgres.started")" main stop || true
  rm -f "$DATA/postgres.started"
}

# down stops whatever an earlier `up` started.
down() {
  stop_temporal
  stop_postgres
}

# stop_started stops only what this invocation started, so `make test` next to
# a running `make run` leaves that one's services alone.
STARTED=()
stop_started() {
  local s
  for s in "${STARTED[@]}"; do
    case "$s" in
      temporal) stop_temporal ;;
      postgres) stop_postgres ;;
      witness) kill "$WITNESS_PID" 2>/dev/null && wait "$WITNESS_PID" 2>/dev/null || true ;;
    esac
  done
}

up() {
  ensure_postgres
  ensure_temporal
}

# dev_secret makes the development-only JWT secret, audit signing key and
# master key once, outside the repository (in .data/, which git ignores).
dev_secret() {
  if [ -z "${TANDEM_JWT_SECRET:-}" ] && [ -z "${TANDEM_JWT_SECRET_FILE:-}" ]; then
    if [ ! -s "$DATA/jwt-secret" ]; then
      (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$DATA/jwt-secret")
      log "generated a development-only JWT secret in $DATA/jwt-secret"
    fi
    export TANDEM_JWT_SECRET_FILE="$DATA/jwt-secret"
  fi
  if [ -z "${TANDEM_AUDIT_SIGNING_KEY:-}" ] && [ -z "${TANDEM_AUDIT_SIGNING_KEY_FILE:-}" ]; then
    if [ ! -s "$DATA/audit-signing-key" ]; then
      (umask 077 && head -c 32 /dev/urandom | base64 -w0 >"$DATA/audit-signing-key")
      log "generated a development-only audit signing key in $DATA/audit-signing-key"
    fi
    export TANDEM_AUDIT_SIGNING_KEY_FILE="$DATA/audit-signing-key"
  fi
  if [ -z "${TANDEM_EXPORT_SIGNING_KEY:-}" ] && [ -z "${TANDEM_EXPORT_SIGNING_KEY_FILE:-}" ]; then
    if [ ! -s "$DATA/export-signing-key" ]; then
      (umask 077 && head -c 32 /dev/urandom | base64 -w0 >"$DATA/export-signing-key")
      log "generated a development-only export signing key in $DATA/export-signing-key"
    fi
    export TANDEM_EXPORT_SIGNING_KEY_FILE="$DATA/export-signing-key"
  fi
  # Signed checkpoints are also kept outside the database (append-only files).
  export TANDEM_AUDIT_CHECKPOINT_DIR="${TANDEM_AUDIT_CHECKPOINT_DIR:-$DATA/audit-checkpoints}"
  if [ -z "${TANDEM_MASTER_KEY:-}" ] && [ -z "${TANDEM_MASTER_KEY_FILE:-}" ]; then
    if [ ! -s "$DATA/master-key" ]; then
      (umask 077 && printf 'dev1:%s' "$(head -c 32 /dev/urandom | base64 -w0)" >"$DATA/master-key")
      log "generated a development-only master key in $DATA/master-key"
    fi
    export TANDEM_MASTER_KEY_FILE="$DATA/master-key"
  fi
  if [ -z "${TANDEM_PAYLOAD_KEY:-}" ] && [ -z "${TANDEM_PAYLOAD_KEY_FILE:-}" ]; then
    if [ ! -s "$DATA/payload-key" ]; then
      (umask 077 && printf 'dev1:%s' "$(head -c 32 /dev/urandom | base64 -w0)" >"$DATA/payload-key")
      log "generated a development-only payload key in $DATA/payload-key"
    fi
    export TANDEM_PAYLOAD_KEY_FILE="$DATA/payload-key"
  fi
  export TANDEM_CODEC_ADDR="${TANDEM_CODEC_ADDR:-127.0.0.1:8234}"
}

# start_witness runs an audit witness beside tandem: its own process, key
# and state (in $DATA/witness), cosigning each checkpoint that extends the
# last one it saw; the checkpointer is told where it is.
start_witness() {
  local pub addr="${TANDEM_WITNESS_ADDR:-127.0.0.1:8091}"
  pub=$("$DATA/bin/tandem" audit verify-key)
  "$DATA/bin/tandem" witness -state "$DATA/witness" -log-key "$pub" -addr "$addr" >"$DATA/witness.out" 2>"$DATA/witness.log" &
  WITNESS_PID=$!
  STARTED+=(witness)
  for _ in $(seq 50); do
    [ -s "$DATA/witness.out" ] && break
    sleep 0.1
  done
  if [ ! -s "$DATA/witness.out" ]; then
    cat "$DATA/witness.log" >&2
    log "the audit witness did not start (above)"
    exit 1
  fi
  export TANDEM_AUDIT_WITNESSES="${TANDEM_AUDIT_WITNESSES:-$(head -1 "$DATA/witness.out")}"
  log "audit witness on http://$addr (key and state in $DATA/witness, log in $DATA/witness.log)"
}

# lint: no tracked file over 5 MB, go vet, staticcheck, and workflowcheck,
# which proves statically that workflow code calls nothing non-deterministic
# (invariant 3).
lint() {
  # No build output or data dump belongs in the repository.
  if git rev-parse --git-dir >/dev/null 2>&1; then
    local big
    big=$(git ls-files -z | xargs -0 -r du -k --apparent-size 2>/dev/null | awk '$1 > 5120 {print $2}')
    [ -z "$big" ] || die "tracked files over 5 MB (build output? a data dump?): $big"
  fi
  # go.mod and go.sum say exactly what the code imports.
  go mod tidy -diff || die "go.mod or go.sum is not tidy: run go mod tidy and commit the result"
  go vet ./...
  GOFLAGS=-buildvcs=false go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
  # The generated client is what the contract makes.
  local client
  client=$(mktemp)
  GOFLAGS=-buildvcs=false go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -generate types,client \
    -package tandemclient -o "$client" api/openapi.yaml
  cmp -s "$client" api/tandemclient/client.gen.go ||
    die "api/tandemclient is not what the contract makes: run go generate ./api/tandemclient/ and commit it"
  rm -f "$client"
  # The contract passes Redocly's recommended rules (errors fail; warnings are listed).
  command -v npx >/dev/null || apt_install nodejs npm
  (cd "$DATA" && npx --yes @redocly/cli@1.34.5 lint --format=summary "$ROOT/api/openapi.yaml")
  GOFLAGS=-buildvcs=false go run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/...
}

# faults: the fault tests (cmd/tandem/fault_test.go) start PostgreSQL
# clusters and Temporal servers of their own (dev servers, and the server
# built from go.temporal.io/server), so they need PostgreSQL's server
# binaries, the pinned Temporal CLI and server. Bounded by go test's timeout.
faults() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
  fi
  local bin dir
  bin=$(temporal_bin)
  dir=$(temporal_server_dir)
  TANDEM_FAULTS=1 TANDEM_TEMPORAL_BIN="$bin" TANDEM_TEMPORAL_SERVER_DIR="$dir" \
    go test -count=1 -timeout 15m -run '^TestFault' -v ./cmd/tandem/
}

# run_multi runs Tandem as in production: two stateless API processes and
# two workers; Ctrl-C (or any of them exiting) stops all four.
run_multi() {
  local pids=()
  TANDEM_HTTP_ADDR=127.0.0.1:8080 TANDEM_METRICS_ADDR=127.0.0.1:9464 "$DATA/bin/tandem" serve & pids+=($!)
  TANDEM_HTTP_ADDR=127.0.0.1:8081 TANDEM_METRICS_ADDR=127.0.0.1:9465 "$DATA/bin/tandem" serve & pids+=($!)
  TANDEM_METRICS_ADDR=127.0.0.1:9466 "$DATA/bin/tandem" worker & pids+=($!)
  TANDEM_METRICS_ADDR=127.0.0.1:9467 "$DATA/bin/tandem" worker & pids+=($!)
  log "Tandem: two APIs on http://127.0.0.1:8080 and :8081, two workers (pids ${pids[*]}), metrics on :9464-9467; Ctrl-C stops everything"
  trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' INT TERM
  wait -n "${pids[@]}" || true
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}

# reset drops the development database tandem (every case, message and
# key in it) and this checkout's Temporal dev data, after asking.
reset() {
  [ -z "${DATABASE_URL:-}" ] || die "make reset drops only the development database; DATABASE_URL is set"
  if [ "${FORCE:-}" != 1 ]; then
    [ -t 0 ] || die "make reset asks before it drops the development database; FORCE=1 make reset skips the question"
    local answer
    read -r -p "Drop the development database tandem on 127.0.0.1:5432 (every case, message and key in it) and this checkout's Temporal dev data? [y/N] " answer
    case "$answer" in y|Y|yes) ;; *) log "nothing dropped"; exit 1 ;; esac
  fi
  ensure_postgres
  unset DATABASE_URL
  stop_temporal
  rm -f "$DATA"/temporal.db "$DATA"/temporal.db-shm "$DATA"/temporal.db-wal
  superuser_psql -c 'DROP DATABASE IF EXISTS tandem WITH (FORCE)'
  superuser_psql -c 'CREATE DATABASE tandem OWNER tandem'
  log "dropped and created the development database tandem; make run migrates and seeds it with the keys in $DATA/"
}

build() {
  go build -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$DATA/bin/tandem" ./cmd/tandem
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  run)
    trap stop_started EXIT
    up
    dev_secret
    build
    "$DATA/bin/tandem" migrate up
    if ! "$DATA/bin/tandem" seed; then
      log "tandem could not use the development database with the keys in $DATA/ (above). If another checkout, or a"
      log "wiped .data/, made that database: restore its .data/*-key files here, or drop it with \`make reset\` (FORCE=1 to skip the question)."
      exit 1
    fi
    # Development sign-ins to the console (pick a demo user): make run only.
    export TANDEM_CONSOLE_DEV_USERS="${TANDEM_CONSOLE_DEV_USERS:-1}"
    start_witness
    if [ "$TOPOLOGY" = multi ]; then
      run_multi
      exit 0
    fi
    log "Tandem: API on http://${TANDEM_HTTP_ADDR:-127.0.0.1:8080} (console: /console), metrics on http://${TANDEM_METRICS_ADDR:-127.0.0.1:9464}/metrics; Ctrl-C stops everything this command started"
    # Not exec: the EXIT trap must run after tandem has shut down.
    TANDEM_METRICS_ADDR="${TANDEM_METRICS_ADDR:-127.0.0.1:9464}" "$DATA/bin/tandem" dev || status=$?
    exit "${status:-0}"
    ;;
  test)
    trap stop_started EXIT
    up
    ensure_chromium
    ensure_weed
    lint
    go test -race -count=1 -timeout 15m ./...
    faults
    ;;
  faults) faults ;;
  reset) reset ;;
  lint) lint ;;
  bench)
    # Against the stack `make run` is serving, with its development keys.
    shift
    dev_secret
    build
    "$DATA/bin/tandem" bench "$@"
    ;;
  *) echo "usage: $0 run|test|faults|lint|up|down|reset|bench [args]" >&2; exit 2 ;;
esac
