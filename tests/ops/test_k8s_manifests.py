"""The Kustomize overlays render, validate against the Kubernetes schemas, and keep the
properties the platform relies on."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
ENVIRONMENTS = ["staging", "production"]
KUBECTL = shutil.which("kubectl")

# kubectl (with its built-in kustomize) is a deployment tool, not a Python package: CI and
# operators have it; a fresh machine with only Python does not, and `make test` must still pass
# there (README). `make lint-infra`, which CI runs, fails outright without it.
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def render(path: Path) -> list[dict[str, Any]]:
    output = subprocess.run(  # noqa: S603
        [str(KUBECTL), "kustomize", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]
        for doc in docs
        if doc["kind"] in ("Deployment", "Job")
    }


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def rendered(request: pytest.FixtureRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    overlay = K8S / "overlays" / request.param
    return render(overlay), render(overlay / "migrate")


def test_overlays_validate_against_the_kubernetes_schemas(tmp_path):
    for environment in ENVIRONMENTS:
        for overlay in (K8S / "overlays" / environment, K8S / "overlays" / environment / "migrate"):
            target = tmp_path / f"{environment}-{overlay.name}.yaml"
            target.write_text(yaml.safe_dump_all(render(overlay)))
            result = subprocess.run(  # noqa: S603
                [
                    str(Path(sys.executable).parent / "kubernetes-validate"),
                    "--strict",
                    "--quiet",
                    "--kubernetes-version=1.30.0",
                    str(target),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr


def test_every_pod_runs_non_root_on_a_read_only_filesystem(rendered):
    app, migrate = rendered
    specs = pod_specs(app) | pod_specs(migrate)
    assert set(specs) == {
        "rapport-web",
        "rapport-worker-interactive",
        "rapport-worker-bulk",
        "rapport-beat",
        "rapport-migrate",
    }
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            # Secrets only from the Secret, never inline in the manifests.
            assert {"secretRef": {"name": "rapport-secrets"}} in container["envFrom"], name
            assert all(
                "valueFrom" in e or "SECRET" not in e["name"] for e in container.get("env", [])
            )
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, name  # noqa: S108


def test_web_probes_and_graceful_shutdown(rendered):
    app, _ = rendered
    spec = pod_specs(app)["rapport-web"]
    (container,) = spec["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    drain = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    shutdown = next(
        int(arg.split("=")[1]) for arg in container["args"] if "timeout-graceful-shutdown" in arg
    )
    # Endpoints removed, then in-flight requests and WebSockets drained, before SIGKILL.
    assert drain + shutdown < spec["terminationGracePeriodSeconds"]
    strategy = by_kind(app, "Deployment")["rapport-web"]["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_exactly_one_beat_and_workers_per_queue(rendered):
    app, _ = rendered
    deployments = by_kind(app, "Deployment")
    beat = deployments["rapport-beat"]["spec"]
    assert beat["replicas"] == 1
    assert beat["strategy"] == {"type": "Recreate"}
    autoscaled = {
        hpa["spec"]["scaleTargetRef"]["name"]
        for hpa in by_kind(app, "HorizontalPodAutoscaler").values()
    }
    assert autoscaled == {"rapport-web", "rapport-worker-interactive", "rapport-worker-bulk"}
    for queue in ("interactive", "bulk"):
        (container,) = deployments[f"rapport-worker-{queue}"]["spec"]["template"]["spec"][
            "containers"
        ]
        assert f"--queues={queue}" in container["args"]
    budgets = {
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for pdb in by_kind(app, "PodDisruptionBudget").values()
    }
    assert budgets == {"web", "worker-interactive", "worker-bulk"}


def test_workers_hold_a_small_connection_pool_per_child(rendered):
    # docs/scaling.md: each prefork child runs one task at a time; the shared config's pool of
    # 10 per child would multiply by the concurrency.
    app, _ = rendered
    deployments = by_kind(app, "Deployment")
    for queue in ("interactive", "bulk"):
        (container,) = deployments[f"rapport-worker-{queue}"]["spec"]["template"]["spec"][
            "containers"
        ]
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert (env["DB_POOL_MIN_SIZE"], env["DB_POOL_MAX_SIZE"]) == ("1", "2")
    (web,) = deployments["rapport-web"]["spec"]["template"]["spec"]["containers"]
    assert "DB_POOL_MAX_SIZE" not in {item["name"] for item in web.get("env", [])}


def test_migration_job_shares_the_app_configuration(rendered):
    app, migrate = rendered
    (job,) = by_kind(migrate, "Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert "migrate_all" in " ".join(container["command"] + container["args"])
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Same settings, same image as the version about to roll out.
    assert set(by_kind(migrate, "ConfigMap")) == set(by_kind(app, "ConfigMap"))
    (web,) = pod_specs(app)["rapport-web"]["containers"]
    assert container["image"] == web["image"]


def test_ingress_serves_the_site_and_every_workspace(rendered):
    app, _ = rendered
    (ingress,) = by_kind(app, "Ingress").values()
    (config,) = by_kind(app, "ConfigMap").values()
    domain = config["data"]["BASE_DOMAIN"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == [domain, f"*.{domain}"]
    assert ingress["spec"]["tls"][0]["hosts"] == [domain, f"*.{domain}"]


def _terraform_default(name: str) -> str:
    variables = (ROOT / "terraform" / "variables.tf").read_text()
    match = re.search(rf'variable "{name}" {{[^}}]*?default\s*=\s*"?([^"\n]+)"?', variables)
    assert match, name
    return match.group(1).strip()


def _cidrsubnet(cidr: str, newbits: int, number: int) -> ipaddress.IPv4Network:
    """Terraform's cidrsubnet()."""
    network = ipaddress.IPv4Network(cidr)
    return list(network.subnets(prefixlen_diff=newbits))[number]


def _config(docs: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = (
        doc["data"]
        for name, doc in by_kind(docs, "ConfigMap").items()
        if name.startswith("rapport-config")
    )
    return {str(key): str(value) for key, value in config.items()}


def test_only_the_load_balancer_may_set_forwarded_headers():
    """uvicorn trusts X-Forwarded-For/-Proto from FORWARDED_ALLOW_IPS. Whatever it trusts must
    be all the web NetworkPolicy admits: with "*" only namespace selectors (the ingress
    controller's, monitoring), and in production exactly the ALB's public subnets, none of
    which holds a node or pod (the private subnets, terraform/modules/network)."""
    for environment in ENVIRONMENTS:
        docs = render(K8S / "overlays" / environment)
        config = _config(docs)
        sources = by_kind(docs, "NetworkPolicy")["rapport-web"]["spec"]["ingress"][0]["from"]
        blocks = {
            ipaddress.IPv4Network(source["ipBlock"]["cidr"])
            for source in sources
            if "ipBlock" in source
        }
        trusted = config["FORWARDED_ALLOW_IPS"]
        if trusted == "*":
            assert not blocks, environment
            continue
        assert {ipaddress.IPv4Network(cidr) for cidr in trusted.split(",")} == blocks, environment
        vpc = _terraform_default("vpc_cidr")
        zones = int(_terraform_default("az_count"))
        public = {_cidrsubnet(vpc, 8, zone) for zone in range(zones)}
        private = [_cidrsubnet(vpc, 4, 1 + zone) for zone in range(zones)]
        assert blocks == public, environment
        assert not any(block.overlaps(pods) for block in blocks for pods in private)
    # The production overlay is the one with fixed subnets.
    assert _config(render(K8S / "overlays" / "production"))["FORWARDED_ALLOW_IPS"] != "*"
