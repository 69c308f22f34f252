"""deploy/kubernetes/ as Kubernetes and HAProxy would read it: every object against Kubernetes' own schemas
(kubernetes-validate ships them: nothing is downloaded), strictly, so a misspelt field fails; then what no
schema sees: references to Secrets and ConfigMaps, Services that select no pod or name no port, probes on
ports the container does not open, a Rasa without a variable endpoints.cluster.yml needs, and the balancer's
configuration as the real haproxy checks it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import yaml
from kubernetes_validate import validate
from kubernetes_validate.utils import SchemaNotFoundError

from bot.paths import PROJECT_ROOT

MANIFESTS = PROJECT_ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.28"
NAMESPACE = "porter"


def _documents() -> List[Tuple[str, dict]]:
    found = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append(
                    (f"{path.relative_to(MANIFESTS)}:{document['kind']}/{document['metadata']['name']}", document)
                )
    return found


DOCUMENTS = _documents()


def _of_kind(*kinds: str) -> List[dict]:
    return [document for _, document in DOCUMENTS if document["kind"] in kinds]


def _pod_templates() -> Iterator[Tuple[dict, dict]]:
    """(workload, pod template) for every Deployment and Job."""
    for workload in _of_kind("Deployment", "Job"):
        yield workload, workload["spec"]["template"]


def _containers() -> Iterator[Tuple[dict, dict]]:
    for workload, template in _pod_templates():
        for container in template["spec"]["containers"]:
            yield workload, container


def test_the_manifests_are_found():
    assert {document["kind"] for _, document in DOCUMENTS} >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Job",
        "NetworkPolicy",
        "Ingress",
    }
    names = {workload["metadata"]["name"] for workload, _ in _pod_templates()}
    assert names >= {
        "porter-rasa",
        "porter-actions",
        "porter-web",
        "porter-payments",
        "porter-watch",
        "porter-balancer",
    }


@pytest.mark.slow
@pytest.mark.parametrize("document", [document for _, document in DOCUMENTS], ids=[name for name, _ in DOCUMENTS])
def test_every_object_matches_the_kubernetes_schema(document):
    try:
        validate(document, KUBERNETES_VERSION, strict=True)
    except SchemaNotFoundError as exc:
        pytest.fail(exc.message)


def test_every_object_is_in_porters_namespace():
    assert [
        document["metadata"]["name"]
        for _, document in DOCUMENTS
        if document["kind"] != "Namespace" and document["metadata"].get("namespace") != NAMESPACE
    ] == []


def test_every_secret_and_config_map_reference_names_a_key_that_exists():
    defined: Dict[Tuple[str, str], set] = {}
    for document in _of_kind("Secret", "ConfigMap"):
        keys = set(document.get("data") or {}) | set(document.get("stringData") or {})
        defined[(document["kind"], document["metadata"]["name"])] = keys
    missing = []
    for workload, container in _containers():
        for source in container.get("envFrom", []):
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                reference = source.get(field)
                if reference and not reference.get("optional") and (kind, reference["name"]) not in defined:
                    missing.append(f"{workload['metadata']['name']}: {kind} {reference['name']}")
        for variable in container.get("env", []):
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                reference = (variable.get("valueFrom") or {}).get(field)
                if reference and reference["key"] not in defined.get((kind, reference["name"]), set()):
                    missing.append(f"{workload['metadata']['name']}: {kind} {reference['name']}/{reference['key']}")
    assert missing == []


def test_every_service_selects_pods_and_reaches_a_port_they_open():
    problems = []
    for service in _of_kind("Service"):
        selector = service["spec"]["selector"]
        pods = [
            template for _, template in _pod_templates() if selector.items() <= template["metadata"]["labels"].items()
        ]
        if not pods:
            problems.append(f"{service['metadata']['name']} selects no pod")
            continue
        for port in service["spec"]["ports"]:
            opened = [
                (p.get("name"), p["containerPort"])
                for template in pods
                for c in template["spec"]["containers"]
                for p in c.get("ports", [])
            ]
            target = port.get("targetPort", port["port"])
            if not any(target in pair for pair in opened):
                problems.append(f"{service['metadata']['name']}: no pod opens port {target}")
    assert problems == []


def test_every_probe_asks_a_port_the_container_opens():
    problems = []
    for workload, container in _containers():
        opened = {p.get("name") for p in container.get("ports", [])} | {
            p["containerPort"] for p in container.get("ports", [])
        }
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            port = (container.get(probe) or {}).get("httpGet", {}).get("port")
            if port is not None and port not in opened:
                problems.append(f"{workload['metadata']['name']}: {probe} on {port}")
    assert problems == []


def test_every_server_has_probes_and_every_container_resource_requests():
    for workload, container in _containers():
        assert container["resources"]["requests"], workload["metadata"]["name"]
        if container.get("ports"):
            assert {"readinessProbe", "livenessProbe"} <= set(container), workload["metadata"]["name"]


def test_rasa_gets_every_variable_its_endpoints_file_names():
    (rasa,) = [c for w, c in _containers() if w["metadata"]["name"] == "porter-rasa"]
    command = rasa["command"]
    endpoints = command[command.index("--endpoints") + 1]
    credentials = command[command.index("--credentials") + 1]
    assert (PROJECT_ROOT / credentials).exists()
    needed = set(re.findall(r"\$\{(\w+)\}", (PROJECT_ROOT / endpoints).read_text()))
    (settings,) = [d for d in _of_kind("ConfigMap") if d["metadata"]["name"] == "porter-settings"]
    given = {variable["name"] for variable in rasa["env"]} | set(settings["data"])
    assert needed and needed <= given


def test_the_balancer_configuration_is_valid_for_haproxy(tmp_path):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(haproxy).exists(), "haproxy is missing: `make engines` installs it"
    (balancer,) = [d for d in _of_kind("ConfigMap") if d["metadata"]["name"] == "porter-balancer"]
    config = tmp_path / "haproxy.cfg"
    config.write_text(balancer["data"]["haproxy.cfg"])
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "stick store-response res.cook(io)" in config.read_text()  # widget sockets stay on their pod
