"""One pass of bringing a VirtualCluster to what its spec asks, and of taking it apart.

The Kopf handlers call `reconcile` on create, update, resume and on a timer, and `remove` on
delete. Every step is idempotent and reads the world before writing it, so the operator may
die between any two API calls and the next pass carries on without duplicates: namespace,
PKI Secrets, control plane, kubeconfig Secret, status. Failures the user can fix end in phase
`Failed` with a condition and an Event that say what to do; the next pass retries.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
from typing import Any

import structlog

from atoll.core import api as atoll_api
from atoll.core import conditions, naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources
from atoll.operator import events, pools, service_ranges, tenant_pki
from atoll.operator import plan as plans
from atoll.operator import settings as operator_settings
from atoll.operator.provisioners import base

log = structlog.get_logger("atoll.reconciler")

# A failure the user can fix (a missing ClusterVersion or pool) is retried this often, so
# the VirtualCluster recovers on its own soon after the fix.
RETRY_FAILED = 10.0
KubeObject = kube_client.KubeObject


@dataclasses.dataclass(frozen=True)
class Context:
    """What a reconcile pass works with."""

    api: kube_client.Client
    settings: operator_settings.Settings
    provisioners: dict[str, base.Provisioner]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How the pass ended; `retry_after` asks to be called again that soon."""

    phase: str
    retry_after: float | None = None


class _Stop(Exception):
    """Ends a pass early with a phase, a condition and an Event."""

    def __init__(self, phase: str, reason: str, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.phase = phase
        self.reason = reason
        self.retry_after = retry_after


async def reconcile(vc: KubeObject, context: Context) -> Outcome:
    """Make the control plane match the spec; report where it stands in `status`."""
    status = dict(vc.get("status") or {})
    generation = int(vc["metadata"].get("generation", 1))
    try:
        return await _reconcile(vc, status, generation, context)
    except _Stop as stop:
        failing = stop.phase == "Failed"
        status["conditions"] = conditions.set_condition(
            status.get("conditions") or [],
            conditions.READY,
            "False",
            reason=stop.reason,
            message=str(stop),
            generation=generation,
        )
        await _write_status(context.api, vc, status, stop.phase, generation)
        if failing:
            await events.record(context.api, vc, "Warning", stop.reason, str(stop))
        return Outcome(stop.phase, retry_after=stop.retry_after)


async def _reconcile(
    vc: KubeObject, status: dict[str, Any], generation: int, context: Context
) -> Outcome:
    spec = vc.get("spec") or {}
    plan = await _plan(vc, status, context)
    provisioner = context.provisioners[plan.provisioner]
    status.update(
        provisioner=plan.provisioner,
        clusterNamespace=plan.cluster_namespace,
        datastore=f"{plan.datastore}/{plan.datastore_mode}",
    )
    if problem := pools.quota_problem(spec):
        raise _Stop("Failed", "InvalidQuota", problem, retry_after=RETRY_FAILED)
    await _check_pools(vc, status, generation, context)
    try:
        provisioner.check(plan)
    except base.ProvisionerError as error:
        raise _Stop("Failed", error.reason, str(error), retry_after=RETRY_FAILED) from error

    if spec.get("paused"):
        await provisioner.pause(plan)
        status["conditions"] = conditions.set_condition(
            status.get("conditions") or [],
            conditions.READY,
            "False",
            reason="Paused",
            message="the control plane is stopped; its data is kept",
            generation=generation,
        )
        if status.get("phase") != "Paused":
            await events.record(context.api, vc, "Normal", "Paused", "control plane stopped")
        await _write_status(context.api, vc, status, "Paused", generation)
        return Outcome("Paused")

    if status.get("phase") in (None, "", "Pending", "Failed"):
        await _write_status(context.api, vc, status, "Provisioning", generation)
    await _ensure_namespace(context.api, plan)
    plan = await _with_service_range(status, plan, generation, context)
    material = await _ensure_pki(context.api, vc, plan, context.settings)

    try:
        control_plane = await provisioner.ensure(plan, material)
    except base.ProvisionerError as error:
        raise _Stop("Failed", error.reason, str(error), retry_after=RETRY_FAILED) from error
    status["conditions"] = conditions.set_condition(
        status.get("conditions") or [],
        conditions.CONTROL_PLANE_READY,
        "True" if control_plane.ready else "False",
        reason="Ready" if control_plane.ready else "Starting",
        message=control_plane.message or f"serving at {control_plane.server}",
        generation=generation,
    )
    if not control_plane.ready:
        raise _Stop("Provisioning", "ControlPlaneStarting", control_plane.message, 2)

    secret_name = await _ensure_kubeconfig(context.api, vc, material, control_plane.server)
    rolled = status.get("version") not in (None, control_plane.version)
    await pools.ensure_dedication(context.api, vc, context.settings.pool_label)
    status["nodePools"] = await pools.pool_status(context.api, vc, context.settings.pool_label)
    status.update(
        controlPlaneEndpoint=control_plane.server,
        version=control_plane.version,
        kubeconfigSecretRef={"name": secret_name, "key": "value"},
    )
    status["conditions"] = conditions.set_condition(
        status["conditions"],
        conditions.READY,
        "True",
        reason="Running",
        message="the control plane is serving",
        generation=generation,
    )
    if status.get("phase") != "Running":
        verb = "upgraded to" if rolled else "running"
        await events.record(
            context.api,
            vc,
            "Normal",
            "Running",
            f"control plane {verb} {control_plane.version} at "
            f"{control_plane.server}; kubeconfig in Secret {secret_name}",
        )
    await _write_status(context.api, vc, status, "Running", generation)
    return Outcome("Running")


async def _plan(vc: KubeObject, status: dict[str, Any], context: Context) -> plans.ControlPlanePlan:
    spec = vc.get("spec") or {}
    version_name = spec.get("clusterVersion") or atoll_api.DEFAULT_CLUSTER_VERSION
    try:
        cluster_version = await context.api.get(atoll_api.CLUSTERVERSIONS.path(name=version_name))
    except errors.NotFound as error:
        raise _Stop(
            "Failed",
            "ClusterVersionNotFound",
            f"ClusterVersion {version_name!r} does not exist: create it or set "
            f"spec.clusterVersion to one of `kubectl get clusterversions`",
            retry_after=RETRY_FAILED,
        ) from error

    try:
        plan = plans.build(
            vc, cluster_version, default_provisioner=context.settings.default_provisioner
        )
        plans.check_upgrade(status.get("version"), plan.kubernetes_version)
    except plans.PlanError as error:
        raise _Stop("Failed", error.reason, str(error), retry_after=RETRY_FAILED) from error
    return plan


async def _with_service_range(
    status: dict[str, Any], plan: plans.ControlPlanePlan, generation: int, context: Context
) -> plans.ControlPlanePlan:
    """The plan with the tenant's own slice of service addresses (see `service_ranges`)."""
    if status.get("version") and not status.get("serviceCIDR"):
        # Running since before it had a slice: its API server keeps the range it has.
        return plan
    settings = context.settings
    try:
        held = await service_ranges.ensure(
            context.api,
            name=plan.cluster_namespace,
            labels=plan.labels,
            pool=service_ranges.check_pool(
                settings.tenant_service_ranges, settings.tenant_service_prefix
            ),
            prefix=settings.tenant_service_prefix,
            recorded=status.get("serviceCIDR"),
        )
    except service_ranges.RangeUnavailable as error:
        raise _Stop(
            "Failed", "ServiceRangeUnavailable", str(error), retry_after=RETRY_FAILED
        ) from error
    if held is None:
        return plan
    status["serviceCIDR"] = held.service_range
    # Being deleted, it still routes the addresses given; new Services may be refused one
    # (the syncer then says so on each). It can only go with the cluster's last Service.
    status["conditions"] = conditions.set_condition(
        status.get("conditions") or [],
        conditions.SERVICE_RANGE_READY,
        "False" if held.deleting else "True",
        reason="ServiceCIDRDeleting" if held.deleting else "Served",
        message=(
            f"ServiceCIDR {plan.cluster_namespace} is being deleted: new Services may get no "
            "address that routes; it was deleted by hand, and goes only with the cluster"
            if held.deleting
            else f"the super-cluster serves {held.service_range} (ServiceCIDR "
            f"{plan.cluster_namespace})"
        ),
        generation=generation,
    )
    return dataclasses.replace(plan, service_range=held.service_range)


async def _check_pools(
    vc: KubeObject, status: dict[str, Any], generation: int, context: Context
) -> None:
    spec = vc.get("spec") or {}
    wanted = [pool["name"] for pool in spec.get("nodePools") or []]
    if not wanted:
        return
    label = context.settings.pool_label
    listing = await context.api.get(resources.NODES.path(), params={"labelSelector": label})
    known = {node["metadata"]["labels"][label] for node in listing["items"]}
    missing = [name for name in wanted if name not in known]
    if missing:
        raise _Stop(
            "Failed",
            "NodePoolNotFound",
            f"node pools {', '.join(missing)} do not exist (nodes labelled {label}: "
            f"{', '.join(sorted(known)) or 'none'}): fix spec.nodePools",
            retry_after=RETRY_FAILED,
        )
    taken = await pools.dedication_conflicts(context.api, vc)
    if taken:
        pool, holder = sorted(taken.items())[0]
        raise _Stop(
            "Failed",
            "DedicatedPoolTaken",
            f"pool {pool} is already dedicated to {holder}: grant it without dedicated: true, "
            "or choose another pool",
            retry_after=RETRY_FAILED,
        )
    status["conditions"] = conditions.set_condition(
        status.get("conditions") or [],
        conditions.NODE_POOLS_VALID,
        "True",
        reason="PoolsFound",
        message=f"pools {', '.join(wanted)} exist",
        generation=generation,
    )


async def _ensure_namespace(api: kube_client.Client, plan: plans.ControlPlanePlan) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": plan.cluster_namespace,
            "labels": {**plan.labels, naming.COMPONENT: "control-plane"},
        },
    }
    try:
        await api.create(resources.NAMESPACES.path(), body)
    except errors.AlreadyExists:
        return


async def _ensure_pki(
    api: kube_client.Client,
    vc: KubeObject,
    plan: plans.ControlPlanePlan,
    settings: operator_settings.Settings,
) -> tenant_pki.TenantPki:
    """Read both PKI Secrets, complete or renew what they hold, write back only changes."""
    stored: dict[str, dict[str, str] | None] = {}
    for name in (tenant_pki.CA_SECRET, tenant_pki.CERTS_SECRET):
        try:
            secret = await api.get(resources.SECRETS.path(plan.cluster_namespace, name))
            stored[name] = secret.get("data") or {}
        except errors.NotFound:
            stored[name] = None

    material = tenant_pki.ensure(
        plan,
        stored[tenant_pki.CA_SECRET],
        stored[tenant_pki.CERTS_SECRET],
        renew_before=settings.renew_before,
    )
    for name, data in (
        (tenant_pki.CA_SECRET, material.ca_data()),
        (tenant_pki.CERTS_SECRET, material.certs_data()),
    ):
        if stored[name] == data:
            continue
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": plan.cluster_namespace, "labels": plan.labels},
            "data": data,
        }
        path = resources.SECRETS.path(plan.cluster_namespace, name)
        if stored[name] is None:
            await api.create(resources.SECRETS.path(plan.cluster_namespace), body)
            await events.record(
                api,
                vc,
                "Normal",
                "CertificatesIssued",
                f"{name} created in {plan.cluster_namespace}",
            )
        else:
            await api.replace(path, body)
            await events.record(
                api,
                vc,
                "Normal",
                "CertificatesRenewed",
                f"{name} updated in {plan.cluster_namespace}",
            )
    return material


async def _ensure_kubeconfig(
    api: kube_client.Client, vc: KubeObject, material: tenant_pki.TenantPki, server: str
) -> str:
    """The tenant's admin kubeconfig, as Cluster API tools expect it."""
    metadata = vc["metadata"]
    name = naming.kubeconfig_secret(metadata["name"])
    admin = material.pairs["admin"]
    access = config.ClusterAccess(
        server=server,
        ca_pem=material.pairs["ca"].cert_pem,
        client_cert_pem=admin.cert_pem,
        client_key_pem=admin.key_pem,
    )
    value = base64.b64encode(config.render_kubeconfig(access, name=metadata["name"]).encode())
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "cluster.x-k8s.io/secret",
        "metadata": {
            "name": name,
            "namespace": metadata["namespace"],
            "labels": naming.owner_labels(metadata["namespace"], metadata["name"], metadata["uid"]),
            "ownerReferences": [
                {
                    "apiVersion": atoll_api.API_VERSION,
                    "kind": "VirtualCluster",
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                    "controller": True,
                }
            ],
        },
        "data": {"value": value.decode()},
    }
    path = resources.SECRETS.path(metadata["namespace"], name)
    try:
        current = await api.get(path)
    except errors.NotFound:
        await api.create(resources.SECRETS.path(metadata["namespace"]), body)
        return name
    if current.get("data") != body["data"]:
        await api.replace(path, body)
    return name


async def _write_status(
    api: kube_client.Client, vc: KubeObject, status: dict[str, Any], phase: str, generation: int
) -> None:
    status.update(phase=phase, observedGeneration=generation)
    if vc.get("status") == status:
        return
    metadata = vc["metadata"]
    path = atoll_api.VIRTUALCLUSTERS.path(metadata["namespace"], metadata["name"], "status")
    await api.patch(path, {"status": status}, patch_type="merge")
    vc["status"] = dict(status)


async def remove(vc: KubeObject, context: Context) -> bool:
    """Take the VirtualCluster apart per `deletionPolicy`; True once nothing is left."""
    metadata = vc["metadata"]
    spec = vc.get("spec") or {}
    keep_data = spec.get("deletionPolicy") == "Retain"
    status = dict(vc.get("status") or {})
    if status.get("phase") != "Deleting":
        await _write_status(context.api, vc, status, "Deleting", int(metadata.get("generation", 1)))

    try:
        plan = await _plan(vc, {}, context)
    except _Stop:
        # Without its ClusterVersion the plan still knows names and provisioner.
        plan = plans.build(
            vc,
            {"spec": {"kubernetesVersion": "v0.0.0"}},
            default_provisioner=context.settings.default_provisioner,
        )
    await pools.release_dedication(context.api, metadata["uid"])
    provisioner_name = status.get("provisioner") or plan.provisioner
    await context.provisioners[provisioner_name].destroy(plan, keep_data=keep_data)

    # Every super-cluster namespace of this tenant carries its uid; the control-plane one
    # stays with its certificates when the data is retained.
    selector = f"{naming.VC_UID}={metadata['uid']}"
    listing = await context.api.get(resources.NAMESPACES.path(), params={"labelSelector": selector})
    remaining = []
    for namespace in listing["items"]:
        name = namespace["metadata"]["name"]
        if keep_data and name == plan.cluster_namespace:
            # Marked, so that it reads as kept on purpose rather than left behind.
            labels = namespace["metadata"].get("labels") or {}
            if labels.get(naming.RETAINED) != "true":
                await context.api.patch(
                    resources.NAMESPACES.path(name=name),
                    {"metadata": {"labels": {naming.RETAINED: "true"}}},
                )
            continue
        remaining.append(name)
        if not namespace["metadata"].get("deletionTimestamp"):
            try:
                await context.api.delete(
                    resources.NAMESPACES.path(name=name), uid=namespace["metadata"]["uid"]
                )
            except errors.NotFound:
                remaining.remove(name)
    # Whatever the policy: retained data keeps no claim on addresses. The super-cluster
    # removes the ServiceCIDR once its last Service is gone.
    await service_ranges.release(context.api, plan.cluster_namespace, metadata["uid"])
    with contextlib.suppress(errors.NotFound):
        await context.api.delete(
            resources.SECRETS.path(
                metadata["namespace"], naming.kubeconfig_secret(metadata["name"])
            )
        )
    return not remaining
