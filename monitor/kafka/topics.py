"""Topics as code: the definitions in ``monitor/topics/topics.toml`` and ``sqm topics apply``.

The file is the single source of truth for every topic the service reads or writes, so a
deployment is reproducible and drift on a broker is visible. ``apply`` only ever *creates*
missing topics; it reports, never fixes, differences on existing ones (see ``apply``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, for_code
from rich.console import Console
from rich.markup import escape

from monitor.config import Config
from monitor.kafka.security import ClientOptions, client_options

TOPIC_INPUT = "sqm.interactions.v1"
TOPIC_INDICATORS = "sqm.indicators.v1"
TOPIC_ALERTS = "sqm.alerts.v1"
TOPIC_DEADLETTER = "sqm.deadletter.v1"
TOPIC_PARTIALS = "sqm.internal.partials.v1"
TOPIC_INTERACTIONS_CHANGELOG = "sqm.internal.interactions-changelog.v1"
TOPIC_WINDOWS_CHANGELOG = "sqm.internal.windows-changelog.v1"

#: The package's ``topics/`` data directory (definitions and JSON Schemas). It is package data
#: (pyproject.toml), so an installed wheel carries it just as a checkout does.
TOPICS_DIR = Path(__file__).resolve().parents[1] / "topics"
DEFAULT_DEFINITIONS = TOPICS_DIR / "topics.toml"

#: Environment variable that replaces every topic's replication factor (production: 3).
ENV_REPLICATION_FACTOR = "SQM_TOPIC_REPLICATION_FACTOR"

#: Seconds ``main`` allows one apply/check run before giving up on the broker.
APPLY_TIMEOUT_S = 60.0

Status = Literal["created", "ok", "differs"]

_LEGAL_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_CLEANUP_POLICIES = frozenset({"delete", "compact", "compact,delete", "delete,compact"})
_TOPIC_KEYS = frozenset(
    {
        "name",
        "description",
        "internal",
        "schema",
        "partitions",
        "replication_factor",
        "copartitioned_with",
        "config",
    }
)
_ERR_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicDef:
    """One topic as defined in ``topics.toml``; config values are strings as Kafka reports them."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]
    internal: bool
    schema: str | None
    description: str


@dataclass
class TopicStatus:
    """Outcome of ``apply`` for one topic; ``differences`` is empty unless ``differs``."""

    name: str
    status: Status
    differences: list[str] = field(default_factory=list)


class TopicsError(RuntimeError):
    """The broker refused an operation on a topic (the message names the topic)."""


# --- definitions ---------------------------------------------------------------------------


def _config_value(where: str, key: str, value: Any) -> str:
    """Normalise a TOML config value to the string form the broker reports."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    raise ValueError(f"{where}: config.{key}: expected a string or integer, got {type(value).__name__}")


def _positive_int(where: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {key}: expected an integer >= 1, got {value!r}")
    return value


def _topic_name(index: int, raw: Any) -> str:
    """The table's topic name: checked first, because every later message names the topic."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"topics[{index}]: expected a table")
    name = raw.get("name")
    if not isinstance(name, str) or not _LEGAL_NAME.match(name) or name in {".", ".."}:
        raise ValueError(f"topics[{index}]: name: expected 1..249 of [A-Za-z0-9._-], got {name!r}")
    return name


def _check_known_keys(where: str, raw: Mapping[str, Any]) -> None:
    """Refuse unknown keys: a misspelt optional key would otherwise be silently ignored."""
    unknown = sorted(set(raw) - _TOPIC_KEYS)
    if unknown:
        raise ValueError(f"{where}: {unknown[0]}: unknown key")


def _description(where: str, raw: Mapping[str, Any]) -> str:
    """The topic's description, required so that every topic says why it is configured so."""
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"{where}: description: expected a non-empty string")
    return description.strip()


def _internal(where: str, raw: Mapping[str, Any]) -> bool:
    """Whether only the workers use the topic; decides whether a schema is required."""
    internal = raw.get("internal", False)
    if not isinstance(internal, bool):
        raise ValueError(f"{where}: internal: expected true or false, got {internal!r}")
    return internal


def _schema(where: str, raw: Mapping[str, Any], internal: bool, base: Path) -> str | None:
    """The schema path relative to ``base``: public topics are a contract, so theirs must exist."""
    schema = raw.get("schema")
    if schema is None:
        if not internal:
            raise ValueError(f"{where}: schema: required for a public (internal = false) topic")
    elif not isinstance(schema, str) or not schema:
        raise ValueError(f"{where}: schema: expected a path relative to {base}")
    elif not (base / schema).is_file():
        raise ValueError(f"{where}: schema: file {base / schema} not found")
    return schema


def _topic_config(where: str, raw: Mapping[str, Any]) -> dict[str, str]:
    """The topic configs as broker strings; ``cleanup.policy`` is required, as it decides retention."""
    raw_config = raw.get("config", {})
    if not isinstance(raw_config, Mapping):
        raise ValueError(f"{where}: config: expected a table of Kafka topic configs")
    config = {str(k): _config_value(where, str(k), v) for k, v in raw_config.items()}
    policy = config.get("cleanup.policy")
    if policy is None:
        raise ValueError(f"{where}: config.cleanup.policy: required (delete or compact)")
    if policy not in _CLEANUP_POLICIES:
        raise ValueError(f"{where}: config.cleanup.policy: expected delete or compact, got {policy!r}")
    return config


def _copartitioned_with(where: str, raw: Mapping[str, Any]) -> str | None:
    """The co-partitioned topic's name; checked against the other tables by ``load_definitions``."""
    copartitioned = raw.get("copartitioned_with")
    if copartitioned is not None and not isinstance(copartitioned, str):
        raise ValueError(f"{where}: copartitioned_with: expected a topic name")
    return copartitioned


def _parse_topic(index: int, raw: Any, base: Path) -> tuple[TopicDef, str | None]:
    """Validate one ``[[topics]]`` table; returns the definition and its co-partitioned topic.

    The keys are checked in a fixed order (name, unknown keys, description, internal, partitions,
    replication_factor, schema, config, copartitioned_with), so a table with several mistakes
    always reports the same one first.
    """
    name = _topic_name(index, raw)
    where = f"topic {name}"
    _check_known_keys(where, raw)
    description = _description(where, raw)
    internal = _internal(where, raw)
    partitions = _positive_int(where, "partitions", raw.get("partitions"))
    replication_factor = _positive_int(where, "replication_factor", raw.get("replication_factor", 1))
    schema = _schema(where, raw, internal, base)
    config = _topic_config(where, raw)
    copartitioned = _copartitioned_with(where, raw)

    defn = TopicDef(
        name=name,
        partitions=partitions,
        replication_factor=replication_factor,
        config=config,
        internal=internal,
        schema=schema,
        description=description,
    )
    return defn, copartitioned


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse ``path``, turning a missing or malformed file into a one-line ``ValueError``."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None


def _topic_tables(path: Path, data: Mapping[str, Any]) -> list[Any]:
    """The ``[[topics]]`` tables; anything else at the top level is a mistake, not an extension."""
    unknown = sorted(set(data) - {"topics"})
    if unknown:
        raise ValueError(f"{path}: {unknown[0]}: unknown key (expected [[topics]] tables)")
    entries = data.get("topics")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: topics: expected at least one [[topics]] table")
    return entries


def _parse_topics(entries: list[Any], base: Path) -> tuple[list[TopicDef], list[tuple[TopicDef, str]]]:
    """Parse every table, refusing a name defined twice (apply would create it only once).

    Returns the definitions in file order and the (topic, co-partitioned topic name) links, which
    can only be checked once every table is known.
    """
    defs: list[TopicDef] = []
    links: list[tuple[TopicDef, str]] = []
    for index, raw in enumerate(entries):
        defn, copartitioned = _parse_topic(index, raw, base)
        if any(d.name == defn.name for d in defs):
            raise ValueError(f"topic {defn.name}: name: defined twice")
        defs.append(defn)
        if copartitioned is not None:
            links.append((defn, copartitioned))
    return defs, links


def _check_copartitioning(defs: list[TopicDef], links: list[tuple[TopicDef, str]]) -> None:
    """A changelog partition holds the state of one source partition: the counts must be equal."""
    by_name = {d.name: d for d in defs}
    for defn, other_name in links:
        other = by_name.get(other_name)
        if other is None:
            raise ValueError(f"topic {defn.name}: copartitioned_with: no topic {other_name!r} is defined")
        if other.partitions != defn.partitions:
            raise ValueError(
                f"topic {defn.name}: partitions: must equal {other.name}'s "
                f"({other.partitions}), got {defn.partitions}"
            )


def load_definitions(path: Path | None = None) -> list[TopicDef]:
    """Read and validate the topic definitions (default: the package's ``topics/topics.toml``).

    Validation happens here, before any broker is contacted, so a bad edit to the file fails
    with a ``ValueError`` naming the topic and the key instead of creating half the topics.
    """
    path = DEFAULT_DEFINITIONS if path is None else path
    entries = _topic_tables(path, _read_toml(path))
    defs, links = _parse_topics(entries, path.resolve().parent)
    _check_copartitioning(defs, links)
    return defs


def with_replication_factor(defs: list[TopicDef], replication_factor: int) -> list[TopicDef]:
    """Return ``defs`` with every replication factor replaced (the production override)."""
    return [replace(d, replication_factor=replication_factor) for d in defs]


def schema_path(defn: TopicDef, base: Path = TOPICS_DIR) -> Path | None:
    """Absolute path of a topic's JSON Schema (``None`` for internal topics without one)."""
    return None if defn.schema is None else base / defn.schema


# --- broker --------------------------------------------------------------------------------


def _new_topic(defn: TopicDef) -> Any:
    return NewTopic(
        name=defn.name,
        num_partitions=defn.partitions,
        replication_factor=defn.replication_factor,
        topic_configs=dict(defn.config),
    )


async def _broker_topics(admin: Any) -> dict[str, dict[str, Any]]:
    """Metadata of every topic on the broker.

    Asks for *all* topics: a metadata request naming a missing topic would make a broker
    with ``auto.create.topics.enable`` create it with default settings.
    """
    out: dict[str, dict[str, Any]] = {}
    for meta in await admin.describe_topics():
        if meta.get("error_code", 0) == 0:
            out[str(meta["topic"])] = meta
    return out


async def _broker_configs(admin: Any, defs: list[TopicDef]) -> dict[str, dict[str, str]]:
    """The broker's current value of each defined config key, per topic."""
    if not defs:
        return {}
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, d.name, configs=dict(d.config) or None) for d in defs
    ]
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for res in response.to_object()["resources"]:
            name = str(res["resource_name"])
            if res["error_code"] != 0:
                err = for_code(res["error_code"])
                raise TopicsError(
                    f"topic {name}: describe configs failed: {err.__name__}"
                    f" {res.get('error_message') or ''}".rstrip()
                )
            out[name] = {
                str(e["config_names"]): "" if e["config_value"] is None else str(e["config_value"])
                for e in res["config_entries"]
            }
    return out


def _differences(defn: TopicDef, meta: Mapping[str, Any], configs: Mapping[str, str]) -> list[str]:
    diffs: list[str] = []
    partitions = meta.get("partitions") or []
    if len(partitions) != defn.partitions:
        diffs.append(f"partitions: defined {defn.partitions}, broker has {len(partitions)}")
    if partitions:
        replicas = min(len(p.get("replicas") or []) for p in partitions)
        if replicas != defn.replication_factor:
            diffs.append(f"replication_factor: defined {defn.replication_factor}, broker has {replicas}")
    for key, value in defn.config.items():
        actual = configs.get(key)
        if actual is None:
            diffs.append(f"{key}: defined {value}, broker has no such config")
        elif actual != value:
            diffs.append(f"{key}: defined {value}, broker has {actual}")
    return diffs


def _creation_outcome(topic_errors: list[Any]) -> tuple[dict[str, TopicStatus], list[str]]:
    """Sort a CreateTopics answer into created topics and ones that already existed.

    A topic that already exists was created concurrently (or the metadata lagged): it is
    compared, not refused. Any other error code refuses the whole run with one ``TopicsError``
    that names every refused topic.
    """
    created: dict[str, TopicStatus] = {}
    raced: list[str] = []
    refused: list[str] = []
    for entry in topic_errors:
        name, code = str(entry["topic"]), int(entry["error_code"])
        if code == 0:
            created[name] = TopicStatus(name, "created")
        elif code == _ERR_TOPIC_ALREADY_EXISTS:
            raced.append(name)  # created concurrently (or metadata lagged): compare
        else:
            message = entry.get("error_message") or ""
            refused.append(f"topic {name}: creation refused: {for_code(code).__name__} {message}".rstrip())
    if refused:
        raise TopicsError("; ".join(refused))
    return created, raced


async def _wait_until_visible(admin: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """Poll the metadata (up to 50 times, 0.1 s apart) until every one of ``names`` is in it.

    Returns the last answer: a topic reported as existing may not be in the metadata yet, and
    comparing it needs its partitions.
    """
    existing: dict[str, dict[str, Any]] = {}
    for _ in range(50):
        existing = await _broker_topics(admin)
        if all(n in existing for n in names):
            break
        await asyncio.sleep(0.1)
    return existing


async def _create_missing(
    admin: Any, missing: list[TopicDef], existing: dict[str, dict[str, Any]]
) -> tuple[dict[str, TopicStatus], dict[str, dict[str, Any]]]:
    """Create ``missing``; returns their ``created`` statuses and the broker's topics to compare.

    The topics are the ones known before the creation unless some turned out to exist already,
    in which case they are the metadata once those show (see ``_wait_until_visible``).
    """
    response = await admin.create_topics([_new_topic(d) for d in missing], 30000)
    created, raced = _creation_outcome(response.to_object()["topic_errors"])
    if raced:
        existing = await _wait_until_visible(admin, raced)
    return created, existing


async def _compare_existing(
    admin: Any, defs: list[TopicDef], existing: Mapping[str, Mapping[str, Any]]
) -> dict[str, TopicStatus]:
    """``ok`` or ``differs`` for each of ``defs``, which all exist on the broker."""
    configs = await _broker_configs(admin, defs)
    statuses: dict[str, TopicStatus] = {}
    for d in defs:
        diffs = _differences(d, existing[d.name], configs.get(d.name, {}))
        statuses[d.name] = TopicStatus(d.name, "differs" if diffs else "ok", diffs)
    return statuses


async def apply(bootstrap: str, defs: list[TopicDef], create: bool = True, *,
                security: ClientOptions | None = None) -> list[TopicStatus]:
    """Create the missing topics (when ``create``) and compare the existing ones.

    Returns one status per definition, in order: ``created``; ``ok`` when the partition count,
    the replication factor and every *defined* config value match the broker (configs not in
    the file are the broker's business); ``differs`` with one line per difference, e.g.
    ``"partitions: defined 4, broker has 8"``. With ``create=False`` a missing topic is
    ``differs`` (``"missing on the broker"``).

    Existing topics are never altered. Changing the partition count of a keyed topic moves
    keys to other partitions, which breaks the workers' keyed state and the co-partitioning
    of the changelogs with their source topics; config changes deserve the same review. Such
    a change is a planned migration (usually a new ``.vN`` topic), not a side effect of apply.

    Raises ``TopicsError`` when the broker refuses a creation (e.g. a replication factor
    above the number of brokers) and aiokafka's ``KafkaError`` / ``OSError`` when the broker
    cannot be reached. ``security``: ``[kafka]``'s client options.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000,
                                **(security or {}))
    await admin.start()
    try:
        existing = await _broker_topics(admin)
        statuses: dict[str, TopicStatus] = {}
        missing = [d for d in defs if d.name not in existing]
        if missing and create:
            statuses, existing = await _create_missing(admin, missing, existing)
        elif missing:
            for d in missing:
                statuses[d.name] = TopicStatus(d.name, "differs", ["missing on the broker"])

        to_compare = [d for d in defs if d.name not in statuses and d.name in existing]
        statuses.update(await _compare_existing(admin, to_compare, existing))
        for d in defs:  # still unaccounted for: reported as existing yet never visible
            unseen = ["reported as existing, but not in the metadata"]
            statuses.setdefault(d.name, TopicStatus(d.name, "differs", unseen))
        return [statuses[d.name] for d in defs]
    finally:
        await admin.close()


# --- command -------------------------------------------------------------------------------


def replication_override(env: Mapping[str, str]) -> int | None:
    """The replication factor ``SQM_TOPIC_REPLICATION_FACTOR`` asks for (None: as defined)."""
    raw = env.get(ENV_REPLICATION_FACTOR, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{ENV_REPLICATION_FACTOR}: expected an integer >= 1, got {raw!r}")
    return int(raw)


def main(cfg: Config, check_only: bool = False) -> int:
    """``sqm topics apply`` (``check_only``: ``sqm topics check``): one line per topic; 0 when
    all are created or ok.

    Returns 1 when any topic differs (or is missing with ``check_only``), when the definitions
    are invalid, or when the broker cannot be reached, with a one-line message and no traceback.
    """
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        defs = load_definitions()
        override = replication_override(os.environ)
        if override is not None:
            defs = with_replication_factor(defs, override)
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 1

    bootstrap = cfg.bootstrap_servers
    kafka_log = logging.getLogger("aiokafka")
    saved_level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # its connection-retry noise would bury the message
    try:
        statuses = asyncio.run(
            asyncio.wait_for(apply(bootstrap, defs, create=not check_only,
                                   security=client_options(cfg.kafka)), APPLY_TIMEOUT_S)
        )
    except TopicsError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    except (KafkaError, OSError, TimeoutError) as exc:
        if isinstance(exc, KafkaConnectionError):
            reason = "no broker answered"  # aiokafka's text lists resolved addresses: noise
        elif isinstance(exc, TimeoutError):
            reason = f"no complete answer within {APPLY_TIMEOUT_S:.0f} s"
        else:
            reason = " ".join(str(exc).split()) or type(exc).__name__
        err.print(
            f"[red]error:[/] cannot reach the Kafka broker at {bootstrap}: {escape(reason)}",
            soft_wrap=True,
        )
        return 1
    finally:
        kafka_log.setLevel(saved_level)

    styles = {"created": "green", "ok": "green", "differs": "yellow"}
    width = max(len(d.name) for d in defs)
    for defn, st in zip(defs, statuses, strict=True):
        line = f"[{styles[st.status]}]{st.status:<8}[/] {defn.name}"
        if st.differences:
            line += " " * (width - len(defn.name) + 2) + escape("; ".join(st.differences))
        out.print(line, soft_wrap=True)
    return 0 if all(st.status in ("created", "ok") for st in statuses) else 1

