"""``sqm topics apply`` and ``check``: the definitions of ``monitor.contract.topics`` on a broker.

The file is the single source of truth for every topic the service reads or writes, so a
deployment is reproducible and drift on a broker is visible. ``apply`` only ever *creates*
missing topics; it reports, never fixes, differences on existing ones (see ``apply``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, for_code
from rich.console import Console
from rich.markup import escape

from monitor.config import Config
from monitor.contract.topics import (
    TopicDef,
    load_definitions,
    with_replication_factor,
)
from monitor.kafka.security import ClientOptions, client_options

#: Environment variable that replaces every topic's replication factor (production: 3).
ENV_REPLICATION_FACTOR = "SQM_TOPIC_REPLICATION_FACTOR"

#: Seconds ``main`` allows one apply/check run before giving up on the broker.
APPLY_TIMEOUT_S = 60.0

Status = Literal["created", "ok", "differs"]

_ERR_TOPIC_ALREADY_EXISTS = 36


@dataclass
class TopicStatus:
    """Outcome of ``apply`` for one topic; ``differences`` is empty unless ``differs``."""

    name: str
    status: Status
    differences: list[str] = field(default_factory=list)


class TopicsError(RuntimeError):
    """The broker refused an operation on a topic (the message names the topic)."""


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

