#!/usr/bin/env bash
# Load benchmark of `restorectl serve` over loopback with wrk, in the style of
# shared/peers/cerbos/run.sh (same matrix, same columns, plus p99.9) so the two
# tables can be read side by side.
#   benches/service/run.sh          build release, then for each directory (memory, sqlite,
#                                   postgres): start the server, check it answers, run wrk at
#                                   each concurrency, a two-blocker denial and a batch of 100;
#                                   print one table; stop the server
#   SOAK=300 benches/service/run.sh memory directory only: one wrk run of SOAK seconds at
#                                   c=16, sampling the server's RSS every 10 s (memory flat?)
# Env: DUR (wrk seconds, default 10), CONNS (default "1 16 64"), BATCH_CONNS (default 16),
#      DIRS (default "memory sqlite postgres"), SOAK (seconds; soak mode when set),
#      BIN (restorectl binary; default: cargo build --release, target/release/restorectl),
#      PG_URL (server URL without database; default postgres://postgres@127.0.0.1:5432),
#      WORK (scratch folder for bodies, databases and results; default a new temporary one),
#      WRK (default /usr/bin/wrk; Debian package `wrk`).
# Loopback only; every wrk run is bounded by DUR (or SOAK) plus a timeout.
set -euo pipefail
SRC="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$SRC/../.." && pwd)"
DIR="${WORK:-$(mktemp -d)}"
mkdir -p "$DIR"
cp "$SRC/post.lua" "$DIR/"
cd "$DIR"
echo "work folder: $DIR"
DUR="${DUR:-10}"
CONNS="${CONNS:-1 16 64}"
BATCH_CONNS="${BATCH_CONNS:-16}"
DIRS="${DIRS:-memory sqlite postgres}"
SOAK="${SOAK:-}"
WRK="${WRK:-/usr/bin/wrk}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
PG_DB="restore_bench_service"
OUTD="$DIR/results"; mkdir -p "$OUTD"
AT="2026-11-24T10:00:00Z"   # fixed, so the answers do not change with the date
[ -x "$WRK" ] || { echo "wrk not found at $WRK (apt-get install -y wrk)"; exit 1; }

# 1. build
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --bin restorectl)
  BIN="$ROOT/target/release/restorectl"
fi
"$BIN" --version 2>/dev/null | head -1 || true
FIXTURE="$ROOT/tests/fixtures/directory.yaml"
RULES="$ROOT/rules"

# 2. request bodies: the fixture's acme tenant, decided at a fixed time
printf '{"tenant":"acme","member":"u_bob","actor":"u_anna","at":"%s"}' "$AT" >allow.json
printf '{"tenant":"acme","member":"u_eve","actor":"u_anna","at":"%s"}' "$AT" >deny.json
# u_everything: every blocker of the default policy at once
printf '{"tenant":"acme","member":"u_everything","actor":"u_anna","at":"%s"}' "$AT" >deny_multi.json
{
  printf '{"at":"%s","items":[' "$AT"
  for i in $(seq 0 99); do
    [ "$i" -gt 0 ] && printf ','
    if [ $((i % 2)) -eq 0 ]; then m=u_bob; else m=u_day30; fi
    printf '{"tenant":"acme","member":"%s","actor":"u_anna"}' "$m"
  done
  printf ']}'
} >batch100.json

# 3. directories
directory_url() { # kind
  case $1 in
    memory) echo "memory:$FIXTURE" ;;
    sqlite)
      rm -f "$DIR/bench.db"*
      "$BIN" import --from "$FIXTURE" --to "sqlite:$DIR/bench.db" >/dev/null
      echo "sqlite:$DIR/bench.db" ;;
    postgres)
      PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL/postgres" -X -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
      psql "$PG_URL/postgres" -X -qc "CREATE DATABASE $PG_DB" >/dev/null
      "$BIN" import --from "$FIXTURE" --to "$PG_URL/$PG_DB" >/dev/null
      echo "$PG_URL/$PG_DB" ;;
    *) echo "unknown directory kind $1" >&2; exit 2 ;;
  esac
}

# 4. server: started per directory, stopped by its PID
SPID=""
URL=""
stop_server() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID"
    for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SPID" 2>/dev/null && kill -9 "$SPID"
  fi
  SPID=""
}
cleanup() {
  stop_server
  if [[ " $DIRS " == *" postgres "* ]]; then
    psql "$PG_URL/postgres" -X -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
start_server() { # kind
  local url; url=$(directory_url "$1")
  RUST_LOG=warn "$BIN" serve --rules "$RULES" --directory "$url" --listen 127.0.0.1:0 --no-watch \
    >"$OUTD/server-$1.out" 2>"$OUTD/server-$1.log" &
  SPID=$!
  URL=""
  for _ in $(seq 1 300); do
    URL=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$OUTD/server-$1.out" | head -1)
    [ -n "$URL" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$URL" ] || { echo "server on $1 did not start"; cat "$OUTD/server-$1.log"; exit 1; }
  echo "== $1: $URL (pid $SPID)"
  for f in allow deny deny_multi; do
    printf '%s: ' "$f"
    curl -s --max-time 5 -H 'Content-Type: application/json' --data-binary @$f.json "$URL/v1/eligibility" \
      | head -c 300; echo
  done
  local n; n=$(curl -s --max-time 5 -H 'Content-Type: application/json' --data-binary @batch100.json \
    "$URL/v1/eligibility/batch" | grep -o '"allowed":true' | wc -l)
  echo "batch100: $n of 100 allowed"
  [ "$n" = 100 ] || { echo "batch check failed"; exit 1; }
}

# 5. load
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$SPID/stat"; }   # server utime+stime
rss_now() { ps -o rss= -p "$SPID" | tr -d ' '; }
run_wrk() { # name body path conns [seconds]
  local name=$1 body=$2 path=$3 c=$4 d=${5:-$DUR} t=2
  [ "$c" -lt 2 ] && t=1   # wrk requires connections >= threads
  ( sleep "$(( d / 2 ))"; rss_now >"$OUTD/$name.rss" ) & local sp=$!
  local c0; c0=$(cpu_ticks)
  BODY_FILE="$body" URL_PATH="$path" timeout $(( d + 30 )) "$WRK" -t$t -c"$c" -d"${d}s" --timeout 5s \
    --latency -s post.lua "$URL" >"$OUTD/$name.txt" 2>&1
  echo $(( $(cpu_ticks) - c0 )) >"$OUTD/$name.cpu"
  wait "$sp" || true
}
RUNS=()
matrix() { # kind
  local k=$1
  run_wrk "${k}_warmup" allow.json /v1/eligibility 16 "$(( DUR < 3 ? DUR : 3 ))" >/dev/null
  for c in $CONNS; do run_wrk "${k}_allow_c$c" allow.json /v1/eligibility "$c"; RUNS+=("${k}_allow_c$c"); done
  run_wrk "${k}_denymulti_c$BATCH_CONNS" deny_multi.json /v1/eligibility "$BATCH_CONNS"
  RUNS+=("${k}_denymulti_c$BATCH_CONNS")
  run_wrk "${k}_batch100_c$BATCH_CONNS" batch100.json /v1/eligibility/batch "$BATCH_CONNS"
  RUNS+=("${k}_batch100_c$BATCH_CONNS")
  echo "$(rss_now) $(awk '/^VmHWM/ {print $2}' "/proc/$SPID/status")" >"$OUTD/${k}.mem"
}

if [ -n "$SOAK" ]; then
  start_server memory
  rss0=$(rss_now)
  ( for _ in $(seq 1 $(( SOAK / 10 ))); do sleep 10; echo "$(date +%s) $(rss_now)"; done ) \
    >"$OUTD/soak.rss" &
  sampler=$!
  run_wrk soak_allow_c16 allow.json /v1/eligibility 16 "$SOAK"
  wait "$sampler" || true
  {
    printf '\nsoak: memory directory, c=16, %ss; RSS idle %s KiB; samples every 10 s (KiB):\n' "$SOAK" "$rss0"
    awk '{printf "%s ", $2} END {print ""}' "$OUTD/soak.rss"
    awk 'NR==1 {min=$2; max=$2} {if ($2<min) min=$2; if ($2>max) max=$2}
         END {printf "min %d max %d spread %d KiB (%.1f%%)\n", min, max, max-min, (max-min)*100/min}' "$OUTD/soak.rss"
    grep -E '^(LATENCY_US|SUMMARY|Requests/sec)' "$OUTD/soak_allow_c16.txt"
  } | tee "$OUTD/soak.txt"
  exit 0
fi

declare -A IDLE
for k in $DIRS; do
  start_server "$k"
  IDLE[$k]=$(rss_now)
  matrix "$k"
  stop_server
done

# 6. table
lat_ms() { # key file
  sed -n "s/.*LATENCY_US.* $1=\([0-9]*\).*/\1/p" "$2" | awk '{printf "%.3f", $1/1000}'
}
{
printf '\nrestorectl serve; wrk: -t2 (-t1 at c=1) -d%ss --latency; RSS idle (KiB):' "$DUR"
for k in $DIRS; do printf ' %s %s' "$k" "${IDLE[$k]}"; done
printf '; RSS end / peak (KiB):'
for k in $DIRS; do printf ' %s %s' "$k" "$(tr ' ' / <"$OUTD/$k.mem")"; done
printf '\n%-26s %6s %12s %14s %9s %9s %9s %9s %9s %10s %12s\n' \
  run conns req/s decisions/s p50_ms p90_ms p99_ms p99.9_ms non2xx rss_KiB cpu_us/dec
for f in "${RUNS[@]}"; do
  t="$OUTD/$f.txt"
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$t")
  mult=1; case $f in *batch100*) mult=100;; esac
  c=${f##*_c}
  non=$(sed -n 's/.*SUMMARY.* non2xx=\([0-9]*\).*/\1/p' "$t"); non=${non:-?}
  nreq=$(sed -n 's/.*SUMMARY requests=\([0-9]*\).*/\1/p' "$t")
  cpu_us=$(awk -v k="$(cat "$OUTD/$f.cpu")" -v tck="$TCK" -v n="${nreq:-0}" -v m=$mult \
    'BEGIN{ if (n > 0) printf "%.1f", k*1e6/tck/(n*m); else print "?" }')
  printf '%-26s %6s %12s %14.0f %9s %9s %9s %9s %9s %10s %12s\n' "$f" "$c" "$rps" \
    "$(awk -v r="${rps:-0}" -v m=$mult 'BEGIN{print r*m}')" \
    "$(lat_ms p50 "$t")" "$(lat_ms p90 "$t")" "$(lat_ms p99 "$t")" "$(lat_ms p999 "$t")" \
    "$non" "$(cat "$OUTD/$f.rss" 2>/dev/null)" "$cpu_us"
done
} | tee "$OUTD/table.txt"
