"""The `kubernetes` provisioner: a tenant control plane as workloads in the super-cluster.

`render` turns a plan and the tenant's PKI into the objects of the control-plane namespace,
one jinja2 template per object (`atoll/operator/templates/`). `KubernetesProvisioner` applies
them server-side in a fixed order, reads readiness off their status (`status_of`) without
ever waiting (`readiness`), scales the workloads to zero on pause and deletes them on destroy. The
reconciler above it creates the namespace, writes the PKI Secrets the templates mount, and
polls `ensure` until the control plane is ready.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import re
from typing import Any

import jinja2
import structlog
import yaml

from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources
from atoll.operator import plan as plans
from atoll.operator import tenant_pki
from atoll.operator.provisioners import base, readiness

KubeObject = kube_client.KubeObject

NETWORK_POLICIES = resources.Resource(
    "networking.k8s.io", "v1", "networkpolicies", namespaced=True, kind="NetworkPolicy"
)
KUBECONFIG_SECRET = "atoll-controller-manager-kubeconfig"  # noqa: S105 - the name of a Secret
FIELD_MANAGER = "atoll"
# `pause` scales through the scale subresource as a manager of its own; the next `ensure`
# applies with force and takes `spec.replicas` back.
PAUSE_FIELD_MANAGER = "atoll-pause"
TEMPLATES = pathlib.Path(__file__).parent.parent / "templates"

_DATASTORE_TEMPLATES = {
    "etcd": ("etcd-service", "etcd-statefulset"),
    "kine": ("kine-service", "kine-statefulset"),
}
_RESOURCES = {
    resource.kind: resource
    for resource in (
        resources.NAMESPACES,
        resources.SECRETS,
        resources.SERVICES,
        resources.STATEFULSETS,
        resources.DEPLOYMENTS,
        NETWORK_POLICIES,
    )
}
# Characters JSON leaves raw but YAML reads as line breaks or refuses; escaped instead.
_YAML_SPECIAL = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")

log = structlog.get_logger("atoll.provisioner.kubernetes")


def _json(value: object) -> str:
    """`value` as one line of JSON, which YAML reads back as exactly `value`."""
    text = json.dumps(value, ensure_ascii=False)
    return _YAML_SPECIAL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701 - renders YAML, never HTML
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["json"] = _json


def check_plan(plan: plans.ControlPlanePlan) -> None:
    """Raise `ProvisionerError` if this provisioner cannot build `plan`."""
    if plan.datastore_mode == "shared":
        # TODO(shared-datastore): render a key prefix on a shared etcd run by the cluster
        # admin (its address and a per-tenant client certificate) instead of refusing.
        raise base.ProvisionerError(
            "SharedDatastoreUnsupported",
            "the kubernetes provisioner runs a dedicated datastore only: set "
            "spec.controlPlane.datastore.mode to dedicated (or use the process provisioner)",
        )


def render(plan: plans.ControlPlanePlan, material: tenant_pki.TenantPki) -> list[KubeObject]:
    """Every object of the control plane, in the order `ensure` applies them."""
    check_plan(plan)
    context = _context(plan, material)
    names = (
        "namespace",
        "kubeconfig-secret",
        *_DATASTORE_TEMPLATES[plan.datastore],
        "apiserver-deployment",
        "apiserver-service",
        "controller-manager-deployment",
        "network-policy",
    )
    objects: list[KubeObject] = []
    for name in names:
        text = _environment.get_template(f"{name}.yaml.j2").render(context)
        objects.extend(document for document in yaml.safe_load_all(text) if document)
    return objects


def _context(plan: plans.ControlPlanePlan, material: tenant_pki.TenantPki) -> dict[str, Any]:
    access = config.ClusterAccess(
        server=readiness.api_server_url(plan),
        ca_pem=material.pairs["ca"].cert_pem,
        client_cert_pem=material.pairs["controller-manager"].cert_pem,
        client_key_pem=material.pairs["controller-manager"].key_pem,
    )
    kubeconfig = config.render_kubeconfig(access, name="tenant")
    # Certificates only: the hash changes when one is renewed, and says nothing of a key.
    certificates = b"".join(pair.cert_pem for _, pair in sorted(material.pairs.items()))
    pki_hash = hashlib.sha256(certificates + material.signing_key.public_pem).hexdigest()[:16]
    return {
        "namespace": plan.cluster_namespace,
        "owner_labels": plan.labels,
        "component_label": naming.COMPONENT,
        "uid_label": naming.VC_UID,
        "images": plan.images,
        "replicas": plan.replicas,
        "extra_args": plan.extra_args,
        "service_range": plan.service_range,
        "controllers": plans.TENANT_CONTROLLERS,
        "resources": {
            component: plan.resources.get(component) or {}
            for component in ("apiServer", "controllerManager", "datastore")
        },
        "storage_size": plan.storage_size,
        "storage_class": plan.storage_class,
        "service_type": plan.service_type,
        "node_port": plan.node_port,
        "service_annotations": plan.service_annotations,
        "ca_secret": tenant_pki.CA_SECRET,
        "certs_secret": tenant_pki.CERTS_SECRET,
        "kubeconfig_secret": KUBECONFIG_SECRET,
        "kubeconfig": base64.b64encode(kubeconfig.encode()).decode(),
        "pki_hash": pki_hash,
    }


class KubernetesProvisioner:
    """Runs tenant control planes as Deployments and a StatefulSet of the super-cluster."""

    name = "kubernetes"

    def __init__(self, api: kube_client.Client) -> None:
        self.api = api

    def check(self, plan: plans.ControlPlanePlan) -> None:
        check_plan(plan)

    async def ensure(
        self, plan: plans.ControlPlanePlan, material: tenant_pki.TenantPki
    ) -> base.ControlPlaneStatus:
        """Apply every object (creating, updating or scaling back up), then report."""
        objects = render(plan, material)
        logger = _logger(plan)

        # In order: the namespace and the Secrets the pods mount come before the pods.
        live: dict[str, KubeObject] = {}
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            live[f"{kind}/{name}"] = await self._apply(obj)
            logger.debug("applied", kind=kind, name=name)

        # Node addresses matter only when clients come through a node port.
        nodes: list[KubeObject] = []
        if plan.service_type == "NodePort" and not plan.endpoint:
            nodes = (await self.api.get(resources.NODES.path())).get("items") or []
        status = readiness.status_of(plan, live, nodes)
        logger.debug("control_plane_status", ready=status.ready, waiting=status.message)
        return status

    async def pause(self, plan: plans.ControlPlanePlan) -> None:
        """Scale every workload to zero; Services, Secrets and volumes stay."""
        logger = _logger(plan)
        # The API server and controller-manager first, so neither runs without its datastore.
        targets = (
            (resources.DEPLOYMENTS, "apiserver"),
            (resources.DEPLOYMENTS, "controller-manager"),
            (resources.STATEFULSETS, plan.datastore),
        )
        for resource, name in targets:
            try:
                await self.api.patch(
                    resource.path(plan.cluster_namespace, name, "scale"),
                    {"spec": {"replicas": 0}},
                    patch_type="merge",
                    field_manager=PAUSE_FIELD_MANAGER,
                )
            except errors.NotFound:
                continue
            logger.info("scaled_to_zero", kind=resource.kind, name=name)

    async def destroy(self, plan: plans.ControlPlanePlan, *, keep_data: bool) -> None:
        """Delete the control plane; without `keep_data` also its volumes and namespace."""
        namespace = plan.cluster_namespace
        # Workloads first, so nothing runs against a Service or a Secret that is gone.
        targets = (
            (resources.DEPLOYMENTS, "controller-manager"),
            (resources.DEPLOYMENTS, "apiserver"),
            (resources.STATEFULSETS, "etcd"),
            (resources.STATEFULSETS, "kine"),
            (resources.SERVICES, "apiserver"),
            (resources.SERVICES, "etcd"),
            (NETWORK_POLICIES, "control-plane"),
            (resources.SECRETS, KUBECONFIG_SECRET),
        )
        for resource, name in targets:
            await self._delete_owned(plan, resource, namespace, name)
        if keep_data:
            return

        claims = await self.api.get(
            resources.PVCS.path(namespace),
            params={"labelSelector": f"{naming.VC_UID}={plan.vc_uid}"},
        )
        for claim in claims.get("items") or []:
            await self._delete_owned(plan, resources.PVCS, namespace, claim["metadata"]["name"])
        # Foreground: the namespace is gone only once everything in it is.
        await self._delete_owned(
            plan, resources.NAMESPACES, None, namespace, propagation_policy="Foreground"
        )

    async def _apply(self, obj: KubeObject) -> KubeObject:
        metadata = obj["metadata"]
        resource = _RESOURCES[obj["kind"]]
        path = resource.path(metadata.get("namespace"), metadata["name"])
        try:
            return await self.api.patch(
                path, obj, patch_type="apply", field_manager=FIELD_MANAGER, force=True
            )
        except errors.Invalid as error:
            # Repeating the same object cannot help: the spec asks for something refused.
            raise base.ProvisionerError(
                "ControlPlaneObjectRefused",
                f"the super-cluster refused {obj['kind']} {metadata['name']} of the control "
                f"plane: {error}",
            ) from error

    async def _delete_owned(
        self,
        plan: plans.ControlPlanePlan,
        resource: resources.Resource,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str = "Background",
    ) -> None:
        """Delete one object if it is this VirtualCluster's; gone already is fine."""
        logger = _logger(plan).bind(kind=resource.kind, name=name)
        path = resource.path(namespace, name)
        try:
            current = await self.api.get(path)
        except errors.NotFound:
            return
        metadata = current["metadata"]
        if (metadata.get("labels") or {}).get(naming.VC_UID) != plan.vc_uid:
            logger.warning("not_deleted", reason="NotOwned")
            return
        if metadata.get("deletionTimestamp"):
            return

        try:
            await self.api.delete(path, uid=metadata["uid"], propagation_policy=propagation_policy)
        except errors.NotFound:
            return
        logger.info("deleted")


def _logger(plan: plans.ControlPlanePlan) -> Any:
    """A logger bound to this control plane (structlog's proxies are typed as Any)."""
    return log.bind(vc=f"{plan.vc_namespace}/{plan.vc_name}", namespace=plan.cluster_namespace)
