"""Where super pods find cluster DNS: a setting, or the super-cluster's `kube-dns` Service.

Pod translation (`pods.translate`) points a tenant's super pods at the super-cluster's DNS
with a search path of their super namespace, so the tenant's Service names resolve there.
The address comes from the syncer's setting when one is given; otherwise from the Service
`kube-dns` in `kube-system`, watched for as long as the engine runs. With neither, there is
nothing to point at and pods keep the DNS policy the tenant gave them.
"""

from __future__ import annotations

from atoll.core.kube import client as kube_client
from atoll.core.kube import informer, resources
from atoll.syncer.pods import translate

DNS_NAMESPACE = "kube-system"
DNS_SERVICE = "kube-dns"
DEFAULT_DOMAIN = "cluster.local"


class ClusterDns:
    """The super-cluster's DNS address and domain, for pod translation."""

    def __init__(
        self,
        api: kube_client.Client,
        *,
        nameserver: str | None = None,
        domain: str = DEFAULT_DOMAIN,
    ) -> None:
        self.nameserver = nameserver
        self.domain = domain
        self.service = informer.Informer(
            api,
            resources.SERVICES,
            namespace=DNS_NAMESPACE,
            field_selector=f"metadata.name={DNS_SERVICE}",
        )

    def synced(self) -> bool:
        """Whether `settings()` is an answer: before, the Service may just not be seen yet."""
        return self.nameserver is not None or self.service.synced.is_set()

    async def run(self) -> None:
        """Follow the `kube-dns` Service until cancelled; not at all with a fixed address."""
        if self.nameserver is not None:
            return
        async for _event in self.service.events():
            pass  # the informer's cache is all `settings()` reads

    def settings(self) -> translate.DnsSettings | None:
        """The DNS super pods use, or None when there is none to point them at."""
        address = self.nameserver
        if address is None:
            service = self.service.cache.get(f"{DNS_NAMESPACE}/{DNS_SERVICE}") or {}
            address = (service.get("spec") or {}).get("clusterIP")
        if not address or address == "None":
            return None
        return translate.DnsSettings(nameserver=address, domain=self.domain)
