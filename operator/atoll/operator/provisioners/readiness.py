"""Where a `kubernetes`-provisioned control plane stands, read off its objects' status.

Pure functions: the provisioner fetches the workloads, the API server's Service and (for a
NodePort) the nodes, and `status_of` says whether all is ready, what it still waits for and
which URL clients should use. Nothing here waits or calls the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from atoll.core.kube import client as kube_client
from atoll.operator import plan as plans
from atoll.operator import tenant_pki
from atoll.operator.provisioners import base

KubeObject = kube_client.KubeObject

# A Deployment is rolled out when this many pods run its latest spec and are available.
_ROLLED_OUT = ("updated", "available")


def api_server_url(plan: plans.ControlPlanePlan) -> str:
    """Where the tenant API server answers inside the super-cluster: its Service."""
    return f"https://{tenant_pki.API_SERVER_SERVICE}.{plan.cluster_namespace}.svc:443"


def status_of(
    plan: plans.ControlPlanePlan, live: Mapping[str, KubeObject], nodes: Sequence[KubeObject]
) -> base.ControlPlaneStatus:
    """Where the control plane stands, read off its objects as the API server returned them.

    `live` maps `Kind/name` to an object; `nodes` is only needed for a NodePort Service.
    """
    server, address_waiting = _server(plan, live.get("Service/apiserver"), nodes)
    waiting = [
        message
        for message in (
            # One member serves: the datastore is up once any member is ready.
            _waiting(
                plan.datastore, live.get(f"StatefulSet/{plan.datastore}"), ("ready",), needed=1
            ),
            _waiting("apiserver", live.get("Deployment/apiserver"), _ROLLED_OUT),
            _waiting("controller-manager", live.get("Deployment/controller-manager"), _ROLLED_OUT),
            address_waiting,
        )
        if message
    ]
    return base.ControlPlaneStatus(
        ready=not waiting,
        server=server,
        message="; ".join(waiting),
        version=plan.kubernetes_version,
    )


def _waiting(
    name: str, workload: KubeObject | None, counts: tuple[str, ...], needed: int | None = None
) -> str:
    """What `workload` still waits for: "" once each of its `counts` reaches `needed`.

    `needed` defaults to the replicas the spec asks for. A status older than the spec (its
    controller has not seen the change yet) says nothing about the spec, so it waits too.
    """
    if workload is None:
        return f"waiting for {name}: not created yet"
    status = workload.get("status") or {}
    if status.get("observedGeneration", 0) < workload["metadata"].get("generation", 0):
        return f"waiting for {name}: the new spec is not rolled out yet"
    desired = workload["spec"].get("replicas", 1) if needed is None else needed
    for field in counts:
        if (count := status.get(f"{field}Replicas", 0)) < desired:
            return f"waiting for {name}: {count}/{desired} {field}"
    return ""


def _server(
    plan: plans.ControlPlanePlan, service: KubeObject | None, nodes: Sequence[KubeObject]
) -> tuple[str, str]:
    """The URL clients should use, and what it still waits for ("" when nothing)."""
    if plan.endpoint:
        return f"https://{plan.endpoint}", ""
    service = service or {}

    if plan.service_type == "NodePort":
        ports = (service.get("spec") or {}).get("ports") or [{}]
        node_port, address = ports[0].get("nodePort"), _ready_node_address(nodes)
        if not node_port or not address:
            return "", "waiting for a Ready node to serve the API server's node port"
        return f"https://{_host(address)}:{node_port}", ""

    if plan.service_type == "LoadBalancer":
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        address = (ingress[0].get("ip") or ingress[0].get("hostname")) if ingress else None
        if not address:
            return "", "waiting for a load balancer address"
        return f"https://{_host(address)}:443", ""

    return api_server_url(plan), ""


def _ready_node_address(nodes: Sequence[KubeObject]) -> str | None:
    """The InternalIP of the first Ready node, by name, so that the answer is stable."""
    for node in sorted(nodes, key=lambda item: str(item["metadata"]["name"])):
        status = node.get("status") or {}
        ready = any(
            item.get("type") == "Ready" and item.get("status") == "True"
            for item in status.get("conditions") or []
        )
        internal = [
            item["address"]
            for item in status.get("addresses") or []
            if item.get("type") == "InternalIP"
        ]
        if ready and internal:
            return str(internal[0])
    return None


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
