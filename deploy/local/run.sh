#!/usr/bin/env bash
# The local demo: a real Kafka broker, the topics, one worker and live synthetic traffic, with a
# live per-channel summary in the terminal. Ctrl-C stops everything (worker, generator, broker).
#
#   SQM_KAFKA_PORT (9092)  SQM_METRICS_PORT (9310)  SQM_RATE events/s (200)
#   SQM_SCENARIO (degrade:chat)  SQM_DURATION s of traffic (1800)  SQM_CLEAN=1 (start from empty)
set -euo pipefail
cd "$(dirname "$0")/../.."
KAFKA_PORT=${SQM_KAFKA_PORT:-9092}
export SQM_METRICS_PORT=${SQM_METRICS_PORT:-9310}
export SQM_BROKER_URL="kafka://127.0.0.1:${KAFKA_PORT}"
RUN_DIR=.run
mkdir -p "$RUN_DIR"

clean=()
[[ "${SQM_CLEAN:-0}" == 1 ]] && clean=(--clean)
bash deploy/local/kafka.sh start --port "$KAFKA_PORT" "${clean[@]}" >/dev/null

pids=()
stopped=0
cleanup() {
  trap - EXIT INT TERM
  [[ $stopped == 1 ]] && return
  stopped=1
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash deploy/local/kafka.sh stop --port "$KAFKA_PORT" || true
}
trap cleanup EXIT INT TERM

sqm topics apply
sqm worker >"$RUN_DIR/worker.log" 2>&1 &
pids+=($!)
sqm generate --rate "${SQM_RATE:-200}" --duration "${SQM_DURATION:-1800}" \
  --scenario "${SQM_SCENARIO:-degrade:chat}" --seed "$RANDOM" \
  --duplicates 0.01 --disorder-ms 3000 --garbage 0.002 >"$RUN_DIR/generate.log" 2>&1 &
pids+=($!)

cat <<MSG

  broker     127.0.0.1:${KAFKA_PORT}
  metrics    http://127.0.0.1:${SQM_METRICS_PORT}/metrics
  logs       ${RUN_DIR}/worker.log, ${RUN_DIR}/generate.log
  records    indicators on sqm.indicators.v1 (first ones ~1-2 min after start: window 60 s + grace)

MSG
sqm watch --url "http://127.0.0.1:${SQM_METRICS_PORT}/metrics" --interval 2
