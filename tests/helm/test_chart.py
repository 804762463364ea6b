"""The Helm chart, checked by `helm lint` and by reading what `helm template` renders.

helm is built from its Go module by scripts/helm (cached after the first run).
Two value sets are rendered: the defaults plus the one required setting, and
a production-like set (persistence, ingress, SASL SCRAM over TLS, three
replicas, a Secret managed outside the chart).
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "regsearch"
HELM = ROOT / "scripts" / "helm"
RELEASE = "rs"
BOOTSTRAP = "kafka-0.kafka:9092,kafka-1.kafka:9092"

Manifest = dict[str, Any]

# The first run builds helm from source (minutes on two cores), inside whichever test comes first.
pytestmark = pytest.mark.timeout(1500)

DEFAULT_VALUES: dict[str, Any] = {"kafka": {"bootstrap": BOOTSTRAP}}

FULL_VALUES: dict[str, Any] = {
    "registry": {"url": "https://registry.internal:5000", "username": "indexer"},
    "secret": {"existingSecret": "regsearch-credentials"},
    "kafka": {
        "bootstrap": BOOTSTRAP,
        "topicPrefix": "prod",
        "partitions": 24,
        "replicationFactor": 3,
        "securityProtocol": "SASL_SSL",
        "sasl": {
            "mechanism": "SCRAM-SHA-512",
            "username": "regsearch",
            "existingSecret": "kafka-user",
            "passwordKey": "password",
        },
        "tls": {"enabled": True, "existingSecret": "kafka-cluster-ca"},
    },
    "webhooks": {"replicas": 3},
    "indexer": {"replicas": 3},
    "searchApi": {
        "replicas": 3,
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "persistence": {"enabled": True, "storageClass": "fast", "size": "20Gi"},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 2},
    },
    "ingress": {"enabled": True, "className": "nginx", "hosts": ["search.example.com"]},
}

SHARED_ENV = {
    "REGSEARCH_REGISTRY",
    "REGSEARCH_WEBHOOK_TOKEN",
    "REGSEARCH_LISTEN",
    "REGSEARCH_DATA_DIR",
    "REGSEARCH_KAFKA_BOOTSTRAP",
    "REGSEARCH_TOPIC_PREFIX",
    "REGSEARCH_KAFKA_PARTITIONS",
    "REGSEARCH_KAFKA_REPLICATION_FACTOR",
    "REGSEARCH_KAFKA_SECURITY_PROTOCOL",
}
REGISTRY_AUTH_ENV = {"REGSEARCH_REGISTRY_USERNAME", "REGSEARCH_REGISTRY_PASSWORD_FILE"}
SASL_ENV = {"REGSEARCH_KAFKA_SASL_MECHANISM", "REGSEARCH_KAFKA_SASL_USERNAME", "REGSEARCH_KAFKA_SASL_PASSWORD_FILE"}
TLS_ENV = {"REGSEARCH_KAFKA_SSL_CAFILE", "REGSEARCH_KAFKA_SSL_CERTFILE", "REGSEARCH_KAFKA_SSL_KEYFILE"}
ROLES = ("webhooks", "indexer", "search-api", "crawl")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """scripts/helm with ``args``, run from the repository root; never raises on failure."""
    return subprocess.run([str(HELM), *args], cwd=ROOT, capture_output=True, text=True, timeout=1200)


def values_file(tmp: Path, values: dict[str, Any]) -> Path:
    path = tmp / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def render(tmp: Path, values: dict[str, Any]) -> list[Manifest]:
    """The documents `helm template` renders for ``values``; fails the test if it refuses them."""
    done = helm("template", RELEASE, str(CHART), "--namespace", "search", "-f", str(values_file(tmp, values)))
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def refusal(tmp: Path, values: dict[str, Any]) -> str:
    """The error `helm template` gives for ``values``, which it must refuse."""
    done = helm("template", RELEASE, str(CHART), "-f", str(values_file(tmp, values)))
    assert done.returncode != 0, "rendered values that should be refused"
    return done.stderr


def one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, got {[(m['kind'], m['metadata']['name']) for m in manifests]}"
    return found[0]


def kinds(manifests: list[Manifest]) -> list[tuple[str, str]]:
    return sorted((m["kind"], m["metadata"]["name"]) for m in manifests)


def pod_template(workload: Manifest) -> dict[str, Any]:
    """The pod template of a Deployment, StatefulSet or CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    return pod_template(workload)["spec"]


def workloads(manifests: list[Manifest]) -> Iterator[Manifest]:
    return (m for m in manifests if m["kind"] in ("Deployment", "StatefulSet", "CronJob"))


def workload_of(manifests: list[Manifest], role: str) -> Manifest:
    found = [m for m in workloads(manifests) if m["metadata"]["name"] == f"{RELEASE}-regsearch-{role}"]
    assert len(found) == 1
    return found[0]


def container(manifests: list[Manifest], role: str) -> dict[str, Any]:
    (only,) = pod_spec(workload_of(manifests, role))["containers"]
    return only


def env(box: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in box["env"]}


def secret_file(spec: dict[str, Any], box: dict[str, Any], path: str) -> tuple[str, str]:
    """(Secret name, key) of the file at ``path`` in the container, through its mounts and volumes."""
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in box["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix):]
        for source in volumes[mount["name"]]["projected"]["sources"]:
            for item in source["secret"]["items"]:
                if item["path"] == rest:
                    return source["secret"]["name"], item["key"]
    raise AssertionError(f"{path} is not a mounted secret file")


def service_selects(service: Manifest, workload: Manifest) -> bool:
    labels = pod_template(workload)["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


@pytest.fixture(scope="module")
def default_manifests(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    return render(tmp_path_factory.mktemp("default"), DEFAULT_VALUES)


@pytest.fixture(scope="module")
def full_manifests(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    return render(tmp_path_factory.mktemp("full"), FULL_VALUES)


@pytest.fixture(params=["default", "full"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    return request.getfixturevalue(f"{request.param}_manifests")


@pytest.mark.parametrize("values", [DEFAULT_VALUES, FULL_VALUES], ids=["default", "full"])
def test_lint_passes_strictly(tmp_path: Path, values: dict[str, Any]) -> None:
    done = helm("lint", "--strict", str(CHART), "-f", str(values_file(tmp_path, values)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


def test_default_values_render_deployments_a_secret_and_the_crawl(default_manifests: list[Manifest]) -> None:
    assert kinds(default_manifests) == [
        ("CronJob", "rs-regsearch-crawl"),
        ("Deployment", "rs-regsearch-indexer"),
        ("Deployment", "rs-regsearch-search-api"),
        ("Deployment", "rs-regsearch-webhooks"),
        ("Secret", "rs-regsearch"),
        ("Service", "rs-regsearch-search-api"),
        ("Service", "rs-regsearch-webhooks"),
        ("ServiceAccount", "rs-regsearch"),
    ]


def test_full_values_render_a_statefulset_ingress_and_budget_without_a_secret(
    full_manifests: list[Manifest],
) -> None:
    assert kinds(full_manifests) == [
        ("CronJob", "rs-regsearch-crawl"),
        ("Deployment", "rs-regsearch-indexer"),
        ("Deployment", "rs-regsearch-webhooks"),
        ("Ingress", "rs-regsearch"),
        ("PodDisruptionBudget", "rs-regsearch-search-api"),
        ("Service", "rs-regsearch-search-api"),
        ("Service", "rs-regsearch-search-api-headless"),
        ("Service", "rs-regsearch-webhooks"),
        ("ServiceAccount", "rs-regsearch"),
        ("StatefulSet", "rs-regsearch-search-api"),
    ]


def test_every_container_runs_unprivileged_on_a_read_only_root(manifests: list[Manifest]) -> None:
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for box in spec["containers"]:
            ctx = box["securityContext"]
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == 10001, workload["metadata"]["name"]
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"]
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault"


def test_every_pod_has_a_writable_tmp_and_data_dir(manifests: list[Manifest]) -> None:
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        (box,) = spec["containers"]
        mounts = {m["mountPath"]: m["name"] for m in box["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        data_dir = env(box)["REGSEARCH_DATA_DIR"]["value"]
        assert mounts[data_dir] == "data"


def test_each_role_runs_its_command(manifests: list[Manifest]) -> None:
    for role in ROLES:
        assert container(manifests, role)["args"] == [role]


def http_get(box: dict[str, Any], probe: str) -> tuple[str, int]:
    """The path and container port a probe asks, with its named port resolved."""
    ports = {p["name"]: p["containerPort"] for p in box["ports"]}
    action = box[probe]["httpGet"]
    return action["path"], ports[action["port"]]


def test_probes_ask_the_right_paths(manifests: list[Manifest]) -> None:
    search, webhooks, indexer = (container(manifests, r) for r in ("search-api", "webhooks", "indexer"))
    assert http_get(search, "readinessProbe") == ("/readyz", 8080)
    assert http_get(search, "livenessProbe") == ("/healthz", 8080)
    assert http_get(webhooks, "readinessProbe") == ("/healthz", 8080)
    assert http_get(webhooks, "livenessProbe") == ("/healthz", 8080)
    assert http_get(indexer, "livenessProbe") == ("/healthz", 8080)
    assert "readinessProbe" not in indexer


def test_default_env_is_shared_and_plaintext(default_manifests: list[Manifest]) -> None:
    for role in ROLES:
        variables = env(container(default_manifests, role))
        assert SHARED_ENV <= variables.keys(), role
        assert not (REGISTRY_AUTH_ENV | SASL_ENV | TLS_ENV) & variables.keys()
        assert variables["REGSEARCH_LISTEN"]["value"] == "0.0.0.0:8080"
        assert variables["REGSEARCH_KAFKA_BOOTSTRAP"]["value"] == BOOTSTRAP
        assert variables["REGSEARCH_KAFKA_SECURITY_PROTOCOL"]["value"] == "PLAINTEXT"
        assert variables["REGSEARCH_KAFKA_PARTITIONS"]["value"] == "12"


def test_default_webhook_token_comes_from_the_charts_secret(default_manifests: list[Manifest]) -> None:
    secret = one(default_manifests, "Secret", "rs-regsearch")
    assert len(secret["data"]["webhook-token"]) > 40
    for role in ROLES:
        ref = env(container(default_manifests, role))["REGSEARCH_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "rs-regsearch", "key": "webhook-token"}


def test_full_env_names_every_kafka_and_registry_setting(full_manifests: list[Manifest]) -> None:
    for role in ROLES:
        variables = env(container(full_manifests, role))
        assert SHARED_ENV | REGISTRY_AUTH_ENV | SASL_ENV | TLS_ENV <= variables.keys(), role
        assert variables["REGSEARCH_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert variables["REGSEARCH_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert variables["REGSEARCH_KAFKA_SASL_USERNAME"]["value"] == "regsearch"
        assert variables["REGSEARCH_TOPIC_PREFIX"]["value"] == "prod"
        assert variables["REGSEARCH_REGISTRY"]["value"] == "https://registry.internal:5000"
        assert variables["REGSEARCH_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "regsearch-credentials"


def test_full_credentials_are_mounted_files_from_their_secrets(full_manifests: list[Manifest]) -> None:
    expected = {
        "REGSEARCH_REGISTRY_PASSWORD_FILE": ("regsearch-credentials", "registry-password"),
        "REGSEARCH_KAFKA_SASL_PASSWORD_FILE": ("kafka-user", "password"),
        "REGSEARCH_KAFKA_SSL_CAFILE": ("kafka-cluster-ca", "ca.crt"),
        "REGSEARCH_KAFKA_SSL_CERTFILE": ("kafka-cluster-ca", "tls.crt"),
        "REGSEARCH_KAFKA_SSL_KEYFILE": ("kafka-cluster-ca", "tls.key"),
    }
    for role in ROLES:
        spec = pod_spec(workload_of(full_manifests, role))
        box = container(full_manifests, role)
        variables = env(box)
        for name, (secret, key) in expected.items():
            assert secret_file(spec, box, variables[name]["value"]) == (secret, key), (role, name)


def test_replicas_and_resources_follow_values(full_manifests: list[Manifest]) -> None:
    for role in ("webhooks", "indexer", "search-api"):
        assert workload_of(full_manifests, role)["spec"]["replicas"] == 3
    assert container(full_manifests, "search-api")["resources"] == FULL_VALUES["searchApi"]["resources"]


def test_search_api_without_persistence_is_a_deployment_on_an_emptydir(default_manifests: list[Manifest]) -> None:
    workload = workload_of(default_manifests, "search-api")
    assert workload["kind"] == "Deployment"
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    assert "emptyDir" in volumes["data"]


def test_search_api_with_persistence_is_a_statefulset_with_one_claim_per_replica(
    full_manifests: list[Manifest],
) -> None:
    workload = workload_of(full_manifests, "search-api")
    assert workload["kind"] == "StatefulSet"
    (claim,) = workload["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "data" not in {v["name"] for v in pod_spec(workload)["volumes"]}
    headless = one(full_manifests, "Service", workload["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"


def test_services_select_their_own_role(manifests: list[Manifest]) -> None:
    for role in ("webhooks", "search-api"):
        service = one(manifests, "Service", f"rs-regsearch-{role}")
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        matched = [w["metadata"]["name"] for w in workloads(manifests) if service_selects(service, w)]
        assert matched == [f"rs-regsearch-{role}"]


def test_ingress_routes_notifications_to_webhooks_and_search_to_search_api(
    full_manifests: list[Manifest],
) -> None:
    ingress = one(full_manifests, "Ingress", "rs-regsearch")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "search.example.com"
    routes = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
    assert {path: backend["name"] for path, backend in routes.items()} == {
        "/notifications": "rs-regsearch-webhooks",
        "/api/": "rs-regsearch-search-api",
        "/v1/": "rs-regsearch-search-api",
    }
    for backend in routes.values():
        service = one(full_manifests, "Service", backend["name"])
        assert backend["port"]["number"] == service["spec"]["ports"][0]["port"]


def test_budget_covers_the_search_api(full_manifests: list[Manifest]) -> None:
    budget = one(full_manifests, "PodDisruptionBudget", "rs-regsearch-search-api")
    assert budget["spec"]["minAvailable"] == 2
    labels = pod_template(workload_of(full_manifests, "search-api"))["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_crawl_runs_every_ten_minutes_one_at_a_time(default_manifests: list[Manifest]) -> None:
    cron = workload_of(default_manifests, "crawl")
    assert cron["spec"]["schedule"] == "*/10 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_spec(cron)["restartPolicy"] == "Never"


def test_missing_kafka_bootstrap_is_refused_with_its_name(tmp_path: Path) -> None:
    assert "kafka.bootstrap is required" in refusal(tmp_path, {})


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({"securityProtocol": "SASL_SSL", "sasl": {"password": "x"}}, "kafka.sasl.username is required"),
        ({"securityProtocol": "SASL_PLAINTEXT", "sasl": {"username": "u"}}, "kafka.sasl.password"),
        ({"tls": {"enabled": True, "existingSecret": "ca"}}, "needs kafka.securityProtocol SSL or SASL_SSL"),
        ({"securityProtocol": "SSL", "tls": {"enabled": True}}, "kafka.tls.existingSecret is required"),
        ({"securityProtocol": "TLS"}, "at '/kafka/securityProtocol': value must be one of"),
        (
            {"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "GSSAPI", "username": "u", "password": "p"}},
            "value must be one of 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'",
        ),
    ],
    ids=["sasl-no-user", "sasl-no-password", "tls-on-plaintext", "tls-no-secret", "bad-protocol", "bad-mechanism"],
)
def test_unusable_kafka_settings_are_refused(tmp_path: Path, kafka: dict[str, Any], message: str) -> None:
    assert message in refusal(tmp_path, {"kafka": {"bootstrap": BOOTSTRAP, **kafka}})


def test_registry_username_without_a_password_is_refused(tmp_path: Path) -> None:
    values = {"kafka": {"bootstrap": BOOTSTRAP}, "registry": {"username": "indexer"}}
    assert "registry.password (or secret.existingSecret) is required" in refusal(tmp_path, values)


def test_charts_secret_holds_every_password_it_mounts(tmp_path: Path) -> None:
    values = {
        "webhookToken": "t1,t2",
        "registry": {"username": "indexer", "password": "reg-pass"},
        "kafka": {"bootstrap": BOOTSTRAP, "securityProtocol": "SASL_PLAINTEXT",
                  "sasl": {"mechanism": "PLAIN", "username": "u", "password": "kafka-pass"}},
    }
    manifests = render(tmp_path, values)
    data = one(manifests, "Secret", "rs-regsearch")["data"]
    assert {k: base64.b64decode(v).decode() for k, v in data.items()} == {
        "webhook-token": "t1,t2",
        "registry-password": "reg-pass",
        "kafka-sasl-password": "kafka-pass",
    }
    spec, box = pod_spec(workload_of(manifests, "indexer")), container(manifests, "indexer")
    variables = env(box)
    def mounted(name: str) -> tuple[str, str]:
        return secret_file(spec, box, variables[name]["value"])

    assert mounted("REGSEARCH_REGISTRY_PASSWORD_FILE") == ("rs-regsearch", "registry-password")
    assert mounted("REGSEARCH_KAFKA_SASL_PASSWORD_FILE") == ("rs-regsearch", "kafka-sasl-password")
    assert variables["REGSEARCH_KAFKA_SASL_MECHANISM"]["value"] == "PLAIN"
    assert not TLS_ENV & variables.keys()


def test_tls_with_a_ca_only_mounts_no_client_certificate(tmp_path: Path) -> None:
    tls = {"enabled": True, "existingSecret": "kafka-ca", "caKey": "ca.pem", "certKey": "", "keyKey": ""}
    manifests = render(tmp_path, {"kafka": {"bootstrap": BOOTSTRAP, "securityProtocol": "SSL", "tls": tls}})
    spec, box = pod_spec(workload_of(manifests, "webhooks")), container(manifests, "webhooks")
    variables = env(box)
    assert secret_file(spec, box, variables["REGSEARCH_KAFKA_SSL_CAFILE"]["value"]) == ("kafka-ca", "ca.pem")
    assert not {"REGSEARCH_KAFKA_SSL_CERTFILE", "REGSEARCH_KAFKA_SSL_KEYFILE"} & variables.keys()
    assert not SASL_ENV & variables.keys()
