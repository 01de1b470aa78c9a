#!/usr/bin/env bash
# make demo: process a few trading days end to end on this machine.
# Uses the Theta Terminal named by SPX_THETADATA_BASE_URL / THETADATA_BASE_URL
# when one is configured; otherwise starts spx's simulated terminal.
set -euo pipefail
dir=${1:-./demo-data}
spx=${SPX_BIN:-./bin/spx}
mkdir -p "$dir"
export SPX_NATS_STORE_DIR="$dir/nats"
export SPX_PROCESSING_TEMP_DIR="$dir/temp"
# Ports of our own so the demo never collides with a real NATS or terminal.
export SPX_NATS_LISTEN=127.0.0.1:${DEMO_NATS_PORT:-14222}
export SPX_NATS_MONITOR=127.0.0.1:${DEMO_MONITOR_PORT:-18222}

terminal=${SPX_THETADATA_BASE_URL:-${THETADATA_BASE_URL:-}}
sim_pid=
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap cleanup EXIT
if [ -z "$terminal" ]; then
  v3=127.0.0.1:${DEMO_V3_PORT:-25603}
  v2=127.0.0.1:${DEMO_V2_PORT:-25610}
  for addr in "$v3" "$v2"; do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
      echo "demo: $addr is already in use (another simulated terminal or demo?): stop it, or pick free ports with DEMO_V3_PORT=… DEMO_V2_PORT=… make demo" >&2
      exit 1
    fi
  done
  echo "demo: no terminal configured; starting the simulated terminal on $v3 (v3) and $v2 (v2)"
  # A reduced universe (8 expirations a root, 60 strikes each) keeps the demo
  # to about a minute; drop the two limits for full-size days.
  "$spx" sim-terminal --v3-addr "$v3" --v2-addr "$v2" --seed 1 \
    --max-expirations 8 --max-strikes 60 >"$dir/sim-terminal.log" 2>&1 &
  sim_pid=$!
  terminal=http://$v3
  for _ in $(seq 1 50); do
    curl -fsS "$terminal/v3/terminal/mdds/status" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! kill -0 "$sim_pid" 2>/dev/null; then
    echo "demo: the simulated terminal did not start; its log:" >&2
    cat "$dir/sim-terminal.log" >&2
    exit 1
  fi
fi

"$spx" process-range 2024-03-11 2024-03-13 \
  --db "$dir/spx.db" --output-dir "$dir/parquet" --terminal "$terminal"

"$spx" verify --db "$dir/spx.db" --output-dir "$dir/parquet" --from 2024-03-11 --to 2024-03-13

echo
echo "Parquet files are under $dir/parquet:"
find "$dir/parquet" -name '*.parquet' | sort | head -20 || true # head may close the pipe early
echo
echo "Query them with DuckDB:"
echo "  duckdb -c \"SELECT root, date, count(*) AS rows, avg(implied_vol) FROM read_parquet('$dir/parquet/greeks/**/*.parquet', hive_partitioning=true) GROUP BY ALL ORDER BY ALL\""
