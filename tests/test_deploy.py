"""deploy/ is something a cluster can take, checked offline with real validators.

The Kubernetes overlays are built with kubectl's kustomize and validated
strictly against the Kubernetes schemas (kubernetes-validate ships them); the
compose file against the compose specification's schema (shipped with
check-jsonschema). Both run from .venv-deploy (make test builds it). Then what
the schemas cannot know: replicas, probes on the real health endpoints,
graceful shutdown, disruption budgets, autoscaling, every credential in a Secret.
"""
from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from typing import Any, Dict, List

import pytest
import yaml

from tools.stack import ROOT, services

DEPLOY = ROOT / "deploy"
TOOLS = ROOT / ".venv-deploy" / "bin"
OVERLAYS = ["guangzhou", "guangdong"]
# The health endpoints the launcher itself waits on (tools/stack.py) and the console's.
HEALTH = {"citylink-bot": "/", "citylink-actions": "/health", "citylink-console": "/health"}
# A backend call gives up within ~22 s (actions/clients/base.py: 5 s read timeout, two
# retries with back-off): running turns must be able to finish after SIGTERM.
SLOWEST_TURN_S = 25
CREDENTIAL = re.compile(r"SECRET|TOKEN|PASSWORD|KEY|SESSION|TRACKER_URL|REDIS_URL")


def _tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"没有 {path}：请用 make test 运行（它会建 .venv-deploy）")
    return str(path)


def _credential_names() -> List[str]:
    lines = (DEPLOY / "secrets.env.example").read_text(encoding="utf-8").splitlines()
    return [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`kubectl kustomize` of an overlay, with a throwaway secrets.env as an operator writes it."""
    copy = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, copy)
    overlay = copy / "k8s" / "overlays" / request.param
    (overlay / "secrets.env").write_text(
        "".join(f"{name}={secrets.token_hex(8)}\n" for name in _credential_names()))
    built = subprocess.run([_tool("kubectl"), "kustomize", str(overlay)],
                           capture_output=True, text=True, check=True)
    return built.stdout


def _by_kind(manifest: str) -> Dict[str, List[Dict[str, Any]]]:
    kinds: Dict[str, List[Dict[str, Any]]] = {}
    for document in yaml.safe_load_all(manifest):
        kinds.setdefault(document["kind"], []).append(document)
    return kinds


def test_manifests_pass_strict_kubernetes_validation(rendered: str):
    result = subprocess.run([_tool("kubernetes-validate"), "--strict", "--quiet", "-"],
                            input=rendered, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_strict_validator_rejects_an_unknown_field(rendered: str):
    """The check above can fail: a misspelt field is refused."""
    broken = rendered.replace("terminationGracePeriodSeconds", "terminationGracePeriod", 1)
    result = subprocess.run([_tool("kubernetes-validate"), "--strict", "--quiet", "-"],
                            input=broken, capture_output=True, text=True)
    assert result.returncode != 0


def test_deployments_are_redundant_probed_and_stop_gracefully(rendered: str):
    kinds = _by_kind(rendered)
    deployments = {d["metadata"]["name"]: d for d in kinds["Deployment"]}
    assert set(deployments) == set(HEALTH)
    budgets = {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for p in kinds["PodDisruptionBudget"]}
    scaled = {h["spec"]["scaleTargetRef"]["name"]: h for h in kinds["HorizontalPodAutoscaler"]}
    config = {k: v for c in kinds["ConfigMap"] for k, v in c["data"].items()}
    for name, deployment in deployments.items():
        spec, pod = deployment["spec"], deployment["spec"]["template"]["spec"]
        assert spec["replicas"] >= 2 and scaled[name]["spec"]["minReplicas"] >= 2
        assert name in budgets
        container = pod["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == HEALTH[name], (name, probe)
        pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        drain = float(config["SANIC_GRACEFUL_SHUTDOWN_TIMEOUT"])
        assert pod["terminationGracePeriodSeconds"] > pause + drain
    assert drain > SLOWEST_TURN_S


def test_every_credential_is_in_a_secret_and_none_in_plain_config(rendered: str):
    kinds = _by_kind(rendered)
    secret_keys = {k for s in kinds["Secret"] for k in s["data"]}
    assert set(_credential_names()) <= secret_keys
    plain = [k for c in kinds["ConfigMap"] for k in c["data"] if CREDENTIAL.search(k)]
    assert plain == []
    for deployment in kinds["Deployment"]:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert not any(CREDENTIAL.search(e["name"]) for e in container.get("env", []))


def test_the_health_endpoints_are_the_ones_the_launcher_waits_on():
    launched = services()
    assert launched["actions"].health_url.endswith(HEALTH["citylink-actions"])


def test_the_compose_file_follows_the_compose_specification():
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                             str(DEPLOY / "compose.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert compose["services"]["bot"]["deploy"]["replicas"] >= 2
    published = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published)


def test_the_images_copy_only_what_exists_or_make_builds():
    built_by_make = {"models/citylink.tar.gz", "var/jieba/"}
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    sources = [source for line in dockerfile.splitlines() if line.startswith("COPY ")
               for source in line.split()[1:-1]]
    assert "models/citylink.tar.gz" in sources  # the model is baked in
    missing = [s for s in sources if s not in built_by_make and not (ROOT / s).exists()]
    assert missing in ([], ["console/"])  # the console joins when its branch is merged
    targets = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, flags=re.M)
    assert {"bot", "actions", "console"} <= set(targets)
