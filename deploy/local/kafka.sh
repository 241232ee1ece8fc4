#!/usr/bin/env bash
# Local single-node Apache Kafka 4.x broker (KRaft, combined broker+controller; no ZooKeeper, no Docker).
#
#   deploy/local/kafka.sh fetch
#   deploy/local/kafka.sh start  [--port P] [--data-dir D] [--controller-port C] [--clean]
#                                [--extra-config FILE] [--add-scram SPEC]
#   deploy/local/kafka.sh stop   [--port P] [--data-dir D]
#   deploy/local/kafka.sh status [--port P] [--data-dir D]
#   deploy/local/kafka.sh wipe   [--port P] [--data-dir D]      # stop, then delete the data dir
#
# Jars come from Maven Central through deploy/local/pom.xml and are cached outside the repo in
#   ${SQM_CACHE_DIR:-$HOME/.cache/sqm-monitor}/kafka-<version>/libs
# Defaults: port 9092, controller port P+1, data dir ${SQM_CACHE_DIR:-$HOME/.cache/sqm-monitor}/data-<P>.
# `start` prints only the bootstrap address (127.0.0.1:P) on stdout; progress goes to stderr.
# --extra-config FILE: lines appended to the generated server.properties (a later key wins, so it
#   can add listeners, e.g. a SASL_SSL one next to PLAINTEXT). --add-scram SPEC: a SCRAM user
#   created when the data dir is formatted, e.g. 'SCRAM-SHA-512=[name=sqm,password=secret]'.
#
# Environment:
#   SQM_CACHE_DIR          cache root (default $HOME/.cache/sqm-monitor)
#   SQM_KAFKA_VERSION      Kafka version (default: <kafka.version> in pom.xml)
#   SQM_KAFKA_HEAP_OPTS    JVM heap options (default "-Xms256m -Xmx512m")
#   SQM_KAFKA_START_TIMEOUT  seconds to wait for the broker to answer (default 60)
#   SQM_PYTHON             python interpreter used for small helpers (default python3)
#   JAVA_HOME              java to use (default: java on PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$HERE/pom.xml"
CACHE_DIR=${SQM_CACHE_DIR:-$HOME/.cache/sqm-monitor}
KAFKA_VERSION=${SQM_KAFKA_VERSION:-$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM" | head -n 1)}
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
MARKER="$KAFKA_HOME/.fetched"
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
HEAP_OPTS=${SQM_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
START_TIMEOUT=${SQM_KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=30
HOST=127.0.0.1
DATA_MARK=".sqm-kafka-data"   # present in every data dir this script created; `wipe` requires it

if [[ -n "${SQM_PYTHON:-}" ]]; then
  PYTHON=$SQM_PYTHON
elif command -v python3 >/dev/null 2>&1; then
  PYTHON=python3
else
  PYTHON=python
fi

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

# ---------------------------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------------------------

# The marker holds the version and a hash of the pom, so editing the pom (e.g. a log4j bump)
# triggers a re-fetch while an unchanged pom is a no-op.
marker_content() {
  printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum "$POM" | cut -d' ' -f1)"
}

is_fetched() {
  [[ -f "$MARKER" && -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] \
    && [[ "$(cat "$MARKER")" == "$(marker_content)" ]]
}

cmd_fetch() {
  if is_fetched; then
    log "kafka $KAFKA_VERSION jars already cached in $LIBS"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (Maven is needed to fetch the Kafka jars)"
  mkdir -p "$KAFKA_HOME"
  # Serialise concurrent fetches (parallel test sessions). The lock lives in a subshell so the
  # broker started later never inherits the lock file descriptor.
  (
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if is_fetched; then log "kafka $KAFKA_VERSION jars were fetched by a concurrent run"; exit 0; fi
    log "fetching kafka_2.13 $KAFKA_VERSION and dependencies from Maven Central into $LIBS"
    local_start=$SECONDS
    tmp=$(mktemp -d "$KAFKA_HOME/libs.tmp.XXXXXX")
    mvn_log="$KAFKA_HOME/fetch.log"
    if ! mvn -q -B -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
      cat "$mvn_log" >&2
      rm -rf "$tmp"
      die "maven could not fetch kafka $KAFKA_VERSION (see output above)"
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    marker_content >"$MARKER"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - local_start)) s"
  ) 9>"$KAFKA_HOME/.fetch.lock"
}

# ---------------------------------------------------------------------------------------------
# argument parsing and process helpers
# ---------------------------------------------------------------------------------------------

PORT=9092
CONTROLLER_PORT=""
DATA_DIR=""
CLEAN=0
EXTRA_CONFIG=""
ADD_SCRAM=()

parse_args() {
  while (($#)); do
    case "$1" in
      --port) PORT=${2:?--port needs a value}; shift 2 ;;
      --port=*) PORT=${1#*=}; shift ;;
      --controller-port) CONTROLLER_PORT=${2:?--controller-port needs a value}; shift 2 ;;
      --controller-port=*) CONTROLLER_PORT=${1#*=}; shift ;;
      --data-dir) DATA_DIR=${2:?--data-dir needs a value}; shift 2 ;;
      --data-dir=*) DATA_DIR=${1#*=}; shift ;;
      --clean) CLEAN=1; shift ;;
      --extra-config) EXTRA_CONFIG=${2:?--extra-config needs a value}; shift 2 ;;
      --extra-config=*) EXTRA_CONFIG=${1#*=}; shift ;;
      --add-scram) ADD_SCRAM+=(--add-scram "${2:?--add-scram needs a value}"); shift 2 ;;
      --add-scram=*) ADD_SCRAM+=(--add-scram "${1#*=}"); shift ;;
      -h|--help) usage; exit 0 ;;
      *) usage; die "unknown argument: $1" ;;
    esac
  done
  if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65534)); then
    die "bad --port: $PORT"
  fi
  CONTROLLER_PORT=${CONTROLLER_PORT:-$((PORT + 1))}
  if ! [[ "$CONTROLLER_PORT" =~ ^[0-9]+$ ]] || ((CONTROLLER_PORT < 1 || CONTROLLER_PORT > 65535)); then
    die "bad --controller-port: $CONTROLLER_PORT"
  fi
  ((CONTROLLER_PORT != PORT)) || die "--controller-port must differ from --port"
  DATA_DIR=${DATA_DIR:-$CACHE_DIR/data-$PORT}
  # canonical absolute path (the directory need not exist yet)
  DATA_DIR=$(realpath -m -- "$DATA_DIR")
  PIDFILE="$DATA_DIR/kafka.pid"
  LOGFILE="$DATA_DIR/kafka.log"
  CONFIG="$DATA_DIR/server.properties"
  LOG4J_CONFIG="$DATA_DIR/log4j2.properties"
  LOG_DIRS="$DATA_DIR/kraft-logs"
  BOOTSTRAP="$HOST:$PORT"
}

# pid of a live (non-zombie) kafka.Kafka process from the pid file, or nothing.
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid=$(tr -dc '0-9' <"$PIDFILE")
  if [[ -n "$pid" ]] && pid_is_kafka "$pid"; then
    echo "$pid"
    return 0
  fi
  return 1
}

# Is $1 a live kafka.Kafka process started with this data dir's server.properties?
pid_is_kafka() {
  local pid=$1 state
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  # a zombie is dead for our purposes (PID 1 in a container may never reap it)
  state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$pid/stat" 2>/dev/null || true)
  [[ "$state" != "Z" && "$state" != "X" ]] || return 1
  local args
  args=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null || true)
  grep -qxF kafka.Kafka <<<"$args" && grep -qxF "$CONFIG" <<<"$args"
}

port_in_use() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Wait until the broker answers a Kafka Metadata request that lists itself (stdlib only).
# Args: timeout-seconds [pid]. Exit 0 ready, 1 timeout, 2 process died.
probe() {
  "$PYTHON" - "$HOST" "$PORT" "$1" "${2:-0}" <<'PY'
import os, socket, struct, sys, time

host, port, timeout, pid = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])


def recvn(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client = b"sqm-kafka-sh-probe"
    msg = struct.pack(">hhih", api_key, version, corr, len(client)) + client + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    (size,) = struct.unpack(">i", recvn(sock, 4))
    data = recvn(sock, size)
    if struct.unpack_from(">i", data, 0)[0] != corr:
        raise ValueError("correlation id mismatch")
    return data[4:]


def ready() -> str | None:
    """None when the broker answers Metadata and lists itself, else a reason."""
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.settimeout(3)
        # ApiVersions v0: error_code, [api_key min max]
        resp = call(sock, 18, 0, 1, b"")
        (err,) = struct.unpack_from(">h", resp, 0)
        if err:
            return f"ApiVersions error {err}"
        (n,) = struct.unpack_from(">i", resp, 2)
        versions = {}
        for i in range(n):
            k, lo, hi = struct.unpack_from(">hhh", resp, 6 + 6 * i)
            versions[k] = (lo, hi)
        if 3 not in versions:
            return "Metadata API not offered yet"
        lo, hi = versions[3]
        v = max(4, lo)
        if v > min(8, hi):  # only non-flexible versions 4..8 are spoken here
            return None
        body = struct.pack(">ib", -1, 0)  # all topics, allow_auto_topic_creation=false
        if v >= 8:
            body += struct.pack(">bb", 0, 0)
        resp = call(sock, 3, v, 2, body)
        off = 4  # throttle_time_ms
        (nb,) = struct.unpack_from(">i", resp, off)
        off += 4
        for _ in range(nb):
            (node_id,) = struct.unpack_from(">i", resp, off)
            off += 4
            (hl,) = struct.unpack_from(">h", resp, off)
            off += 2 + hl
            (bport,) = struct.unpack_from(">i", resp, off)
            off += 4
            (rl,) = struct.unpack_from(">h", resp, off)
            off += 2 + max(rl, 0)
            if bport == port:
                return None
        return "broker not yet registered in metadata"


def alive() -> bool:
    if pid <= 0:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


deadline = time.monotonic() + timeout
reason = "no attempt"
while True:
    if not alive():
        print(f"broker process {pid} exited", file=sys.stderr)
        sys.exit(2)
    try:
        r = ready()
        if r is None:
            sys.exit(0)
        reason = r
    except (OSError, ValueError, struct.error) as e:
        reason = f"{type(e).__name__}: {e}"
    if time.monotonic() >= deadline:
        print(f"broker did not answer within {timeout:.0f}s ({reason})", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.25)
PY
}

random_cluster_id() {
  "$PYTHON" -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"):
        print(s)
        break
'
}

write_configs() {
  cat >"$CONFIG" <<EOF
# Generated by deploy/local/kafka.sh -- single-node KRaft (combined broker + controller).
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
log.dirs=$LOG_DIRS
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  if [[ -n "$EXTRA_CONFIG" ]]; then
    [[ -f "$EXTRA_CONFIG" ]] || die "--extra-config: no such file: $EXTRA_CONFIG"
    { echo "# from --extra-config $EXTRA_CONFIG"; cat "$EXTRA_CONFIG"; } >>"$CONFIG"
  fi
  cat >"$LOG4J_CONFIG" <<'EOF'
# Generated by deploy/local/kafka.sh -- broker logs go to stdout, which is kafka.log.
status = warn
shutdownHook = disable
name = sqm-local-kafka
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.netclient.name = org.apache.kafka.clients.NetworkClient
logger.netclient.level = WARN
EOF
}

# ---------------------------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------------------------

cmd_stop() {
  local pid i
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE"
    log "no broker running for $DATA_DIR"
    return 0
  fi
  log "stopping broker pid $pid ($BOOTSTRAP)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    pid_is_kafka "$pid" || break
    sleep 0.2
  done
  if pid_is_kafka "$pid"; then
    log "broker pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pid_is_kafka "$pid" || break
      sleep 0.1
    done
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

wipe_data_dir() {
  cmd_stop
  [[ -e "$DATA_DIR" ]] || return 0
  case "$DATA_DIR" in
    / | "$HOME" | "$CACHE_DIR" | "$KAFKA_HOME") die "refusing to delete $DATA_DIR" ;;
  esac
  if [[ -f "$DATA_DIR/$DATA_MARK" || -z "$(ls -A "$DATA_DIR")" ]]; then
    log "deleting data dir $DATA_DIR"
    rm -rf "$DATA_DIR"
  else
    die "refusing to delete $DATA_DIR: not created by kafka.sh (no $DATA_MARK) and not empty"
  fi
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    if probe 3 "$pid" 2>/dev/null; then
      echo "running: pid $pid, bootstrap $BOOTSTRAP, data dir $DATA_DIR (answering)"
    else
      echo "running: pid $pid, bootstrap $BOOTSTRAP, data dir $DATA_DIR (NOT answering yet)"
    fi
    return 0
  fi
  echo "stopped: no broker for data dir $DATA_DIR (port $PORT)"
  return 3
}

fail_start() {
  local pid=${1:-}
  log "broker failed to start; last lines of $LOGFILE:"
  tail -n 60 "$LOGFILE" >&2 2>/dev/null || true
  if [[ -n "$pid" ]] && pid_is_kafka "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  exit 1
}

cmd_start() {
  local pid t0=$SECONDS
  if ((CLEAN)); then
    wipe_data_dir
  fi

  if pid=$(running_pid); then
    if probe 5 "$pid"; then
      log "broker already running (pid $pid) and answering at $BOOTSTRAP"
      echo "$BOOTSTRAP"
      return 0
    fi
    log "broker pid $pid is running but not answering yet; waiting up to ${START_TIMEOUT}s"
    probe "$START_TIMEOUT" "$pid" || fail_start "$pid"
    echo "$BOOTSTRAP"
    return 0
  fi
  rm -f "$PIDFILE"

  port_in_use "$PORT" && die "port $PORT is already in use by another process"
  port_in_use "$CONTROLLER_PORT" && die "controller port $CONTROLLER_PORT is already in use by another process"

  cmd_fetch
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found ($JAVA)"

  mkdir -p "$DATA_DIR"
  touch "$DATA_DIR/$DATA_MARK"
  # The KRaft voter set written by `format --standalone` records the controller endpoint, so a
  # formatted data dir must keep its ports.
  local ports_file="$DATA_DIR/ports"
  if [[ -f "$LOG_DIRS/meta.properties" && -f "$ports_file" \
        && "$(cat "$ports_file")" != "$PORT $CONTROLLER_PORT" ]]; then
    die "$DATA_DIR was formatted for ports '$(cat "$ports_file")', not '$PORT $CONTROLLER_PORT'; use --clean"
  fi
  write_configs

  local classpath="$LIBS/*"
  if [[ ! -f "$LOG_DIRS/meta.properties" ]]; then
    local cluster_id
    cluster_id=$(random_cluster_id)
    log "formatting $LOG_DIRS (cluster id $cluster_id, standalone KRaft quorum)"
    # shellcheck disable=SC2086
    if ! "$JAVA" $HEAP_OPTS -Dlog4j2.configurationFile="file:$LOG4J_CONFIG" -cp "$classpath" \
        kafka.tools.StorageTool format --standalone --cluster-id "$cluster_id" --config "$CONFIG" \
        ${ADD_SCRAM[@]+"${ADD_SCRAM[@]}"} >>"$LOGFILE" 2>&1; then
      fail_start
    fi
    echo "$PORT $CONTROLLER_PORT" >"$ports_file"
  fi

  log "starting kafka $KAFKA_VERSION at $BOOTSTRAP (controller $HOST:$CONTROLLER_PORT), log $LOGFILE"
  # shellcheck disable=SC2086
  nohup "$JAVA" $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="file:$LOG4J_CONFIG" -Dkafka.logs.dir="$DATA_DIR" \
    -cp "$classpath" kafka.Kafka "$CONFIG" \
    </dev/null >>"$LOGFILE" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"

  local rc=0
  probe "$START_TIMEOUT" "$pid" || rc=$?
  ((rc == 0)) || fail_start "$pid"
  log "broker pid $pid answering at $BOOTSTRAP after $((SECONDS - t0)) s"
  echo "$BOOTSTRAP"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case "$cmd" in
    fetch) cmd_fetch ;;
    start) parse_args "$@"; cmd_start ;;
    stop) parse_args "$@"; cmd_stop ;;
    status) parse_args "$@"; cmd_status ;;
    wipe) parse_args "$@"; wipe_data_dir ;;
    -h|--help|help) usage ;;
    *) usage; die "unknown subcommand: ${cmd:-<none>}" ;;
  esac
}

main "$@"
