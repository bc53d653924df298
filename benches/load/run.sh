#!/usr/bin/env bash
# The whole-proxy load benchmark (issue #14): stsgate against a plain nginx reverse proxy and
# against no proxy at all, with the same load generator, on the same request, on one machine.
#
#   benches/load/run.sh                  # full run: 8 to 12 minutes once built
#   QUICK=1 benches/load/run.sh          # smoke run, about a minute; results stay under target/
#
# What it does, in order, everything on 127.0.0.1 and every step bounded in time:
#  1. installs what is missing with apt-get (sudo when not root): nginx, wrk, gnuplot-nox,
#     linux-perf when PROFILE=1 and valgrind when INSTRUCTIONS=1 (services are kept from
#     starting during the install);
#  2. builds stsgate and the fixture (crates/standins/src/bin/stsgate-bench-fixture.rs) in
#     release, into CARGO_TARGET_DIR (default target/), and with FLOOR=1 the transport floor;
#  3. starts the targets and what they need:
#       direct   a fast upstream: nginx `return 200` with a small JSON body (stands in for Chime);
#       nginx    nginx as a plain reverse proxy to that upstream (upstream keep-alive, HTTP/1.1);
#       stsgate  the release binary (`stsgate --config <generated toml>`) forwarding to the same
#                upstream, with the fixture's IdP and STS stand-ins, which check every signature;
#       floor    (FLOOR=1) examples/transport_floor.rs: stsgate's accept loop and upstream pool
#                forwarding to the same upstream with no stage, the most hyper and tokio reach;
#  4. warms each target up (every user's token validated and STS session made before measuring:
#     the fixture counts AssumeRole calls, which must equal the users, and stay so), then drives
#     `GET /channels/{demo channel of the configured AppInstance}/messages` with wrk, rotating the
#     users' `Authorization: Bearer` headers (benches/load/wrk.lua), the same requests to all
#     three; for stsgate that is the warm path: token cache hit, session cache hit, SigV4 signing;
#  5. sweeps the concurrency (wrk -c) over CONCURRENCY, all three targets at each step, ROUNDS
#     times (this VM's throughput moves by a third from one run to the next; each table row is
#     the round with the median req/s, and the spread is shown);
#  6. records req/s and exact p50/p90/p99/p99.9 (wrk's histogram, from the Lua done() hook, with
#     wrk's coordinated-omission correction taken back out: see wrk.lua), and stsgate's RSS under
#     load (the kernel's exact peak, VmHWM, reset before each step); then, with RSS_USERS
#     distinct warm users, stsgate's memory; with PROFILE=1 a perf profile of stsgate at c=64,
#     by stage and symbol; and with INSTRUCTIONS=1 each proxy's user-space instructions per
#     request under callgrind (stsgate, COMPARE_BIN if given, nginx), the one figure this VM's
#     noise does not move;
#  7. writes RESULTS_DIR/<YYYY-MM-DD>.md (-2, -3 … for later runs that day: tables, ratios,
#     issue #14's goals, machine, versions,
#     pinning) and RESULTS_DIR/<YYYY-MM-DD>.png (p50 and p99 against throughput, log scale);
#  8. fails on any answer that is not 2xx (wrk's "Non-2xx or 3xx responses") or socket error, and
#     stops everything it started on success, failure or Ctrl-C.
#
# CPU pinning (2 cores): the load generator (wrk, one thread), the fast upstream (nginx, one
# worker) and the fixture (idle once warm) share LOAD_CPU; the proxy under test alone gets
# PROXY_CPU: nginx with worker_processes 1, stsgate with its default runtime, which sizes itself
# to the CPUs it may use (one worker thread). Both proxies get the same single core, and the
# generator and upstream the same core in all three measurements; for "direct" PROXY_CPU idles.
# Both proxies hold keep-alive connections to the upstream and neither writes an access log
# (ACCESS_LOG=1: both do, to files).
#
# Knobs (environment):
#   DURATION=5s          length of each measured step (wrk -d syntax: 10s, 1m); QUICK=1: 2s
#   ROUNDS=3             sweeps, interleaved; QUICK=1: 1
#   WARMUP=3s            warm-up of each target before the sweep; QUICK=1: 1s
#   CONCURRENCY="1 4 16 64 256"   the sweep (wrk -c)
#   USERS=50             distinct users (tokens) rotated in the sweep
#   RSS_USERS=1000       distinct warm users for the memory step (0 skips it)
#   PROFILE=1            perf profile of stsgate at c=64 (after the sweep, not during it); 0 skips
#   INSTRUCTIONS=1       user-space instructions per request of each proxy under callgrind (c=4,
#                        DURATION): a count the VM's noise does not move; 0 skips (QUICK=1: 0)
#   COMPARE_BIN=PATH     another stsgate binary (e.g. a build of an older commit) counted the same
#                        way, and its ratio to this build
#                        (QUICK=1: 0)
#   ACCESS_LOG=0         1: stsgate logs at info (one access line per request) and nginx logs too
#   LOAD_CPU=0 PROXY_CPU=1   the pinning above
#   BASE_PORT=18080      ports BASE_PORT+1 … +6: upstream, nginx, stsgate, stsgate admin,
#                        nginx under callgrind, and the transport floor
#   RESULTS_DIR          default benches/results (QUICK=1: $CARGO_TARGET_DIR/bench-load/results)
#   FLOOR=1              also drive the transport floor (examples/transport_floor.rs: stsgate's
#                        accept loop and upstream pool with no stage between them, on CPU
#                        PROXY_CPU like the proxies), the most a hyper/tokio stsgate can reach;
#                        0 skips it (QUICK=1: 0)
#   FLOOR_SHAPE=pool     pipe: the floor in a cheaper shape than stsgate's (one current-thread
#                        runtime, each client connection with an upstream connection of its own
#                        in the same task), the most any hyper/tokio proxy reaches here
#   FLOOR_RUNTIME        multi or current: the floor's tokio runtime (default: multi for pool,
#                        as stsgate's, current for pipe)
#   SESSION_TOKEN_CHARS=1000   length of the session tokens the STS stand-in issues (stsgate
#                        signs each request with one): real ones vary and run to a thousand
#                        characters or more; runs before 2026-12-03-4 used 137
#   QUICK=1              the short smoke run
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
    DURATION=${DURATION:-2s} WARMUP=${WARMUP:-1s} PROFILE=${PROFILE:-0} ROUNDS=${ROUNDS:-1}
    INSTRUCTIONS=${INSTRUCTIONS:-0} FLOOR=${FLOOR:-0}
fi
FLOOR=${FLOOR:-1}
FLOOR_SHAPE=${FLOOR_SHAPE:-pool}
SESSION_TOKEN_CHARS=${SESSION_TOKEN_CHARS:-1000}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-3s}
CONCURRENCY=${CONCURRENCY:-1 4 16 64 256}
ROUNDS=${ROUNDS:-3}
USERS=${USERS:-50}
RSS_USERS=${RSS_USERS:-1000}
PROFILE=${PROFILE:-1}
INSTRUCTIONS=${INSTRUCTIONS:-1}
COMPARE_BIN=${COMPARE_BIN:-}
# How the report names COMPARE_BIN (e.g. the commit it was built from).
COMPARE_LABEL=${COMPARE_LABEL:-$COMPARE_BIN}
ACCESS_LOG=${ACCESS_LOG:-0}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
BASE_PORT=${BASE_PORT:-18080}
TARGET_DIR=$(mkdir -p "${CARGO_TARGET_DIR:-target}" && cd "${CARGO_TARGET_DIR:-target}" && pwd)
if [[ $QUICK == 1 ]]; then
    RESULTS_DIR=${RESULTS_DIR:-$TARGET_DIR/bench-load/results}
else
    RESULTS_DIR=${RESULTS_DIR:-$ROOT/benches/results}
fi

UPSTREAM_PORT=$((BASE_PORT + 1)) NGINX_PORT=$((BASE_PORT + 2))
STSGATE_PORT=$((BASE_PORT + 3)) ADMIN_PORT=$((BASE_PORT + 4)) FLOOR_PORT=$((BASE_PORT + 6))
DATE=$(date +%F)
RUN=$TARGET_DIR/bench-load/run-$(date +%Y%m%d-%H%M%S)
LUA=$ROOT/benches/load/wrk.lua

log() { printf '[load %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# wrk-style duration → seconds.
seconds() {
    case $1 in
        *ms) echo 1 ;;
        *s) echo "${1%s}" ;;
        *m) echo $((${1%m} * 60)) ;;
        *h) echo $((${1%h} * 3600)) ;;
        *) echo "$1" ;;
    esac
}
[[ $FLOOR_SHAPE == pool || $FLOOR_SHAPE == pipe ]] || die "FLOOR_SHAPE=$FLOOR_SHAPE: pool or pipe"
[[ $SESSION_TOKEN_CHARS =~ ^[0-9]+$ ]] || die "SESSION_TOKEN_CHARS must be a number"
for v in DURATION WARMUP; do
    [[ ${!v} =~ ^[0-9]+(ms|s|m|h)?$ ]] || die "$v=${!v}: use wrk's syntax (10s, 1m)"
done
[[ $USERS =~ ^[1-9][0-9]*$ && $RSS_USERS =~ ^[0-9]+$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] \
    || die "USERS, RSS_USERS and ROUNDS must be numbers"
(( $(nproc) >= 2 )) || die "needs 2 CPUs (load generator and upstream on one, the proxy on the other)"

mkdir -p "$TARGET_DIR/bench-load"

# --- everything started is stopped, whatever happens -------------------------------------------

PIDS=() POLICY_RC_CREATED=0 SUDO=''
[[ $(id -u) == 0 ]] || SUDO=sudo

stop_all() {
    local pid i
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    if [[ $POLICY_RC_CREATED == 1 ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
    if [[ $rc != 0 ]]; then log "exit $rc; logs and raw output are in ${RUN#"$ROOT"/}"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# --- 1. tools ------------------------------------------------------------------------------------

have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }
missing=()
have nginx || missing+=(nginx)
have wrk || missing+=(wrk)
have gnuplot || missing+=(gnuplot-nox)
have curl || missing+=(curl)
have taskset || missing+=(util-linux)
have pgrep || missing+=(procps)
if [[ $PROFILE == 1 ]] && ! have perf; then missing+=(linux-perf); fi
if [[ $INSTRUCTIONS == 1 ]] && ! have callgrind_control; then missing+=(valgrind); fi
[[ -z $COMPARE_BIN || -x $COMPARE_BIN ]] || die "COMPARE_BIN=$COMPARE_BIN is not an executable"
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt-get)"
    # Debian starts a service when its package is installed (nginx on port 80); policy-rc.d
    # saying 101 keeps it from starting. Container images usually ship one already.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    apt_log=$TARGET_DIR/bench-load/apt.log
    timeout 900 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$apt_log" 2>&1 \
        || die "apt-get update: $(tail -n5 "$apt_log")"
    timeout 900 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1 \
        || die "apt-get install ${missing[*]}: $(tail -n5 "$apt_log")"
    if [[ $POLICY_RC_CREATED == 1 ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- 2. build --------------------------------------------------------------------------------------

log "building stsgate and the fixture (release)"
# One invocation, so the fixture shares stsgate's resolved dependency features (and their builds).
build_log=$TARGET_DIR/bench-load/build.log
timeout 3600 cargo build --release --bin stsgate --bin stsgate-bench-fixture >"$build_log" 2>&1 \
    || die "cargo build: $(grep -m5 -A5 '^error' "$build_log")"
STSGATE=$TARGET_DIR/release/stsgate
FIXTURE=$TARGET_DIR/release/stsgate-bench-fixture
if [[ $FLOOR == 1 ]]; then
    # Apart: an example may turn on dev-dependency features, which must not change the stsgate
    # binary being measured.
    log "building the transport floor (release)"
    timeout 3600 cargo build --release --example transport_floor >>"$build_log" 2>&1 \
        || die "cargo build: $(grep -m5 -A5 '^error' "$build_log")"
fi
FLOOR_BIN=$TARGET_DIR/release/examples/transport_floor

# --- 3. the targets ----------------------------------------------------------------------------------

mkdir -p "$RUN"/fixture "$RUN"/nginx "$RESULTS_DIR"
log "run directory ${RUN#"$ROOT"/}"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $UPSTREAM_PORT $NGINX_PORT $STSGATE_PORT $ADMIN_PORT $((BASE_PORT + 5)) $FLOOR_PORT; do
    ! port_in_use "$p" || die "port $p is in use (set BASE_PORT)"
done

# forget PID: a process that has ended and been waited for is no longer stopped at exit.
forget() {
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# stop_one PID: one process started above, stopped (TERM) and waited for.
stop_one() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget "$1"
}

# wait_for WHAT PID SECONDS COMMAND…: until COMMAND succeeds, the process lives and time remains.
wait_for() {
    local what=$1 pid=$2 deadline=$((SECONDS + $3))
    shift 3
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || die "$what exited during start-up"
        ((SECONDS < deadline)) || die "$what did not become ready"
        sleep 0.1
    done
}
http_ok() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1") == 200 ]]; }

APP_INSTANCE_ARN=arn:aws:chime:us-east-1:111122223333:app-instance/11111111-2222-3333-4444-555555555555
if [[ $ACCESS_LOG == 1 ]]; then
    NGINX_ACCESS_LOG="access_log $RUN/nginx/access.log combined buffer=64k;"
    STSGATE_RUST_LOG=info
else
    NGINX_ACCESS_LOG="access_log off;"
    STSGATE_RUST_LOG=warn
fi

# nginx_conf NAME SERVER-BLOCK: one worker, files under the run directory, no access log,
# connections kept alive for the whole run (the default closes one every 1,000 requests).
nginx_conf() {
    cat >"$RUN/nginx/$1.conf" <<EOF
worker_processes 1;
pid $RUN/nginx/$1.pid;
error_log $RUN/nginx/$1.error.log warn;
events { worker_connections 4096; }
http {
    $NGINX_ACCESS_LOG
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $RUN/nginx/$1-client-body;
    proxy_temp_path $RUN/nginx/$1-proxy;
    fastcgi_temp_path $RUN/nginx/$1-fastcgi;
    uwsgi_temp_path $RUN/nginx/$1-uwsgi;
    scgi_temp_path $RUN/nginx/$1-scgi;
$2
}
EOF
}
nginx_conf upstream "
    server {
        listen 127.0.0.1:$UPSTREAM_PORT backlog=4096;
        default_type application/json;
        location / { return 200 '{\"ChannelArn\":\"$APP_INSTANCE_ARN/channel/demo\",\"ChannelMessages\":[]}'; }
    }"
# proxy_server PORT: nginx as the plain reverse proxy to the upstream, listening on PORT.
proxy_server() {
    echo "
    upstream chime {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 1024;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location / {
            proxy_pass http://chime;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
}
nginx_conf proxy "$(proxy_server "$NGINX_PORT")"

# start NAME CPU COMMAND…: in the background, pinned, output to the run directory, in a session
# of its own so that a Ctrl-C reaches only this script and wrk (stsgate would start draining and
# answer 503); the exit trap stops it. setsid and taskset exec, so $! is the server's pid.
start() {
    local name=$1 cpu=$2
    shift 2
    setsid taskset -c "$cpu" "$@" >"$RUN/$name.out" 2>&1 &
    PIDS+=($!)
}

log "starting the upstream (nginx, CPU $LOAD_CPU) and the nginx proxy (CPU $PROXY_CPU)"
for n in upstream proxy; do
    "$NGINX" -t -q -p "$RUN/nginx" -e "$RUN/nginx/$n.error.log" -c "$RUN/nginx/$n.conf" \
        || die "nginx $n config"
done
start nginx-upstream "$LOAD_CPU" "$NGINX" -p "$RUN/nginx" -e "$RUN/nginx/upstream.error.log" \
    -c "$RUN/nginx/upstream.conf" -g 'daemon off;'
UPSTREAM_PID=$!
start nginx-proxy "$PROXY_CPU" "$NGINX" -p "$RUN/nginx" -e "$RUN/nginx/proxy.error.log" \
    -c "$RUN/nginx/proxy.conf" -g 'daemon off;'
NGINX_PID=$!
wait_for "the upstream" "$UPSTREAM_PID" 10 http_ok "http://127.0.0.1:$UPSTREAM_PORT/"
wait_for "the nginx proxy" "$NGINX_PID" 10 http_ok "http://127.0.0.1:$NGINX_PORT/"

TOKEN_COUNT=$((RSS_USERS > USERS ? RSS_USERS : USERS))
log "starting the fixture (IdP and STS stand-ins, $TOKEN_COUNT tokens; CPU $LOAD_CPU)"
F=$RUN/fixture
start fixture "$LOAD_CPU" "$FIXTURE" --dir "$F" --upstream "http://127.0.0.1:$UPSTREAM_PORT" \
    --users "$TOKEN_COUNT" --listen "127.0.0.1:$STSGATE_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --session-token-chars "$SESSION_TOKEN_CHARS"
FIXTURE_PID=$!
wait_for "the fixture" "$FIXTURE_PID" 120 test -e "$F/ready"
cat "$RUN/fixture.out" >&2
REQUEST_PATH=$(<"$F/request-path")
TOKENS=$F/tokens.txt

log "starting stsgate (CPU $PROXY_CPU)"
mapfile -t AWS_ENV <"$F/aws.env"
# stsgate's own identity comes from the standard AWS chain: here the environment keys the STS
# stand-in trusts, and nothing else (no profile files, no instance metadata).
STSGATE_ENV=(env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ROLE_ARN
    -u AWS_WEB_IDENTITY_TOKEN_FILE -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_STS
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
    "${AWS_ENV[@]}" "RUST_LOG=$STSGATE_RUST_LOG")
STSGATE_ARGS=(--log-format json --config "$F/stsgate.toml")
start stsgate "$PROXY_CPU" "${STSGATE_ENV[@]}" "$STSGATE" "${STSGATE_ARGS[@]}"
STSGATE_PID=$!
STSGATE_READY=http://127.0.0.1:$ADMIN_PORT/readyz
wait_for stsgate "$STSGATE_PID" 30 http_ok "$STSGATE_READY"
# tokio names its workers tokio-rt-worker (tokio-runtime-worker before 1.47).
WORKERS=$(cat /proc/"$STSGATE_PID"/task/*/comm 2>/dev/null | grep -c '^tokio-r' || true)

declare -A URL=(
    [direct]="http://127.0.0.1:$UPSTREAM_PORT$REQUEST_PATH"
    [nginx]="http://127.0.0.1:$NGINX_PORT$REQUEST_PATH"
    [stsgate]="http://127.0.0.1:$STSGATE_PORT$REQUEST_PATH"
    [floor]="http://127.0.0.1:$FLOOR_PORT$REQUEST_PATH"
)
TARGETS=(direct nginx stsgate)
# The floor reads stsgate's config: the same listener limits, upstream and timeouts.
FLOOR_ARGS=(--listen "127.0.0.1:$FLOOR_PORT" --config "$F/stsgate.toml" --shape "$FLOOR_SHAPE"
    ${FLOOR_RUNTIME:+--runtime "$FLOOR_RUNTIME"})
if [[ $FLOOR == 1 ]]; then
    log "starting the transport floor (CPU $PROXY_CPU)"
    start floor "$PROXY_CPU" env RUST_LOG=warn "$FLOOR_BIN" "${FLOOR_ARGS[@]}"
    FLOOR_PID=$!
    wait_for "the transport floor" "$FLOOR_PID" 30 http_ok "http://127.0.0.1:$FLOOR_PORT/"
    TARGETS+=(floor)
fi

# One request by hand to each target: 200 and the upstream's body.
first_token=$(head -n1 "$TOKENS")
for t in "${TARGETS[@]}"; do
    code=$(curl -s -m 5 -o "$RUN/$t.first-body" -w '%{http_code}' \
        -H "Authorization: Bearer $first_token" "${URL[$t]}")
    [[ $code == 200 ]] || die "$t answered $code to the first request: $(head -c 300 "$RUN/$t.first-body")"
    grep -q ChannelMessages "$RUN/$t.first-body" || die "$t: not the upstream's body"
done

# --- 4.–6. measuring ------------------------------------------------------------------------------

# busy_cpus: how many CPUs' worth the whole machine used over one second (ours are idle now, so
# this is everyone else: a build or test run beside the benchmark shows here).
busy_cpus() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%.2f", (busy + idle) ? '"$(nproc)"' * busy / (busy + idle) : 0 }'
}
OTHER_LOAD=$(busy_cpus)
if awk -v l="$OTHER_LOAD" 'BEGIN { exit !(l > 0.1) }'; then
    log "WARNING: other processes are using $OTHER_LOAD CPUs; the numbers will be noisy"
fi

sts_calls() { tr -d '\n' <"$F/sts-calls"; }
# expect_sts_calls N WHEN: the fixture's count settles at N (it is rewritten every 200 ms).
expect_sts_calls() {
    local deadline=$((SECONDS + 5))
    until [[ $(sts_calls) == "$1" ]]; do
        ((SECONDS < deadline)) || die "$2: $(sts_calls) AssumeRole calls, expected $1 (one per user)"
        sleep 0.2
    done
}

field() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<"$1"; }
rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# proxy_ticks TARGET: CPU time the proxy under test has used so far, as "USER SYSTEM" clock ticks,
# every thread counted: stsgate's process, or nginx's worker; empty for direct (no proxy).
HZ=$(getconf CLK_TCK)
proxy_ticks() {
    local pids=()
    case $1 in
        stsgate) pids=("$STSGATE_PID") ;;
        nginx) mapfile -t pids < <(pgrep -P "$NGINX_PID") ;;
        floor) pids=("$FLOOR_PID") ;;
        *) return 0 ;;
    esac
    for p in "${pids[@]}"; do cat "/proc/$p/stat"; done |
        awk '{ sub(/^.*\) /, ""); u += $12; s += $13 } END { print u, s }'
}

# drive TARGET CONNECTIONS DURATION USERS OUT: one wrk run; its RESULT line goes into $r. Fails
# on any non-2xx answer or socket error. wrk runs in the background and the shell waits for it:
# a Ctrl-C then reaches the trap at once (a foreground wrk would catch it, end its run early and
# exit 0, and bash would carry on).
drive() {
    local t=$1 c=$2 d=$3 users=$4 out=$5 result wrk_pid
    timeout $(($(seconds "$d") + 30)) taskset -c "$LOAD_CPU" \
        wrk -t1 -c"$c" -d"$d" --timeout 5s -s "$LUA" "${URL[$t]}" -- "$TOKENS" "$users" "$c" >"$out" 2>&1 &
    wrk_pid=$!
    PIDS+=("$wrk_pid")
    wait "$wrk_pid" || die "wrk against $t (c=$c) failed: $(tail -n5 "$out")"
    forget "$wrk_pid"
    result=$(grep '^RESULT ' "$out") || die "wrk against $t (c=$c) printed no RESULT line"
    if grep -q 'Non-2xx or 3xx responses' "$out" || [[ $(field "$result" non2xx) != 0 ]]; then
        die "$t (c=$c): $(field "$result" non2xx) answers were not 2xx (see ${out#"$ROOT"/})"
    fi
    for e in connect read write timeout; do
        [[ $(field "$result" $e) == 0 ]] || die "$t (c=$c): $(field "$result" $e) $e errors (see ${out#"$ROOT"/})"
    done
    [[ $(field "$result" requests) -gt 0 ]] || die "$t (c=$c): no requests completed"
    [[ $(field "$result" histogram) == ok ]] \
        || die "$t (c=$c): could not read wrk's latency histogram: $(field "$result" histogram)"
    r=$result
}

# RSS peaks without watching the process: `reset_peak PID` sets the kernel's high-water mark
# (VmHWM) back to the current RSS (clear_refs 5), so VmHWM read after a step is that step's exact
# peak. (A sampler that read VmRSS every 0.2 s forked awk and sleep on the load CPU during every
# stsgate step and no other target's, and gave stsgate alone a p99.9 of about 1 ms at c=1.)
# PEAK_KB keeps the process's peak over all steps, which the resets would otherwise lose.
PEAK_KB=0
reset_peak() {
    note_peak "$1"
    echo 5 >"/proc/$1/clear_refs" || die "cannot reset the RSS peak of pid $1 (/proc/$1/clear_refs)"
}
# note_peak PID: STEP_PEAK_KB becomes VmHWM (kB), the peak since the last reset_peak, and
# PEAK_KB the larger of the two.
note_peak() {
    STEP_PEAK_KB=$(rss_kb "$1" VmHWM)
    if ((STEP_PEAK_KB > PEAK_KB)); then PEAK_KB=$STEP_PEAK_KB; fi
}

log "warming up ($WARMUP each; $USERS users)"
for t in "${TARGETS[@]}"; do drive "$t" 16 "$WARMUP" "$USERS" "$RUN/warmup-$t.txt"; done
expect_sts_calls "$USERS" "after the warm-up"
RSS_IDLE=$(rss_kb "$STSGATE_PID" VmRSS)

# Every run is one row of runs.tsv. results.tsv keeps, for each target and c, the round with the
# median throughput (a whole row, so that its percentiles belong together), the spread of req/s
# over the rounds and the highest RSS seen.
RUNS=$RUN/runs.tsv RESULTS=$RUN/results.tsv
HEADER=(round target c rps p50_us p90_us p99_us p999_us max_us requests rss_kb mean_us wrk_p99_us cpu_us
    cpu_user_us cpu_sys_us)
(IFS=$'\t'; echo "${HEADER[*]}") >"$RUNS"
for round in $(seq "$ROUNDS"); do
    for c in $CONCURRENCY; do
        for t in "${TARGETS[@]}"; do
            rss=-
            out=$RUN/wrk-$t-c$c-round$round.txt
            if [[ $t == stsgate ]]; then reset_peak "$STSGATE_PID"; fi
            ticks=$(proxy_ticks "$t")
            drive "$t" "$c" "$DURATION" "$USERS" "$out"
            # CPU per request on the proxy's core: unlike req/s, it hardly moves when this VM's
            # host is busy, and it is what a sidecar costs its pod.
            cpu=(- - -)
            if [[ -n $ticks ]]; then
                read -ra cpu < <(awk -v a="$ticks" -v b="$(proxy_ticks "$t")" -v hz="$HZ" \
                    -v n="$(field "$r" requests)" 'BEGIN { split(a, x, " "); split(b, y, " ")
                        k = 1e6 / hz / n; u = (y[1] - x[1]) * k; s = (y[2] - x[2]) * k
                        printf "%.1f %.1f %.1f\n", u + s, u, s }')
            fi
            if [[ $t == stsgate ]]; then note_peak "$STSGATE_PID"; rss=$STEP_PEAK_KB; fi
            row=("$round" "$t" "$c")
            for f in rps p50_us p90_us p99_us p999_us max_us requests; do row+=("$(field "$r" $f)"); done
            row+=("$rss" "$(field "$r" mean_us)" "$(field "$r" wrk_p99_us)" "${cpu[@]}")
            (IFS=$'\t'; echo "${row[*]}") >>"$RUNS"
            log "$(awk -v n="$round/$ROUNDS" -v t="$t" -v c="$c" -v rps="$(field "$r" rps)" \
                -v p50="$(field "$r" p50_us)" -v p99="$(field "$r" p99_us)" \
                -v p999="$(field "$r" p999_us)" 'BEGIN {
                    printf "%s %-7s c=%-3s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms",
                        n, t, c, rps, p50 / 1000, p99 / 1000, p999 / 1000 }')"
        done
    done
done
# Median round per target and c (the lower middle one for an even count).
{
    printf 'target\tc\trps\tp50_us\tp90_us\tp99_us\tp999_us\tmax_us\trequests\trss_kb\tmean_us\twrk_p99_us\trps_min\trps_max\tcpu_us\tcpu_user_us\tcpu_sys_us\n'
    for c in $CONCURRENCY; do
        for t in "${TARGETS[@]}"; do
            awk -F'\t' -v t="$t" -v c="$c" 'NR > 1 && $2 == t && $3 == c' "$RUNS" | sort -t$'\t' -k4,4g |
                awk -F'\t' -v OFS='\t' '{ row[NR] = $0; rps[NR] = $4; if ($11 != "-" && $11 > rss) rss = $11 }
                    END {
                        split(row[int((NR + 1) / 2)], m, "\t")
                        print m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10],
                            (rss == "" ? "-" : rss), m[12], m[13], rps[1], rps[NR], m[14], m[15], m[16] }'
        done
    done
} >"$RESULTS"
expect_sts_calls "$USERS" "after the sweep (the measured runs must not call STS)"
note_peak "$STSGATE_PID"
RSS_SWEEP_HWM=$PEAK_KB
RSS_SWEEP_END=$(rss_kb "$STSGATE_PID" VmRSS)

# --- the profile: a separate c=64 run under perf (its numbers are not in the tables) ------------

PROFILE_NOTE="not taken (PROFILE=0)"
PROFILE_RPS=''
if [[ $PROFILE == 1 ]]; then
    # At most 10 s: DWARF call graphs copy 32 KiB of stack per sample (~16 MB/s at 499 Hz).
    secs=$(seconds "$DURATION")
    ((secs <= 10)) || secs=10
    log "profiling stsgate at c=64 for ${secs}s (perf with DWARF call graphs, on CPU $LOAD_CPU)"
    taskset -c "$LOAD_CPU" timeout $((secs + 30)) perf record -F 499 --call-graph dwarf,32768 \
        -p "$STSGATE_PID" -o "$RUN/perf.data" -- sleep "$secs" >"$RUN/perf-record.out" 2>&1 &
    perf_pid=$!
    PIDS+=("$perf_pid")
    drive stsgate 64 "${secs}s" "$USERS" "$RUN/wrk-stsgate-c64-perf.txt"
    PROFILE_RPS=$(field "$r" rps)
    if wait "$perf_pid" && [[ -s $RUN/perf.data ]]; then
        forget "$perf_pid"
        PROFILE_EVENT=$(perf evlist -i "$RUN/perf.data" 2>/dev/null | awk 'NR == 1')
        log "reading the profile (perf script resolves inlined frames: about a minute)"
        if timeout 600 perf script -i "$RUN/perf.data" -F ip,sym,dso >"$RUN/perf-stacks.txt" 2>/dev/null \
            && awk -f "$ROOT/benches/load/perf-stages.awk" "$RUN/perf-stacks.txt" >"$RUN/perf-stages.tsv"; then
            PROFILE_NOTE=ok
        else
            PROFILE_NOTE="perf script failed"
        fi
        rm -f "$RUN/perf-stacks.txt"
    else
        forget "$perf_pid"
        PROFILE_NOTE="perf could not record: $(tail -n2 "$RUN/perf-record.out" | tr '\n' ' ')"
        log "$PROFILE_NOTE"
    fi
    expect_sts_calls "$USERS" "after the profiled run"
fi

# --- memory with RSS_USERS distinct warm users ---------------------------------------------------

RSS_MEM_MAX='' RSS_MEM_END='' RSS_MEM_HWM='' RSS_MEM_RPS=''
if ((RSS_USERS > 0)); then
    log "memory: $RSS_USERS distinct warm users (c=64, $DURATION)"
    for round in 1 2 3 4 5; do
        drive stsgate 16 "$WARMUP" "$RSS_USERS" "$RUN/warmup-rss-$round.txt"
        [[ $(sts_calls) -lt $TOKEN_COUNT ]] || break
    done
    expect_sts_calls "$TOKEN_COUNT" "after warming $RSS_USERS users"
    reset_peak "$STSGATE_PID"
    drive stsgate 64 "$DURATION" "$RSS_USERS" "$RUN/wrk-stsgate-c64-$RSS_USERS-users.txt"
    note_peak "$STSGATE_PID"
    RSS_MEM_MAX=$STEP_PEAK_KB
    expect_sts_calls "$TOKEN_COUNT" "after the memory run"
    RSS_MEM_RPS=$(field "$r" rps)
    RSS_MEM_END=$(rss_kb "$STSGATE_PID" VmRSS)
    note_peak "$STSGATE_PID"
    RSS_MEM_HWM=$PEAK_KB
fi

# --- user-space instructions per request (callgrind): a count this VM's noise does not move -----

# instructions NAME PORT READY-URL COMMAND…: COMMAND (a proxy listening on PORT, ready once
# READY-URL answers 200) under callgrind with instrumentation off, in the environment of
# INSTR_ENV (an env command line); warms it, counts the instructions of one c=4 run of
# DURATION, stops it.
# Sets INSTR_REQUESTS and INSTR_PER_REQUEST.
INSTR_STSGATE='' INSTR_NGINX='' INSTR_COMPARE='' INSTR_FLOOR='' INSTR_NOTE="INSTRUCTIONS=0"
instructions() {
    local name=$1 port=$2 ready=$3 pid collected
    shift 3
    start "$name" "$PROXY_CPU" "${INSTR_ENV[@]}" valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$RUN/$name.callgrind" "$@"
    pid=$!
    URL[$name]="http://127.0.0.1:$port$REQUEST_PATH"
    wait_for "$name under valgrind" "$pid" 120 http_ok "$ready"
    drive "$name" 4 "$WARMUP" "$USERS" "$RUN/warmup-$name.txt"
    drive "$name" 4 "$WARMUP" "$USERS" "$RUN/warmup2-$name.txt"
    if [[ $name == stsgate-* || $name == compare-* ]]; then
        STS_EXPECTED=$((STS_EXPECTED + USERS))
        expect_sts_calls "$STS_EXPECTED" "after warming $name"
    fi
    callgrind_control -i on "$pid" >/dev/null || die "callgrind_control -i on $name"
    drive "$name" 4 "$DURATION" "$USERS" "$RUN/wrk-$name.txt"
    # callgrind reads a command only while its process runs, and an idle nginx sleeps in
    # epoll_wait for up to a minute: one more request (not counted in INSTR_REQUESTS) wakes it.
    callgrind_control -i off "$pid" >/dev/null &
    local ctl=$!
    curl -s -o /dev/null -m 5 "${URL[$name]}" || true
    wait "$ctl" || die "callgrind_control -i off $name"
    INSTR_REQUESTS=$(field "$r" requests)
    if [[ $name == stsgate-* || $name == compare-* ]]; then
        expect_sts_calls "$STS_EXPECTED" "after counting $name"
    fi
    stop_one "$pid"
    collected=$(awk '/Collected :/ { print $NF }' "$RUN/$name.out")
    [[ -n $collected ]] || die "$name: valgrind reported no count (see ${RUN#"$ROOT"/}/$name.out)"
    INSTR_PER_REQUEST=$((collected / INSTR_REQUESTS))
    log "$name: $INSTR_PER_REQUEST user-space instructions per request ($INSTR_REQUESTS requests)"
}
if [[ $INSTRUCTIONS == 1 ]]; then
    log "instructions per request under callgrind (c=4, $DURATION each)"
    # The measured stsgate gives way (same ports); each new one makes its users' sessions anew.
    stop_one "$STSGATE_PID"
    STS_EXPECTED=$TOKEN_COUNT
    INSTR_ENV=("${STSGATE_ENV[@]}")
    instructions stsgate-callgrind "$STSGATE_PORT" "$STSGATE_READY" "$STSGATE" "${STSGATE_ARGS[@]}"
    INSTR_STSGATE=$INSTR_PER_REQUEST
    if [[ -n $COMPARE_BIN ]]; then
        instructions compare-callgrind "$STSGATE_PORT" "$STSGATE_READY" "$COMPARE_BIN" "${STSGATE_ARGS[@]}"
        INSTR_COMPARE=$INSTR_PER_REQUEST
    fi
    nginx_conf proxy-callgrind "$(proxy_server $((BASE_PORT + 5)))"
    # One process (no master), so that the process callgrind counts is the one serving.
    INSTR_ENV=(env)
    instructions nginx-callgrind $((BASE_PORT + 5)) "http://127.0.0.1:$((BASE_PORT + 5))/" "$NGINX" -p "$RUN/nginx" \
        -e "$RUN/nginx/proxy-callgrind.error.log" -c "$RUN/nginx/proxy-callgrind.conf" \
        -g 'daemon off; master_process off;'
    INSTR_NGINX=$INSTR_PER_REQUEST
    if [[ $FLOOR == 1 ]]; then
        stop_one "$FLOOR_PID"
        instructions floor-callgrind "$FLOOR_PORT" "http://127.0.0.1:$FLOOR_PORT/" "$FLOOR_BIN" "${FLOOR_ARGS[@]}"
        INSTR_FLOOR=$INSTR_PER_REQUEST
    fi
    INSTR_NOTE=ok
fi

# --- 7. the report and the plot ---------------------------------------------------------------------

log "writing the report"
# val TARGET C COLUMN: one number of results.tsv (empty if that step was not run).
val() {
    awk -F'\t' -v t="$1" -v c="$2" -v col="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $1 == t && $2 == c { print $idx[col] }' "$RESULTS"
}
# calc EXPR VAR=VALUE…: awk arithmetic, "n/a" when a value is missing.
calc() {
    local expr=$1 args=() ok=1
    shift
    for a in "$@"; do [[ -n ${a#*=} ]] || ok=0; args+=(-v "$a"); done
    if [[ $ok == 1 ]]; then awk "${args[@]}" "BEGIN { $expr }"; else echo n/a; fi
}
mib() { calc 'printf "%.1f", kb / 1024' kb="$1"; }
# verdict VALUE OP LIMIT
verdict() {
    [[ $1 == n/a ]] && { echo "not measured"; return; }
    if awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then echo met; else echo "**missed**"; fi
}

tput64=$(calc 'printf "%.2f", s / n' s="$(val stsgate 64 rps)" n="$(val nginx 64 rps)")
p99_4=$(calc 'printf "%.2f", s / n' s="$(val stsgate 4 p99_us)" n="$(val nginx 4 p99_us)")
added4=$(calc 'printf "%.3f", (s - d) / 1000' s="$(val stsgate 4 p50_us)" d="$(val direct 4 p50_us)")
added64=$(calc 'printf "%.3f", (s - d) / 1000' s="$(val stsgate 64 p50_us)" d="$(val direct 64 p50_us)")
rss_goal=$(mib "$RSS_MEM_MAX")

CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
REV=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    REV="$REV (with uncommitted changes in the tree)"
fi
version() { "$@" 2>&1 | awk 'NR == 1'; }

# A second run on the same day is <date>-2, and so on: an earlier report is never overwritten.
NAME=$DATE
for ((i = 2; i < 100; i++)); do
    [[ -e $RESULTS_DIR/$NAME.md ]] || break
    NAME=$DATE-$i
done
REPORT=$RESULTS_DIR/$NAME.md
PLOT=$RESULTS_DIR/$NAME.png
{
    echo "# Whole-proxy load benchmark, $DATE"
    echo
    echo "Made by \`benches/load/run.sh\` (issue #14)$([[ $QUICK == 1 ]] && echo ', QUICK=1 smoke run'). The same wrk"
    echo "load goes to three targets on loopback: **direct** (a fast upstream, nginx \`return 200\` with a"
    echo "small JSON body, standing in for Chime), **nginx** (a plain reverse proxy to that upstream, with"
    echo "upstream keep-alive) and **stsgate** (the release binary, forwarding to the same upstream)."
    echo "Every request is \`GET $REQUEST_PATH\`"
    echo "(ListChannelMessages on the demo channel of the configured AppInstance) with one of $USERS users'"
    echo "\`Authorization: Bearer\` tokens in turn; the same requests go to every target. Every user's token"
    echo "was validated and STS session made in the warm-up ($USERS AssumeRole calls, none afterwards), so"
    echo "through stsgate each request is the warm path: token cache hit, session cache hit, SigV4 signing,"
    echo "forwarding. Every answer was 2xx (the script fails otherwise). The STS stand-in's session tokens,"
    echo "which stsgate signs every request with, were $SESSION_TOKEN_CHARS characters long (\`SESSION_TOKEN_CHARS\`)."
    if [[ $FLOOR == 1 ]]; then
        echo
        echo "A fourth target, **floor**, is stsgate's transport alone (\`examples/transport_floor.rs\`):"
        echo "its accept loop and upstream pool on the same runtime and allocator, forwarding each request"
        echo "as it came, with no authentication, mapping, checks or signing. It is the most any proxy"
        echo "built on hyper and tokio this way reaches here, and shows how much of the gap to nginx is"
        echo "stsgate's stages and how much the transport under them."
        if [[ $FLOOR_SHAPE == pipe ]]; then
            echo
            echo "In this run the floor had the **pipe** shape (\`FLOOR_SHAPE=pipe\`), cheaper than stsgate's:"
            echo "one current-thread runtime, and each client connection with an upstream connection of its"
            echo "own, both driven by one task (no pool, no task per upstream connection, no listener limits)."
        fi
        if [[ -n ${FLOOR_RUNTIME:-} ]]; then
            echo "The floor's tokio runtime: **$FLOOR_RUNTIME** (\`FLOOR_RUNTIME\`)."
        fi
    fi
    echo
    echo "Each step ran $DURATION, in $ROUNDS round(s): every target at one c, then the next c, then"
    echo "the whole sweep again. Each row below is the round with the median req/s (its percentiles"
    echo "are that run's); \"req/s, all rounds\" is the spread, which on this VM is wide."
    echo
    echo "## Machine, versions, CPU sharing"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPUs | $(nproc) × $CPU_MODEL |"
    echo "| memory | $MEM_TOTAL |"
    echo "| kernel | $(uname -sr) |"
    echo "| nginx | $(version "$NGINX" -v | sed "s/^nginx version: //") |"
    echo "| wrk | $(version wrk -v | sed 's/ Copyright.*//') |"
    echo "| rustc | $(version rustc --version) |"
    echo "| stsgate | $(version "$STSGATE" --version), git $REV |"
    echo "| CPU $LOAD_CPU | wrk (1 thread), the fast upstream (nginx, 1 worker), the fixture (IdP and STS stand-ins, idle once warm) |"
    echo "| CPU $PROXY_CPU | the proxy under test alone: nginx (\`worker_processes 1\`) or stsgate (its runtime sized to the CPUs it may use: $WORKERS worker thread(s))$([[ $FLOOR == 1 ]] && echo ' or the floor (the same runtime)'); idle for **direct** |"
    echo "| other load | $OTHER_LOAD CPUs busy with other processes just before the sweep (a second's sample of /proc/stat) |"
    echo "| logging | $([[ $ACCESS_LOG == 1 ]] && echo 'access logs on: stsgate at info (JSON to a file), nginx buffered to a file' || echo 'no access log on either proxy (stsgate at `RUST_LOG=warn`, nginx `access_log off`)') |"
    echo
    echo "Pinned with \`taskset\`: both proxies get the same single core, and the load generator and"
    echo "upstream the same other core in all three measurements, so the proxies are compared on equal"
    echo "terms and **direct** is the floor that the generator and upstream set on their own."
    echo
    echo "## Results"
    echo
    echo "Latencies in ms: each request's own, exact, from wrk's histogram read in its Lua \`done()\`"
    echo "hook. wrk 4 reports them only after adding its coordinated-omission correction (each slow"
    echo "request also counted as the requests a constant-rate client would have queued behind it);"
    echo "\`benches/load/wrk.lua\` takes that back out. The corrected p99 is the \"wrk's p99\" column."
    for t in "${TARGETS[@]}"; do
        echo
        echo "### $t"
        echo
        if [[ $t == stsgate ]]; then
            echo "| c | req/s | req/s, all rounds | mean | p50 | p90 | p99 | p99.9 | max | wrk's p99 | requests | RSS peak (MiB) |"
            echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        else
            echo "| c | req/s | req/s, all rounds | mean | p50 | p90 | p99 | p99.9 | max | wrk's p99 | requests |"
            echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        fi
        awk -F'\t' -v t="$t" 'NR > 1 && $1 == t {
            row = sprintf("| %s | %.0f | %.0f–%.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s |",
                $2, $3, $13, $14, $11 / 1000, $4 / 1000, $5 / 1000, $6 / 1000, $7 / 1000, $8 / 1000,
                $12 / 1000, $9)
            if (t == "stsgate") row = row sprintf(" %.1f |", $10 / 1024)
            print row }' "$RESULTS"
    done
    echo
    echo "### Ratios at every step"
    echo
    echo "| c | stsgate / nginx req/s | stsgate / nginx p99 | p50 added over direct: stsgate | nginx | CPU µs per request: stsgate | nginx | stsgate / nginx CPU |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in $CONCURRENCY; do
        echo "| $c | $(calc 'printf "%.2f", s / n' s="$(val stsgate "$c" rps)" n="$(val nginx "$c" rps)") |" \
            "$(calc 'printf "%.2f", s / n' s="$(val stsgate "$c" p99_us)" n="$(val nginx "$c" p99_us)") |" \
            "$(calc 'printf "%+.3f ms", (s - d) / 1000' s="$(val stsgate "$c" p50_us)" d="$(val direct "$c" p50_us)") |" \
            "$(calc 'printf "%+.3f ms", (n - d) / 1000' n="$(val nginx "$c" p50_us)" d="$(val direct "$c" p50_us)") |" \
            "$(val stsgate "$c" cpu_us) | $(val nginx "$c" cpu_us) |" \
            "$(calc 'printf "%.2f", s / n' s="$(val stsgate "$c" cpu_us)" n="$(val nginx "$c" cpu_us)") |"
    done
    echo
    echo "CPU µs per request: user and system time of the proxy's process (nginx: its worker) over"
    echo "the step, from /proc, divided by the requests served; the kernel's loopback TCP work for"
    echo "what the proxy sends is in it, as on a real pod. Split:"
    echo
    echo "| c | stsgate user | stsgate system | nginx user | nginx system | stsgate / nginx user | stsgate / nginx system |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    for c in $CONCURRENCY; do
        echo "| $c | $(val stsgate "$c" cpu_user_us) | $(val stsgate "$c" cpu_sys_us) |" \
            "$(val nginx "$c" cpu_user_us) | $(val nginx "$c" cpu_sys_us) |" \
            "$(calc 'printf "%.2f", s / n' s="$(val stsgate "$c" cpu_user_us)" n="$(val nginx "$c" cpu_user_us)") |" \
            "$(calc 'printf "%.2f", s / n' s="$(val stsgate "$c" cpu_sys_us)" n="$(val nginx "$c" cpu_sys_us)") |"
    done
    echo
    echo "The system calls per request are the same for both proxies; system time also holds waking"
    echo "the process on the other core (the upstream, wrk), which costs more when that core is idle"
    echo "more often, i.e. when the proxy serves fewer requests. User time is the proxy's own work."
    if [[ $FLOOR == 1 ]]; then
        echo
        echo "### stsgate against its transport floor"
        echo
        echo "| c | floor req/s | floor / nginx req/s | stsgate / floor req/s | CPU µs per request: floor (user + system) | stsgate / floor user CPU | stages: stsgate's user CPU over the floor's, µs per request |"
        echo "|---:|---:|---:|---:|---:|---:|---:|"
        for c in $CONCURRENCY; do
            echo "| $c | $(calc 'printf "%.0f", f' f="$(val floor "$c" rps)") |" \
                "$(calc 'printf "%.2f", f / n' f="$(val floor "$c" rps)" n="$(val nginx "$c" rps)") |" \
                "$(calc 'printf "%.2f", s / f' s="$(val stsgate "$c" rps)" f="$(val floor "$c" rps)") |" \
                "$(val floor "$c" cpu_us) ($(val floor "$c" cpu_user_us) + $(val floor "$c" cpu_sys_us)) |" \
                "$(calc 'printf "%.2f", s / f' s="$(val stsgate "$c" cpu_user_us)" f="$(val floor "$c" cpu_user_us)") |" \
                "$(calc 'printf "%.1f", s - f' s="$(val stsgate "$c" cpu_user_us)" f="$(val floor "$c" cpu_user_us)") |"
        done
    fi
    echo
    echo "## Issue #14's goals"
    echo
    echo "| goal | measured | |"
    echo "|---|---:|---|"
    echo "| throughput at c=64 ≥ 0.9 × nginx's | $tput64 × | $(verdict "$tput64" '>=' 0.9) |"
    echo "| p99 at c=4 ≤ 1.5 × nginx's | $p99_4 × | $(verdict "$p99_4" '<=' 1.5) |"
    echo "| p50 added over direct ≤ 0.06 ms (c=4) | $added4 ms | $(verdict "$added4" '<=' 0.06) |"
    echo "| the same at c=64 | $added64 ms | $(verdict "$added64" '<=' 0.06) |"
    if ((RSS_USERS > 0)); then
        echo "| RSS ≤ 60 MB with 1,000 distinct warm users | $rss_goal MiB ($RSS_USERS users) | $( ((RSS_USERS >= 1000)) && verdict "$rss_goal" '<=' 60 || echo "not measured (RSS_USERS=$RSS_USERS)") |"
    else
        echo "| RSS ≤ 60 MB with 1,000 distinct warm users | | not measured (RSS_USERS=0) |"
    fi
    echo
    echo "## Memory (stsgate's RSS)"
    echo
    echo "| when | MiB |"
    echo "|---|---:|"
    echo "| warm, idle, $USERS users | $(mib "$RSS_IDLE") |"
    echo "| peak RSS during the sweep, per step (VmHWM, reset before each step) | see the stsgate table |"
    echo "| after the sweep: VmRSS / VmHWM (the process's peak) | $(mib "$RSS_SWEEP_END") / $(mib "$RSS_SWEEP_HWM") |"
    if ((RSS_USERS > 0)); then
        echo "| $RSS_USERS distinct warm users, c=64 for $DURATION ($(calc 'printf "%.0f", r' r="$RSS_MEM_RPS") req/s): peak RSS (VmHWM, reset before the step) | $(mib "$RSS_MEM_MAX") |"
        echo "| then: VmRSS / VmHWM (the process's peak) | $(mib "$RSS_MEM_END") / $(mib "$RSS_MEM_HWM") |"
    fi
    echo
    echo "## User-space instructions per request (callgrind)"
    echo
    if [[ $INSTR_NOTE == ok ]]; then
        echo "Each proxy alone on CPU $PROXY_CPU under \`valgrind --tool=callgrind\`, warmed, then one c=4 run of"
        echo "$DURATION with instrumentation on for that run only. A count, not a time: the same build gives"
        echo "the same number however busy the host is, so this compares builds where req/s cannot."
        echo "Kernel work (the sockets) is not in it. valgrind's virtual CPU has no SHA extensions, so"
        echo "SHA-256 (SigV4's HMACs, the token cache's hash) runs portable code here, at several times its"
        echo "native cost: read the ratio to nginx as an upper bound."
        echo
        echo "| proxy | instructions per request | / nginx |"
        echo "|---|---:|---:|"
        echo "| nginx | $INSTR_NGINX | 1.00 |"
        if [[ -n $INSTR_FLOOR ]]; then
            echo "| transport floor (no stage) | $INSTR_FLOOR | $(calc 'printf "%.2f", s / n' s="$INSTR_FLOOR" n="$INSTR_NGINX") |"
        fi
        echo "| stsgate, this build | $INSTR_STSGATE | $(calc 'printf "%.2f", s / n' s="$INSTR_STSGATE" n="$INSTR_NGINX") |"
        if [[ -n $INSTR_COMPARE ]]; then
            echo "| stsgate, \`COMPARE_BIN\` ($COMPARE_LABEL) | $INSTR_COMPARE | $(calc 'printf "%.2f", s / n' s="$INSTR_COMPARE" n="$INSTR_NGINX") |"
            echo
            echo "This build runs $(calc 'printf "%.3f", s / c' s="$INSTR_STSGATE" c="$INSTR_COMPARE") × the instructions of \`COMPARE_BIN\` per request."
        fi
        if [[ -n $INSTR_FLOOR ]]; then
            echo
            echo "stsgate's stages add $(calc 'printf "%.0f", s - f' s="$INSTR_STSGATE" f="$INSTR_FLOOR") instructions per request to the floor's $INSTR_FLOOR."
        fi
    else
        echo "Not measured: $INSTR_NOTE."
    fi
    echo
    echo "## Where stsgate's time goes (c=64)"
    echo
    if [[ $PROFILE_NOTE == ok ]]; then
        echo "A separate c=64 run of ${secs}s under \`perf record -F 499 --call-graph dwarf -p <stsgate>\`"
        echo "(event \`$PROFILE_EVENT\`; perf on CPU $LOAD_CPU; $(calc 'printf "%.0f", r' r="$PROFILE_RPS") req/s while sampled)."
        if [[ $PROFILE_EVENT == cpu-clock* ]]; then
            echo "cpu-clock is a timer, not a hardware counter (this VM exposes none): it cannot fire while"
            echo "interrupts are off, so such time shows up where they come back on (\`_raw_spin_unlock_irqrestore\`)."
        fi
        echo "Stages, by what the sampled stack names (\`benches/load/perf-stages.awk\`):"
        echo
        echo "| % of samples | stage | of which malloc/free |"
        echo "|---:|---|---:|"
        awk -F'\t' '$1 == "stage"' "$RUN/perf-stages.tsv" | sort -t$'\t' -k2,2gr |
            awk -F'\t' '{ printf "| %s | %s | %s |\n", $2, $3, ($4 > 0 ? $4 : "") }'
        echo
        echo "The 15 largest symbols by self time:"
        echo
        echo "| % | object | symbol |"
        echo "|---:|---|---|"
        awk -F'\t' '$1 == "self"' "$RUN/perf-stages.tsv" | sort -t$'\t' -k2,2gr | awk 'NR <= 15' |
            awk -F'\t' '{ sym = $4; if (length(sym) > 110) sym = substr(sym, 1, 107) "..."
                gsub(/\|/, "\\|", sym); printf "| %s | %s | `%s` |\n", $2, $3, sym }'
    else
        echo "No profile: $PROFILE_NOTE."
    fi
    echo
    echo "## Plot"
    echo
    echo "![p50 and p99 latency against throughput, direct, nginx and stsgate]($NAME.png)"
    echo
    echo "Each point is one concurrency step, labelled with its c (wrk connections)."
} >"$REPORT"

PLOT_FILES=()
for t in "${TARGETS[@]}"; do
    awk -F'\t' -v t="$t" 'NR > 1 && $1 == t { print $2, $3, $4 / 1000, $6 / 1000 }' "$RESULTS" >"$RUN/plot-$t.dat"
    PLOT_FILES+=("$RUN/plot-$t.dat")
done
FLOOR_PLOT=''
if [[ $FLOOR == 1 ]]; then
    FLOOR_PLOT="  '$RUN/plot-floor.dat'   u 2:3 w lp lw 2 pt 7 lc rgb '#ff7f0e' t 'floor p50', \\
  ''                      u 2:4 w lp lw 2 pt 9 dt 2 lc rgb '#ff7f0e' t 'floor p99', \\
"
fi
cat >"$RUN/plot.gp" <<EOF
set terminal pngcairo size 900,540 font 'DejaVu Sans,10'
set output '$PLOT'
set title "Latency against throughput, c = $CONCURRENCY ($DATE, $(nproc) CPUs, $USERS users)"
set xlabel 'throughput (req/s)'
set ylabel 'latency (ms, log scale)'
set logscale y
set format y '%g'
set grid xtics ytics mytics lc rgb '#dddddd'
set key outside right top
set xrange [0:*]
plot \
  '$RUN/plot-direct.dat'  u 2:3 w lp lw 2 pt 7 lc rgb '#7f7f7f' t 'direct p50', \
  ''                      u 2:4 w lp lw 2 pt 9 dt 2 lc rgb '#7f7f7f' t 'direct p99', \
  '$RUN/plot-nginx.dat'   u 2:3 w lp lw 2 pt 7 lc rgb '#2ca02c' t 'nginx p50', \
  ''                      u 2:4 w lp lw 2 pt 9 dt 2 lc rgb '#2ca02c' t 'nginx p99', \
  '$RUN/plot-stsgate.dat' u 2:3 w lp lw 2 pt 7 lc rgb '#1f77b4' t 'stsgate p50', \
  ''                      u 2:4 w lp lw 2 pt 9 dt 2 lc rgb '#1f77b4' t 'stsgate p99', \
$FLOOR_PLOT  for [f in '${PLOT_FILES[*]}'] \
      f u 2:4:(sprintf('c=%d', \$1)) w labels offset 0,0.9 font ',8' notitle
EOF
timeout 60 gnuplot "$RUN/plot.gp" || die "gnuplot"

stop_all
log "wrote ${REPORT#"$ROOT"/} and ${PLOT#"$ROOT"/}"
awk -F'\t' '{ printf "%-8s %4s %9s %8s %8s %8s %8s\n", $1, $2, $3, $4, $6, $7, $10 }' "$RESULTS" >&2
