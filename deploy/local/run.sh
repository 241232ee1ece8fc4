#!/usr/bin/env bash
# The local demo: a real Kafka broker, the topics, one worker, the quality stage, live synthetic
# traffic (with customer surveys), and Prometheus (with the rules `sqm rules` generates) and
# Alertmanager (deploy/alertmanager/), with a live per-channel summary in the terminal.
# Alertmanager's notifications go to a webhook that writes them to .run/notifications.log.
# Ctrl-C stops everything, and so does closing the output (`make run | head`): the broker and
# every process are stopped whichever way the script ends.
#
#   SQM_KAFKA_PORT (9092)  SQM_METRICS_PORT (9310)  SQM_QUALITY_METRICS_PORT (9311)
#   SQM_PROMETHEUS_PORT (9090)
#   SQM_ALERTMANAGER_PORT (9094)  SQM_RATE events/s (200)  SQM_SCENARIO (degrade:chat/tech_support)
#   SQM_DURATION s of traffic (1200)  SQM_CLEAN=1 (start from empty)
#   SQM_CONFIG (deploy/local/sqm.toml: the shipped alerts plus CSAT, NPS and quality index)
#   SQM_RUN_DIR (.run: logs, Prometheus and Alertmanager data)
#   SQM_KAFKA_DATA_DIR (kafka.sh's default: ~/.cache/sqm-monitor/data-<port>)
set -euo pipefail
cd "$(dirname "$0")/../.."
export SQM_CONFIG=${SQM_CONFIG:-deploy/local/sqm.toml}
KAFKA_PORT=${SQM_KAFKA_PORT:-9092}
export SQM_METRICS_PORT=${SQM_METRICS_PORT:-9310}
export SQM_QUALITY_METRICS_PORT=${SQM_QUALITY_METRICS_PORT:-9311}
export SQM_BROKER_URL="kafka://127.0.0.1:${KAFKA_PORT}"
RUN_DIR=${SQM_RUN_DIR:-.run}
mkdir -p "$RUN_DIR"

data_dir=()
[[ -n "${SQM_KAFKA_DATA_DIR:-}" ]] && data_dir=(--data-dir "$SQM_KAFKA_DATA_DIR")
clean=()
if [[ "${SQM_CLEAN:-0}" == 1 ]]; then
  clean=(--clean)
  rm -rf "$RUN_DIR/prometheus" "$RUN_DIR/alertmanager"
fi
bash deploy/local/kafka.sh start --port "$KAFKA_PORT" "${data_dir[@]}" "${clean[@]}" >/dev/null

pids=()
stopped=0
cleanup() {
  trap - EXIT INT TERM HUP PIPE
  # The output may be a closed pipe (`make run | head`): ignore SIGPIPE (children inherit it) so
  # that a failed write cannot kill the cleanup halfway, and keep the stop's output in a log.
  trap '' PIPE
  set +e
  [[ $stopped == 1 ]] && return
  stopped=1
  echo "stopping... (log: $RUN_DIR/stop.log)" 2>/dev/null
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  bash deploy/local/kafka.sh stop --port "$KAFKA_PORT" "${data_dir[@]}" >>"$RUN_DIR/stop.log" 2>&1
}
trap cleanup EXIT INT TERM HUP PIPE

sqm topics apply
sqm worker >"$RUN_DIR/worker.log" 2>&1 &
pids+=($!)
sqm quality >"$RUN_DIR/quality.log" 2>&1 &
pids+=($!)

# Prometheus with the rules generated from the same config, and Alertmanager with the example
# routing; the example's receivers post to 127.0.0.1:9095, where the notification log listens.
PROM_PORT=${SQM_PROMETHEUS_PORT:-9090}
# (not Alertmanager's usual 9093: the local broker's KRaft controller listens there)
AM_PORT=${SQM_ALERTMANAGER_PORT:-9094}
sqm rules --out "$RUN_DIR/sqm-rules.yml" 2>/dev/null
sqm dashboards --out "$RUN_DIR/dashboards" >/dev/null
cat >"$RUN_DIR/prometheus.yml" <<YML
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: [sqm-rules.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:${AM_PORT}"]}]}]
scrape_configs:
  - job_name: sqm-worker
    static_configs: [{targets: ["127.0.0.1:${SQM_METRICS_PORT}"]}]
  - job_name: sqm-quality
    static_configs: [{targets: ["127.0.0.1:${SQM_QUALITY_METRICS_PORT}"]}]
YML
python3 deploy/local/webhook_log.py --port 9095 --log "$RUN_DIR/notifications.log" \
  >"$RUN_DIR/webhook.log" 2>&1 &
pids+=($!)
prometheus-alertmanager --config.file=deploy/alertmanager/alertmanager.yml \
  --storage.path="$RUN_DIR/alertmanager" --web.listen-address="127.0.0.1:${AM_PORT}" \
  --cluster.listen-address= >"$RUN_DIR/alertmanager.log" 2>&1 &
pids+=($!)
prometheus --config.file="$RUN_DIR/prometheus.yml" --storage.tsdb.path="$RUN_DIR/prometheus" \
  --web.listen-address="127.0.0.1:${PROM_PORT}" >"$RUN_DIR/prometheus.log" 2>&1 &
pids+=($!)

sqm generate --rate "${SQM_RATE:-200}" --duration "${SQM_DURATION:-1200}" \
  --scenario "${SQM_SCENARIO:-degrade:chat/tech_support}" --seed "$RANDOM" \
  --duplicates 0.01 --disorder-ms 3000 --garbage 0.002 >"$RUN_DIR/generate.log" 2>&1 &
pids+=($!)

cat <<MSG

  broker        127.0.0.1:${KAFKA_PORT}
  metrics       http://127.0.0.1:${SQM_METRICS_PORT}/metrics (worker)
                http://127.0.0.1:${SQM_QUALITY_METRICS_PORT}/metrics (quality stage: index, gaps)
  probes        http://127.0.0.1:${SQM_METRICS_PORT}/healthz and /readyz (same on the quality stage)
  prometheus    http://127.0.0.1:${PROM_PORT}/alerts (rules: ${RUN_DIR}/sqm-rules.yml)
  alertmanager  http://127.0.0.1:${AM_PORT} (notifications: ${RUN_DIR}/notifications.log)
  dashboards    ${RUN_DIR}/dashboards/*.json for Grafana 11+ (import them, or provision them
                with grafana/provisioning/; their datasource: this Prometheus)
  logs          ${RUN_DIR}/*.log
  records       indicators on sqm.indicators.v1 (first ones ~1-2 min after start: window 60 s
                + grace), alerts on sqm.alerts.v1, quality index per 5-minute period on
                sqm.quality.v1; per queue on sqm.queues.v1; ${SQM_SCENARIO:-degrade:chat/tech_support}:
                see the first line of ${RUN_DIR}/generate.log for when it degrades

MSG
sqm watch --url "http://127.0.0.1:${SQM_METRICS_PORT}/metrics" \
  --url "http://127.0.0.1:${SQM_QUALITY_METRICS_PORT}/metrics" \
  --alertmanager "http://127.0.0.1:${AM_PORT}" --interval 2 --by queue
