"""The kubernetes provisioner's objects, as rendered from its templates, and its readiness."""

from __future__ import annotations

import base64
import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from atoll.core import naming
from atoll.operator import plan as plans
from atoll.operator import tenant_pki
from atoll.operator.provisioners import base, kubernetes, readiness

KubeObject = dict[str, Any]
CA_KEYS = {"ca.key", "front-proxy-ca.key", "etcd-ca.key"}
WORKLOADS = {"Deployment", "StatefulSet"}


def virtual_cluster(**control_plane: Any) -> KubeObject:
    return {
        "apiVersion": "atoll.dev/v1alpha1",
        "kind": "VirtualCluster",
        "metadata": {"name": "demo", "namespace": "team-a", "uid": "0f3c2a9e-uid"},
        "spec": {"controlPlane": {"provisioner": "kubernetes", **control_plane}},
    }


def cluster_version(**spec: Any) -> KubeObject:
    return {
        "apiVersion": "atoll.dev/v1alpha1",
        "kind": "ClusterVersion",
        "metadata": {"name": "default"},
        "spec": {
            "kubernetesVersion": "v1.37.2",
            "etcd": {"image": "registry.k8s.io/etcd:3.6.16-0"},
            "kine": {"image": "rancher/kine:v0.17.5"},
            "apiServer": {"image": "registry.k8s.io/kube-apiserver:v1.37.2"},
            "controllerManager": {"image": "registry.k8s.io/kube-controller-manager:v1.37.2"},
            **spec,
        },
    }


def make_plan(**control_plane: Any) -> plans.ControlPlanePlan:
    return plans.build(
        virtual_cluster(**control_plane), cluster_version(), default_provisioner="kubernetes"
    )


@pytest.fixture(scope="module")
def material() -> tenant_pki.TenantPki:
    return tenant_pki.ensure(make_plan(), None, None, renew_before=datetime.timedelta(days=30))


def find(objects: list[KubeObject], kind: str, name: str) -> KubeObject:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}"
    return matches[0]


def container(workload: KubeObject) -> KubeObject:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def mounted_keys(workload: KubeObject, secret: str) -> set[str]:
    keys: set[str] = set()
    for volume in workload["spec"]["template"]["spec"]["volumes"]:
        if (volume.get("secret") or {}).get("secretName") == secret:
            # Without items every key of the Secret would be mounted.
            assert volume["secret"]["items"], volume["name"]
            keys.update(item["key"] for item in volume["secret"]["items"])
    return keys


@pytest.mark.parametrize(
    ("datastore", "expected"),
    [
        (
            "etcd",
            [
                ("Namespace", None),
                ("Secret", "atoll-controller-manager-kubeconfig"),
                ("Service", "etcd"),
                ("StatefulSet", "etcd"),
                ("Deployment", "apiserver"),
                ("Service", "apiserver"),
                ("Deployment", "controller-manager"),
                ("NetworkPolicy", "control-plane"),
            ],
        ),
        (
            "kine",
            [
                ("Namespace", None),
                ("Secret", "atoll-controller-manager-kubeconfig"),
                ("Service", "etcd"),
                ("StatefulSet", "kine"),
                ("Deployment", "apiserver"),
                ("Service", "apiserver"),
                ("Deployment", "controller-manager"),
                ("NetworkPolicy", "control-plane"),
            ],
        ),
    ],
)
def test_objects_come_in_apply_order(
    material: tenant_pki.TenantPki, datastore: str, expected: list[tuple[str, str | None]]
) -> None:
    plan = make_plan(datastore={"type": datastore, "mode": "dedicated"})

    objects = kubernetes.render(plan, material)

    namespace = plan.cluster_namespace
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        (kind, name or namespace) for kind, name in expected
    ]


@pytest.mark.parametrize("datastore", ["etcd", "kine"])
def test_every_object_carries_the_owner_labels_and_namespace(
    material: tenant_pki.TenantPki, datastore: str
) -> None:
    plan = make_plan(datastore={"type": datastore})

    objects = kubernetes.render(plan, material)

    for obj in objects:
        metadata = obj["metadata"]
        labelled = [metadata]
        if obj["kind"] in WORKLOADS:
            labelled.append(obj["spec"]["template"]["metadata"])
            labelled.extend(
                claim["metadata"] for claim in obj["spec"].get("volumeClaimTemplates", [])
            )
        for item in labelled:
            assert plan.labels.items() <= item["labels"].items(), obj["kind"]
            assert item["labels"][naming.COMPONENT], obj["kind"]
        if obj["kind"] == "Namespace":
            assert metadata["name"] == plan.cluster_namespace
            assert metadata["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
        else:
            assert metadata["namespace"] == plan.cluster_namespace, obj["kind"]


def test_etcd_requires_client_certificates_and_keeps_data_on_a_claim(
    material: tenant_pki.TenantPki,
) -> None:
    plan = make_plan(
        datastore={"type": "etcd", "storage": {"size": "5Gi", "storageClassName": "fast"}},
        extraArgs={"datastore": ["--quota-backend-bytes=4294967296"]},
    )

    objects = kubernetes.render(plan, material)

    service = find(objects, "Service", "etcd")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert {port["port"] for port in service["spec"]["ports"]} == {2379, 2380}
    statefulset = find(objects, "StatefulSet", "etcd")
    assert statefulset["spec"]["serviceName"] == "etcd"
    assert statefulset["spec"]["replicas"] == 1
    etcd = container(statefulset)
    assert etcd["image"] == "registry.k8s.io/etcd:3.6.16-0"
    assert "--client-cert-auth" in etcd["command"]
    assert "--trusted-ca-file=/etc/atoll/ca/etcd-ca.crt" in etcd["command"]
    assert etcd["command"][-1] == "--quota-backend-bytes=4294967296"
    assert etcd["readinessProbe"] == {"tcpSocket": {"port": 2379}, "periodSeconds": 5}
    assert mounted_keys(statefulset, tenant_pki.CA_SECRET) == {"etcd-ca.crt"}
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"


def test_kine_serves_sqlite_under_the_etcd_service_name(material: tenant_pki.TenantPki) -> None:
    plan = make_plan(datastore={"type": "kine"})

    objects = kubernetes.render(plan, material)

    service = find(objects, "Service", "etcd")
    assert service["spec"]["type"] == "ClusterIP"
    assert [port["port"] for port in service["spec"]["ports"]] == [2379]
    statefulset = find(objects, "StatefulSet", "kine")
    kine = container(statefulset)
    assert kine["image"] == "rancher/kine:v0.17.5"
    assert kine["command"][:3] == [
        "kine",
        "--endpoint=sqlite:///data/state.db",
        "--listen-address=0.0.0.0:2379",
    ]
    assert "--trusted-ca-file=/etc/atoll/ca/etcd-ca.crt" in kine["command"]
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in claim["spec"]
    apiserver = container(find(objects, "Deployment", "apiserver"))
    assert f"--etcd-servers=https://etcd.{plan.cluster_namespace}.svc:2379" in apiserver["command"]


@pytest.mark.parametrize(
    ("service", "expected_type", "expected_node_port"),
    [
        ({}, "ClusterIP", None),
        ({"type": "NodePort"}, "NodePort", None),
        ({"type": "NodePort", "nodePort": 31443}, "NodePort", 31443),
        ({"type": "LoadBalancer"}, "LoadBalancer", None),
    ],
)
def test_api_server_service_follows_the_plan(
    material: tenant_pki.TenantPki,
    service: KubeObject,
    expected_type: str,
    expected_node_port: int | None,
) -> None:
    plan = make_plan(service={**service, "annotations": {"lb.example/internal": "true"}})

    rendered = find(kubernetes.render(plan, material), "Service", "apiserver")

    assert rendered["spec"]["type"] == expected_type
    (port,) = rendered["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (443, 6443)
    assert port.get("nodePort") == expected_node_port
    assert rendered["metadata"]["annotations"] == {"lb.example/internal": "true"}


@pytest.mark.parametrize("datastore", ["etcd", "kine"])
def test_only_the_controller_manager_mounts_a_ca_key(
    material: tenant_pki.TenantPki, datastore: str
) -> None:
    objects = kubernetes.render(make_plan(datastore={"type": datastore}), material)

    ca_keys = {
        o["metadata"]["name"]: mounted_keys(o, tenant_pki.CA_SECRET) & CA_KEYS
        for o in objects
        if o["kind"] in WORKLOADS
    }
    assert ca_keys == {datastore: set(), "apiserver": set(), "controller-manager": {"ca.key"}}
    apiserver = find(objects, "Deployment", "apiserver")
    assert mounted_keys(apiserver, tenant_pki.CA_SECRET) == {
        "ca.crt",
        "front-proxy-ca.crt",
        "etcd-ca.crt",
    }


@pytest.mark.parametrize(
    ("component", "kind", "name"),
    [
        ("apiServer", "Deployment", "apiserver"),
        ("controllerManager", "Deployment", "controller-manager"),
        ("datastore", "StatefulSet", "etcd"),
    ],
)
def test_extra_args_come_after_the_defaults_unchanged(
    material: tenant_pki.TenantPki, component: str, kind: str, name: str
) -> None:
    # Characters that mean something in YAML must reach the command line as written.
    extra = ["--v=4", "--odd=a: b # c, [d] {e} 'f' \"g\" \u2028 \U0001f600"]
    plan = make_plan(extraArgs={component: extra})

    command = container(find(kubernetes.render(plan, material), kind, name))["command"]

    assert command[-2:] == extra
    assert len(command) > 4


def test_version_flags_come_before_the_virtual_clusters_own(
    material: tenant_pki.TenantPki,
) -> None:
    plan = plans.build(
        virtual_cluster(extraArgs={"apiServer": ["--v=6"]}),
        cluster_version(
            apiServer={"image": "registry.k8s.io/kube-apiserver:v1.37.2", "extraArgs": ["--v=2"]}
        ),
        default_provisioner="kubernetes",
    )

    command = container(find(kubernetes.render(plan, material), "Deployment", "apiserver"))

    assert command["command"][-2:] == ["--v=2", "--v=6"]


def test_controller_manager_leaves_node_health_to_the_super_cluster(
    material: tenant_pki.TenantPki,
) -> None:
    deployment = find(kubernetes.render(make_plan(), material), "Deployment", "controller-manager")

    (controllers,) = [
        arg for arg in container(deployment)["command"] if arg.startswith("--controllers=")
    ]
    enabled = controllers.removeprefix("--controllers=").split(",")
    assert enabled[0] == "*"
    assert {
        "-node-lifecycle-controller",
        "-taint-eviction-controller",
        "-persistentvolume-attach-detach-controller",
    } <= set(enabled)
    assert "--leader-elect=false" in container(deployment)["command"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_controller_manager_kubeconfig_reaches_the_api_server_service(
    material: tenant_pki.TenantPki,
) -> None:
    plan = make_plan()

    secret = find(kubernetes.render(plan, material), "Secret", kubernetes.KUBECONFIG_SECRET)

    document = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    (cluster,) = document["clusters"]
    assert cluster["cluster"]["server"] == f"https://apiserver.{plan.cluster_namespace}.svc:443"
    (user,) = document["users"]
    client_cert = base64.b64decode(user["user"]["client-certificate-data"])
    assert client_cert == material.pairs["controller-manager"].cert_pem


@pytest.mark.parametrize("step", ["check_plan", "render"])
def test_shared_datastore_is_refused(material: tenant_pki.TenantPki, step: str) -> None:
    plan = make_plan(datastore={"type": "etcd", "mode": "shared"})
    steps: dict[str, Callable[[], object]] = {
        "check_plan": lambda: kubernetes.check_plan(plan),
        "render": lambda: kubernetes.render(plan, material),
    }

    with pytest.raises(base.ProvisionerError, match="mode to dedicated") as caught:
        steps[step]()

    assert caught.value.reason == "SharedDatastoreUnsupported"


@pytest.mark.parametrize("datastore", ["etcd", "kine"])
def test_every_container_runs_restricted(material: tenant_pki.TenantPki, datastore: str) -> None:
    objects = kubernetes.render(make_plan(datastore={"type": datastore}), material)

    for workload in (o for o in objects if o["kind"] in WORKLOADS):
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        context = container(workload)["securityContext"]
        assert context == {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }


def test_replicas_images_and_resources_come_from_the_plan(
    material: tenant_pki.TenantPki,
) -> None:
    requests = {"requests": {"cpu": "250m", "memory": "512Mi"}}
    plan = make_plan(replicas=3, resources={"apiServer": requests})

    objects = kubernetes.render(plan, material)

    apiserver = find(objects, "Deployment", "apiserver")
    assert apiserver["spec"]["replicas"] == 3
    assert container(apiserver)["image"] == "registry.k8s.io/kube-apiserver:v1.37.2"
    assert container(apiserver)["resources"] == requests
    assert container(find(objects, "Deployment", "controller-manager"))["resources"] == {}


def test_rendering_twice_gives_the_same_objects(material: tenant_pki.TenantPki) -> None:
    # Server-side apply of an unchanged plan must change nothing, or pods would roll.
    plan = make_plan(service={"type": "NodePort"})

    assert kubernetes.render(plan, material) == kubernetes.render(plan, material)


def test_network_policy_opens_the_api_server_and_shields_the_datastore(
    material: tenant_pki.TenantPki,
) -> None:
    policy = find(kubernetes.render(make_plan(), material), "NetworkPolicy", "control-plane")

    assert policy["spec"]["podSelector"] == {}
    api_rule, client_rule, peer_rule = policy["spec"]["ingress"]
    assert "from" not in api_rule
    assert api_rule["ports"] == [{"protocol": "TCP", "port": 6443}]
    (source,) = client_rule["from"]
    assert source["podSelector"]["matchLabels"][naming.COMPONENT] == "apiserver"
    assert client_rule["ports"] == [{"protocol": "TCP", "port": 2379}]
    assert peer_rule["ports"] == [{"protocol": "TCP", "port": 2380}]


# Readiness, read off the objects as the API server returns them.


def deployment(
    name: str, *, replicas: int = 1, available: int = 1, observed: int = 1
) -> KubeObject:
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": replicas,
            "availableReplicas": available,
        },
    }


def statefulset(name: str, *, ready: int = 1) -> KubeObject:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "readyReplicas": ready},
    }


def service(*, node_port: int | None = None, ingress: list[KubeObject] | None = None) -> KubeObject:
    port: KubeObject = {"port": 443, **({"nodePort": node_port} if node_port else {})}
    return {
        "kind": "Service",
        "metadata": {"name": "apiserver"},
        "spec": {"ports": [port]},
        "status": {"loadBalancer": {"ingress": ingress} if ingress else {}},
    }


def node(name: str, address: str, *, ready: bool = True) -> KubeObject:
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": "InternalIP", "address": address}],
        },
    }


def live_objects(*objects: KubeObject) -> dict[str, KubeObject]:
    healthy = [
        statefulset("etcd"),
        deployment("apiserver"),
        deployment("controller-manager"),
        service(),
    ]
    by_key = {f"{o['kind']}/{o['metadata']['name']}": o for o in healthy}
    by_key.update({f"{o['kind']}/{o['metadata']['name']}": o for o in objects})
    return by_key


@dataclasses.dataclass(frozen=True)
class StatusCase:
    """The live objects (healthy unless replaced), the nodes, and what `status_of` says."""

    control_plane: KubeObject
    replaced: tuple[KubeObject, ...] = ()
    nodes: tuple[KubeObject, ...] = ()
    ready: bool = True
    server: str = "https://apiserver.{namespace}.svc:443"
    message: str = ""


STATUS_CASES = {
    "all-ready-cluster-ip": StatusCase({}),
    "api-server-not-available": StatusCase(
        {},
        replaced=(deployment("apiserver", available=0),),
        ready=False,
        message="waiting for apiserver: 0/1 available",
    ),
    "datastore-and-stale-controller-manager": StatusCase(
        {},
        replaced=(statefulset("etcd", ready=0), deployment("controller-manager", observed=0)),
        ready=False,
        message="waiting for etcd: 0/1 ready; "
        "waiting for controller-manager: the new spec is not rolled out yet",
    ),
    "node-port-first-ready-node": StatusCase(
        {"service": {"type": "NodePort"}},
        replaced=(service(node_port=31000),),
        nodes=(node("b", "10.0.0.2"), node("a", "10.0.0.1", ready=False), node("c", "fd00::3")),
        server="https://10.0.0.2:31000",
    ),
    "node-port-ipv6": StatusCase(
        {"service": {"type": "NodePort"}},
        replaced=(service(node_port=31000),),
        nodes=(node("a", "fd00::1"),),
        server="https://[fd00::1]:31000",
    ),
    "node-port-without-ready-node": StatusCase(
        {"service": {"type": "NodePort"}},
        replaced=(service(node_port=31000),),
        nodes=(node("a", "10.0.0.1", ready=False),),
        ready=False,
        server="",
        message="waiting for a Ready node to serve the API server's node port",
    ),
    "load-balancer-pending": StatusCase(
        {"service": {"type": "LoadBalancer"}},
        ready=False,
        server="",
        message="waiting for a load balancer address",
    ),
    "load-balancer-hostname": StatusCase(
        {"service": {"type": "LoadBalancer"}},
        replaced=(service(ingress=[{"hostname": "lb.example.com"}]),),
        server="https://lb.example.com:443",
    ),
    "endpoint-wins": StatusCase(
        {"service": {"type": "LoadBalancer"}, "endpoint": "api.example.com:6443"},
        server="https://api.example.com:6443",
    ),
}


@pytest.mark.parametrize("case", STATUS_CASES.values(), ids=STATUS_CASES.keys())
def test_status_reports_readiness_and_server(case: StatusCase) -> None:
    plan = make_plan(**case.control_plane)

    status = readiness.status_of(plan, live_objects(*case.replaced), case.nodes)

    assert status == base.ControlPlaneStatus(
        ready=case.ready,
        server=case.server.format(namespace=plan.cluster_namespace),
        message=case.message,
        version="v1.37.2",
    )
