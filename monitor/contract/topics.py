"""The topics: their names, and their definitions in the top-level ``topics/`` folder.

``topics/topics.toml`` and the JSON Schemas beside it are the single source of truth for every
topic the service reads or writes (``sqm topics apply`` creates them from it); this module reads
and checks them, before any broker is contacted, so a bad edit fails naming the topic and key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

TOPIC_INPUT: Final = "sqm.interactions.v1"
TOPIC_INDICATORS: Final = "sqm.indicators.v1"
TOPIC_QUEUES: Final = "sqm.queues.v1"
TOPIC_ALERTS: Final = "sqm.alerts.v1"
TOPIC_DEADLETTER: Final = "sqm.deadletter.v1"
TOPIC_QUALITY: Final = "sqm.quality.v1"
TOPIC_PARTIALS: Final = "sqm.internal.partials.v1"
TOPIC_INTERACTIONS_CHANGELOG: Final = "sqm.internal.interactions-changelog.v1"
TOPIC_WINDOWS_CHANGELOG: Final = "sqm.internal.windows-changelog.v1"


def _topics_dir() -> Path:
    """``topics/`` at the top of a checkout; in an installed wheel, the copy the package carries
    as ``monitor/topics`` (a link to ``../topics`` in the checkout, so both read one folder)."""
    return Path(__file__).resolve().parents[1] / "topics"


#: The definitions and JSON Schemas (``topics.toml``, ``schemas/``).
TOPICS_DIR = _topics_dir()
DEFAULT_DEFINITIONS = TOPICS_DIR / "topics.toml"

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
