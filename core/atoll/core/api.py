"""atoll's own API: the VirtualCluster and ClusterVersion resources and their definitions.

The CRD manifests in the repository's `crds/` folder are the one source of truth; they ship
inside the package (as `atoll/core/crds`) and `manifests()` reads them from wherever they are.
"""

from __future__ import annotations

import pathlib

import yaml

from atoll.core.kube import resources

GROUP = "atoll.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

VIRTUALCLUSTERS = resources.Resource(
    GROUP, VERSION, "virtualclusters", namespaced=True, kind="VirtualCluster"
)
CLUSTERVERSIONS = resources.Resource(
    GROUP, VERSION, "clusterversions", namespaced=False, kind="ClusterVersion"
)
DEFAULT_CLUSTER_VERSION = "default"
# The Service addresses of a tenant API server without a slice of its own (no
# status.serviceCIDR): clusters made before slices, or on a super-cluster without ServiceCIDRs.
UNSLICED_SERVICE_RANGE = "10.96.0.0/16"


def crd_dir() -> pathlib.Path:
    """The CRD folder: inside an installed wheel, or at the top of a source checkout."""
    packaged = pathlib.Path(__file__).parent / "crds"
    if packaged.is_dir():
        return packaged
    return pathlib.Path(__file__).resolve().parents[3] / "crds"


def manifests() -> list[dict[str, object]]:
    """Every object in the CRD folder, CustomResourceDefinitions first."""
    documents: list[dict[str, object]] = []
    for path in sorted(crd_dir().glob("*.yaml")):
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return sorted(documents, key=lambda doc: doc.get("kind") != "CustomResourceDefinition")
