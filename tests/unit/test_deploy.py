"""The deployment files validate offline: the Dockerfile (hadolint), the Compose file (the
Compose specification's schema, via check-jsonschema), the Kubernetes manifests (their schemas,
via kubernetes-validate), the custom resources (prometheus-operator's CRD schemas, vendored),
the PrometheusRule is what `sqm rules --format prometheusrule` prints from the ConfigMap's config
(golden file), and the three copies of the example config (make run, Compose, Kubernetes) agree."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

from monitor import cli
from monitor.config import Config, from_mapping

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
BIN = Path(sys.executable).parent
CRDS = ROOT / "tests" / "schemas" / "prometheus-operator"
CORE = ["configmap.yaml", "deployment.yaml", "service.yaml", "pdb.yaml", "topics-job.yaml",
        "quality.yaml"]


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((K8S / name).read_text(encoding="utf-8"))
    return doc


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_dockerfile_passes_hadolint() -> None:
    r = run(BIN / "hadolint", ROOT / "Dockerfile")
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_does_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install foo\n", encoding="utf-8")
    assert run(BIN / "hadolint", bad).returncode != 0


def test_the_dockerfile_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert "\nUSER 10001\n" in text
    assert "HEALTHCHECK" in text and "/healthz" in text


def test_the_compose_file_follows_the_compose_specification() -> None:
    r = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE)
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_jsonschema_does_refuse_a_broken_compose_file(tmp_path: Path) -> None:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    doc["services"]["kafka"]["ports"] = {"not": "a list"}
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec",
               bad).returncode != 0


def test_compose_runs_the_product_with_the_generated_files() -> None:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = doc["services"]
    assert {"kafka", "topics", "worker-1", "worker-2", "generator", "prometheus", "alertmanager",
            "grafana"} <= set(services)
    assert services["generator"]["profiles"] == ["demo"]
    assert "KRaft" in COMPOSE.read_text() and "controller" in services["kafka"]["environment"][
        "KAFKA_PROCESS_ROLES"]
    mounts = [v for s in services.values() for v in s.get("volumes", []) if isinstance(v, str)]
    for m in mounts:
        source = m.split(":")[0]
        if source.startswith("."):
            assert (COMPOSE.parent / source).exists(), f"{m}: no such file in the repo"


@pytest.mark.parametrize("name", CORE)
def test_kubernetes_manifests_validate_strictly(name: str) -> None:
    kubernetes_validate.validate(load(name), "1.37.0", strict=True)


def test_kubernetes_validate_does_refuse_a_broken_manifest() -> None:
    doc = load("deployment.yaml")
    doc["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, "1.37.0", strict=True)


def crd_validator(name: str) -> Draft7Validator:
    crd = yaml.safe_load((CRDS / name).read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return Draft7Validator(version["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize(("name", "crd", "list_field"), [
    ("podmonitor.yaml", "monitoring.coreos.com_podmonitors.yaml", "podMetricsEndpoints"),
    ("quality-podmonitor.yaml", "monitoring.coreos.com_podmonitors.yaml", "podMetricsEndpoints"),
    ("prometheusrule.yaml", "monitoring.coreos.com_prometheusrules.yaml", "groups"),
])
def test_custom_resources_validate_against_their_crds(name: str, crd: str,
                                                      list_field: str) -> None:
    validator = crd_validator(crd)
    assert [e.message for e in validator.iter_errors(load(name))] == []
    bad = load(name)
    bad["spec"][list_field] = "not a list"
    assert list(validator.iter_errors(bad))


def test_the_prometheusrule_is_what_sqm_rules_prints(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    """From the config the pods mount (the ConfigMap's sqm.toml)."""
    cfg = tmp_path / "sqm.toml"
    cfg.write_text(load("configmap.yaml")["data"]["sqm.toml"], encoding="utf-8")
    assert cli.main(["--config", str(cfg), "rules", "--format", "prometheusrule"]) == 0
    assert capsys.readouterr().out == (K8S / "prometheusrule.yaml").read_text(encoding="utf-8"), (
        "deploy/k8s/prometheusrule.yaml is stale: run `sqm --config deploy/compose/sqm.toml "
        "rules --format prometheusrule --out deploy/k8s/prometheusrule.yaml`")
    groups = load("prometheusrule.yaml")["spec"]["groups"]
    file_groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "sqm-rules.yml").read_text())
    assert groups == file_groups["groups"]


def test_workers_are_probed_limited_and_restricted() -> None:
    pod = load("deployment.yaml")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = pod["containers"]
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                        ("startupProbe", "/healthz")):
        assert c[probe]["httpGet"] == {"path": path, "port": "metrics"}
    sc = c["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                  "capabilities": {"drop": ["ALL"]}}
    labels = load("deployment.yaml")["spec"]["selector"]["matchLabels"]
    assert load("pdb.yaml")["spec"]["selector"]["matchLabels"] == labels
    assert load("podmonitor.yaml")["spec"]["selector"]["matchLabels"] == labels


def _configs() -> dict[str, dict[str, Any]]:
    return {
        "deploy/local/sqm.toml": tomllib.loads(
            (ROOT / "deploy" / "local" / "sqm.toml").read_text(encoding="utf-8")),
        "deploy/compose/sqm.toml": tomllib.loads(
            (ROOT / "deploy" / "compose" / "sqm.toml").read_text(encoding="utf-8")),
        "deploy/k8s/configmap.yaml": tomllib.loads(load("configmap.yaml")["data"]["sqm.toml"]),
    }


def test_make_run_compose_and_kubernetes_use_the_same_config() -> None:
    """One example config in three places: the committed rules and dashboards, generated from
    the Compose copy, hold for the other two. Only Kubernetes names its broker in the file
    (make run and Compose set SQM_BROKER_URL), and only make run shortens the quality period."""
    configs = _configs()
    assert configs["deploy/k8s/configmap.yaml"].pop("broker_url") == \
        "kafka://kafka-bootstrap.kafka:9092"
    local = configs.pop("deploy/local/sqm.toml")
    # the 20-minute demo closes a quality period every 5 minutes; production keeps the hour
    assert local.pop("quality") == {"period_s": 300}
    for name, raw in configs.items():
        assert raw == local, f"{name} differs from deploy/local/sqm.toml"
    assert [a["indicator"] for a in local["alerts"]] == [
        "service_level", "abandonment_rate", "resolution_rate", "oldest_wait_s", "no_data",
        "csat_mean", "nps", "quality_index", "service_level"]
    assert [s["name"] for s in local["slos"]] == ["answered_in_time", "answered_in_time_by_queue"]
    run = (ROOT / "deploy" / "local" / "run.sh").read_text(encoding="utf-8")
    assert "SQM_CONFIG=${SQM_CONFIG:-deploy/local/sqm.toml}" in run


def test_the_example_config_runs_phone_chat_and_email_by_queue() -> None:
    """SPEC 9 in the example: [channels] lists all seven built-in channels (it replaces the
    built-in list) with their built-in targets; phone, chat and email declare queues, chat's
    billing queue answers faster, and the others keep one queue ("main")."""
    cfg = from_mapping(_configs()["deploy/compose/sqm.toml"], env={})
    assert cfg.channel_names == Config().channel_names
    for built_in, c in zip(Config().channels, cfg.channels, strict=True):
        assert (c.first_response_target_s, c.resolution_target_s, c.short_abandon_s) == (
            built_in.first_response_target_s, built_in.resolution_target_s,
            built_in.short_abandon_s)
    assert cfg.queue_labels == {
        "phone": ("general", "billing", "tech_support", "other"),
        "chat": ("general", "billing", "tech_support", "other"),
        "email": ("general", "complaints", "other"),
        "web": ("main",), "app": ("main",), "store": ("main",), "social": ("main",)}
    assert {c.name: c.default_queue for c in cfg.channels[:3]} == {
        "phone": "general", "chat": "general", "email": "general"}
    chat = cfg.channel("chat")
    assert [(q, chat.queue(q).first_response_target_s) for q in chat.queue_labels] == [
        ("general", 60), ("billing", 30), ("tech_support", 60), ("other", 60)]
    queue_alerts = [a for a in cfg.alerts if a.queues]
    assert [(a.indicator, a.channels, a.queues) for a in queue_alerts] == [
        ("service_level", ("phone", "chat", "email"), ("*",))]
    assert [(s.name, s.channels, s.by) for s in cfg.slos] == [
        ("answered_in_time", cfg.channel_names, ()),
        ("answered_in_time_by_queue", ("phone", "chat", "email"), ("queue",))]


def test_compose_runs_the_quality_stage_that_prometheus_scrapes() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert services["quality"]["command"] == ["quality"]
    assert services["quality"]["environment"]["SQM_CONFIG"] == "/etc/sqm/sqm.toml"
    prom = yaml.safe_load((COMPOSE.parent / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in prom["scrape_configs"]}
    assert jobs["sqm-quality"] == ["quality:9311"]


def test_kubernetes_runs_the_quality_stage_that_its_podmonitor_scrapes_as_sqm_quality() -> None:
    from monitor.ops.rules.names import QUALITY_JOB

    pod = load("quality.yaml")
    labels = pod["spec"]["selector"]["matchLabels"]
    assert labels["app.kubernetes.io/component"] == "quality"
    (c,) = pod["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["quality"]
    assert c["ports"] == [{"name": "metrics", "containerPort": 9311}]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                        ("startupProbe", "/healthz")):
        assert c[probe]["httpGet"] == {"path": path, "port": "metrics"}
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]  # Faust's data directory
    monitor = load("quality-podmonitor.yaml")
    assert monitor["spec"]["selector"]["matchLabels"] == labels
    assert monitor["spec"]["podMetricsEndpoints"][0]["relabelings"][0]["replacement"] == QUALITY_JOB
    workers = load("podmonitor.yaml")["spec"]["selector"]["matchLabels"]
    assert workers != labels  # the worker PodMonitor does not scrape it as sqm-worker


def test_compose_health_checks_read_the_port_each_service_serves() -> None:
    """The image's HEALTHCHECK reads the worker's /healthz (9310): the quality stage overrides
    it with its own port, and the generator, which serves none, turns it off."""
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert "127.0.0.1:9311/healthz" in " ".join(services["quality"]["healthcheck"]["test"])
    assert services["generator"]["healthcheck"] == {"disable": True}
    assert "healthcheck" not in services["worker-1"]  # the image's own check
