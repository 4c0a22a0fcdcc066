"""The `process` provisioner: a tenant control plane as local processes on loopback.

Each VirtualCluster gets a folder `<root>/<vc uid>/` holding its PKI files (mode 0600), its
datastore (etcd, or kine on SQLite), its ports and logs, and a registry of the processes it
runs (`run/`). The processes outlive the operator: after a restart, `ensure` adopts those
still running with the expected command line and starts only what is missing or changed, so
a version roll or a new flag restarts exactly the component it concerns.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import structlog

from atoll.core import binaries, paths
from atoll.core.kube import config
from atoll.local import components, credentials, health, ports, process
from atoll.operator import plan as plans
from atoll.operator import tenant_pki
from atoll.operator.provisioners import base

log = structlog.get_logger("atoll.provisioner.process")

PORT_NAMES = ("etcd", "etcd-peer", "kube-apiserver")


class ProcessProvisioner:
    """Runs tenant control planes as processes of this machine."""

    name = "process"

    def __init__(self, root: pathlib.Path, *, ready_deadline: float = 90.0) -> None:
        self.root = root
        self.ready_deadline = ready_deadline

    def folder(self, plan: plans.ControlPlanePlan) -> pathlib.Path:
        return self.root / plan.vc_uid

    def check(self, plan: plans.ControlPlanePlan) -> None:
        self._binaries(plan)

    async def ensure(
        self, plan: plans.ControlPlanePlan, material: tenant_pki.TenantPki
    ) -> base.ControlPlaneStatus:
        found = self._binaries(plan)
        folder = self.folder(plan)
        registry = process.Registry(folder / "run")

        # Files first: the processes read them at start.
        material_files = credentials.Credentials(folder / "pki", material.pairs)
        _write_private_files(folder / "pki", material.files())
        chosen = self._ports(folder, registry)
        server = f"https://127.0.0.1:{chosen['kube-apiserver']}"
        config.write_kubeconfig(
            material_files.kubeconfig("controller-manager"),
            material_files.access(server, "controller-manager"),
            name="tenant",
        )

        plan_components = self._components(plan, found, material_files, folder, chosen)
        api_server = next(c for c in plan_components if c.name == "kube-apiserver")
        watched = registry.watch(api_server.name, _log(folder, api_server.name))

        # Datastore and API server first; the controller-manager only once the API server
        # has finished bootstrapping its access rules (before that it is refused and exits).
        for component in plan_components:
            if component.name == "kube-controller-manager":
                try:
                    await health.wait_healthy(
                        api_server, watched, material_files, deadline=self.ready_deadline
                    )
                except health.StartupFailed as failure:
                    if watched.alive:
                        return base.ControlPlaneStatus(
                            ready=False, server=server, message=str(failure)
                        )
                    raise base.ProvisionerError(
                        "ComponentFailed", f"{failure}: {' | '.join(failure.log_tail[-3:])}"
                    ) from failure
            if registry.running(component.name, component.argv) is not None:
                continue
            # Not running, or running with other flags (a new version or option): replace it.
            registry.stop(component.name)
            registry.start(component.name, component.argv, _log(folder, component.name))
            log.info(
                "component_started",
                vc=plan.vc_name,
                namespace=plan.vc_namespace,
                component=component.name,
            )

        for component in plan_components:
            if registry.running(component.name) is None:
                tail = " | ".join(
                    registry.watch(component.name, _log(folder, component.name)).log_tail(3)
                )
                raise base.ProvisionerError("ComponentFailed", f"{component.name} exited: {tail}")
        return base.ControlPlaneStatus(ready=True, server=server, version=plan.kubernetes_version)

    async def pause(self, plan: plans.ControlPlanePlan) -> None:
        process.Registry(self.folder(plan) / "run").stop_all()

    async def destroy(self, plan: plans.ControlPlanePlan, *, keep_data: bool) -> None:
        folder = self.folder(plan)
        process.Registry(folder / "run").stop_all()
        if keep_data:
            log.info(
                "data_retained", vc=plan.vc_name, namespace=plan.vc_namespace, folder=str(folder)
            )
            return
        shutil.rmtree(folder, ignore_errors=True)

    def _binaries(self, plan: plans.ControlPlanePlan) -> dict[str, pathlib.Path]:
        if plan.datastore_mode == "shared":
            # TODO(shared-datastore): one datastore for many tenants, a key prefix each.
            raise base.ProvisionerError(
                "SharedDatastoreUnsupported",
                "controlPlane.datastore.mode shared is not available yet: use dedicated",
            )
        if plan.kubernetes_version != paths.KUBE_VERSION:
            raise base.ProvisionerError(
                "BinaryMissing",
                f"the process provisioner runs Kubernetes {paths.KUBE_VERSION}, not "
                f"{plan.kubernetes_version}: use a ClusterVersion for {paths.KUBE_VERSION}",
            )
        try:
            return binaries.find_all((plan.datastore, "kube-apiserver", "kube-controller-manager"))
        except binaries.MissingBinary as error:
            raise base.ProvisionerError("BinaryMissing", str(error)) from error

    def _ports(self, folder: pathlib.Path, registry: process.Registry) -> dict[str, int]:
        """Ports kept while the processes that hold them run; free ones chosen otherwise."""
        record = folder / "ports.json"
        try:
            previous: dict[str, int] = json.loads(record.read_text())
        except (OSError, ValueError):
            previous = {}
        if previous and any(registry.running(name) for name in registry.names()):
            return previous
        chosen = ports.allocate(previous, PORT_NAMES)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(chosen))
        return chosen

    def _components(
        self,
        plan: plans.ControlPlanePlan,
        found: dict[str, pathlib.Path],
        material: credentials.Credentials,
        folder: pathlib.Path,
        chosen: dict[str, int],
    ) -> list[components.Component]:
        datastore_args = plan.extra_args.get("datastore", ())
        if plan.datastore == "kine":
            datastore = components.kine(
                found["kine"], material, folder / "kine", chosen, extra_args=datastore_args
            )
            (folder / "kine").mkdir(parents=True, exist_ok=True, mode=0o700)
        else:
            datastore = components.etcd(
                found["etcd"],
                material,
                folder / "etcd",
                chosen,
                member="tenant",
                extra_args=datastore_args,
            )
        return [
            datastore,
            components.kube_apiserver(
                found["kube-apiserver"],
                material,
                chosen,
                authorization_modes="RBAC",
                front_proxy=True,
                service_range=plan.service_range,
                extra_args=plan.extra_args.get("apiServer", ()),
            ),
            components.kube_controller_manager(
                found["kube-controller-manager"],
                material,
                chosen,
                controllers=plans.TENANT_CONTROLLERS,
                serving=False,
                service_range=plan.service_range,
                extra_args=plan.extra_args.get("controllerManager", ()),
            ),
        ]


def _log(folder: pathlib.Path, name: str) -> pathlib.Path:
    return folder / "logs" / f"{name}.log"


def _write_private_files(folder: pathlib.Path, files: dict[str, bytes]) -> None:
    """Write key material with mode 0600, touching only files whose content changed."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, content in files.items():
        path = folder / name
        try:
            if path.read_bytes() == content:
                continue
        except OSError:
            pass
        scratch = path.with_name(f".{name}.tmp")
        scratch.touch(mode=0o600)
        scratch.write_bytes(content)
        scratch.replace(path)
