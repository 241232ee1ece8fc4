"""Synthetic interaction traffic: a seeded, pure model of a multi-channel contact centre.

No Kafka here: ``TrafficModel`` turns (seed, scenario, rate, channel targets) into the events of
SPEC section 1, the queues and transfers of SPEC 9 and the survey answers of SPEC 7.1;
``monitor.sim.producer`` sends them (``sqm generate``) or writes them to a file.

This module is the package's one import point (``sqm generate``, the bench, the tests); the
model lives in modules named for what they hold, each with its part of the model's description:

* ``profiles``: how each channel's contacts behave (the table of shares and probabilities);
* ``lifecycle``: one contact's events and their times, scaled by its targets;
* ``queues``: the queue a contact opens in and its transfers (channels that declare queues);
* ``surveys``: who answers the post-contact survey, when, and what they say;
* ``scenario``: ``steady``, ``degrade:<channel>`` and ``degrade:<channel>/<queue>``;
* ``garbage``: the hostile records of ``garbage_ratio``;
* ``traffic``: ``TrafficModel``, which puts these together (arrivals, rate, determinism);
* ``emitter``: scheduled events handed out when due, numbered, with duplicates and disorder;
* ``spans``: ``history`` and ``span``, a whole run at once;
* ``records``: items, timestamps, record values and keys.

The Kafka side is apart: ``producer`` (``sqm generate`` and ``sqm replay``), ``sending``
(``produce``, the producer loop) and ``progress`` (the progress bar).
"""

from monitor.sim.emitter import Stats
from monitor.sim.garbage import garbage
from monitor.sim.lifecycle import lifecycle
from monitor.sim.profiles import DEFAULT_PROFILE, PROFILES, SEGMENTS, Profile
from monitor.sim.queues import QueueMix, Route
from monitor.sim.records import Item, encode, format_ts, key_of
from monitor.sim.scenario import STEADY, Scenario, Slowdown, parse_scenario
from monitor.sim.spans import history, span
from monitor.sim.surveys import Experience, answers, experience, survey
from monitor.sim.traffic import TrafficModel

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "SEGMENTS",
    "STEADY",
    "Experience",
    "Item",
    "Profile",
    "QueueMix",
    "Route",
    "Scenario",
    "Slowdown",
    "Stats",
    "TrafficModel",
    "answers",
    "encode",
    "experience",
    "format_ts",
    "garbage",
    "history",
    "key_of",
    "lifecycle",
    "parse_scenario",
    "span",
    "survey",
]
