"""Unit tests for `atoll.syncer.isolation`: the pure half of a tenant's isolation policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from atoll.core import naming
from atoll.syncer import isolation, mapping

TENANT = mapping.Tenant(
    vc_name="web", vc_namespace="team-a", vc_uid="uid-a", server="https://127.0.0.1:6443"
)


def policy(**raw: Any) -> isolation.Isolation:
    return isolation.of({"isolation": raw})


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": spec}


def service(uid: str, service_type: str = "ClusterIP", ports: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": uid, "uid": uid, "annotations": {mapping.TENANT_UID: uid}},
        "spec": {"type": service_type, "ports": [{"port": 80 + n} for n in range(ports)]},
    }


def claim(uid: str, storage: str, storage_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": storage}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "metadata": {"name": uid, "uid": uid, "annotations": {mapping.TENANT_UID: uid}},
        "spec": spec,
    }


def test_an_empty_spec_means_baseline_with_network_isolation_and_no_quota() -> None:
    defaults = isolation.of({})

    assert defaults.pod_security == "baseline"
    assert defaults.network_isolation is True
    assert defaults.quota == {}
    assert isolation.namespace_labels(defaults) == {
        isolation.POD_SECURITY_ENFORCE: "baseline",
        isolation.POD_SECURITY_VERSION: "latest",
    }


def test_quota_quantities_are_parsed_and_pod_caps_keep_only_pod_resources() -> None:
    caps = policy(quota={"pods": 10, "requests.cpu": "500m", "services": 3})

    assert caps.quota["requests.cpu"] == Decimal("0.5")
    assert isolation.pod_caps(caps) == {"pods": Decimal(10), "requests.cpu": Decimal("0.5")}


def test_priority_classes_must_be_public_or_granted() -> None:
    granted = policy(allowedPriorityClasses=["batch"])

    assert isolation.class_refusal(granted, pod(priorityClassName="batch"), []) is None
    assert isolation.class_refusal(granted, pod(priorityClassName="shared"), ["shared"]) is None
    refusal = isolation.class_refusal(granted, pod(priorityClassName="system-node-critical"), [])
    assert refusal is not None
    assert "system-node-critical" in refusal
    assert "allowedPriorityClasses" in refusal
    assert "one of batch" in refusal


def test_runtime_classes_must_be_granted_and_none_are_by_default() -> None:
    assert isolation.class_refusal(policy(), pod(), []) is None
    refusal = isolation.class_refusal(policy(), pod(runtimeClassName="runc-unconfined"), [])
    assert refusal is not None
    assert "allowedRuntimeClasses" in refusal

    granted = policy(allowedRuntimeClasses=["gvisor"])
    assert isolation.class_refusal(granted, pod(runtimeClassName="gvisor"), []) is None


def test_storage_classes_must_be_public_or_granted() -> None:
    granted = policy(allowedStorageClasses=["fast"])

    assert isolation.storage_class_refusal(granted, claim("a", "1Gi"), []) is None
    assert isolation.storage_class_refusal(granted, claim("a", "1Gi", "fast"), []) is None
    assert isolation.storage_class_refusal(granted, claim("a", "1Gi", "std"), ["std"]) is None
    refusal = isolation.storage_class_refusal(granted, claim("a", "1Gi", "admin-only"), ["std"])
    assert refusal is not None
    assert "one of fast, std" in refusal


def test_service_quota_counts_services_load_balancers_and_node_ports() -> None:
    caps = policy(quota={"services": 2, "services.loadbalancers": 1, "services.nodeports": 3})
    owned = [service("one"), service("two", "LoadBalancer", ports=2)]

    third = isolation.object_refusal(caps, "Service", service("three"), owned)
    assert third is not None
    assert "services is 2" in third

    # The object itself is measured as a replacement, not counted twice.
    assert (
        isolation.object_refusal(caps, "Service", service("two", "LoadBalancer", 2), owned) is None
    )
    balancer = isolation.object_refusal(caps, "Service", service("one", "LoadBalancer"), owned)
    assert balancer is not None
    assert "services.loadbalancers" in balancer
    node_ports = isolation.object_refusal(caps, "Service", service("one", "NodePort", 2), owned)
    assert node_ports is not None
    assert "services.nodeports is 3" in node_ports


def test_claim_quota_counts_claims_and_storage() -> None:
    caps = policy(quota={"persistentvolumeclaims": 5, "requests.storage": "10Gi"})
    owned = [claim("a", "8Gi")]

    assert isolation.object_refusal(caps, "PersistentVolumeClaim", claim("b", "2Gi"), owned) is None
    refusal = isolation.object_refusal(caps, "PersistentVolumeClaim", claim("b", "3Gi"), owned)
    assert refusal is not None
    assert "requests.storage" in refusal
    assert "spec.isolation.quota" in refusal


def test_kinds_without_a_quota_are_never_refused() -> None:
    caps = policy(quota={"services": 0})
    assert isolation.object_refusal(caps, "ConfigMap", {"metadata": {"uid": "x"}}, []) is None
    assert isolation.object_refusal(policy(), "Service", service("a"), [service("b")]) is None


def test_network_policy_confines_traffic_to_the_tenant_and_is_not_tenant_owned() -> None:
    network = isolation.network_policy(TENANT, "team-a-web-abc123-default")

    spec = network["spec"]
    assert spec["podSelector"] == {}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    own = {"namespaceSelector": {"matchLabels": {naming.VC_UID: "uid-a"}}}
    assert own in spec["ingress"][0]["from"]
    assert {"to": [own]} in spec["egress"]
    assert {"to": [{"ipBlock": {"cidr": "127.0.0.1/32"}}]} in spec["egress"]
    dns = [rule for rule in spec["egress"] if "ports" in rule]
    assert dns
    assert {"protocol": "UDP", "port": 53} in dns[0]["ports"]
    # A tenant NetworkPolicy of the same name must find it is not the tenant's to change.
    assert not mapping.owned_by(network, TENANT)
    assert network["metadata"]["labels"][isolation.ISOLATES] == "uid-a"


def test_network_policy_for_a_tenant_api_named_by_dns_has_no_address_rule() -> None:
    named = mapping.Tenant(
        vc_name="web", vc_namespace="team-a", vc_uid="uid-a", server="https://api.example:443"
    )
    egress = isolation.network_policy(named, "ns")["spec"]["egress"]
    assert not [rule for rule in egress if "/32" in str(rule)]


def test_services_with_external_ips_are_refused() -> None:
    captured = {"metadata": {"uid": "x"}, "spec": {"externalIPs": ["203.0.113.9"]}}

    refusal = isolation.reference_refusal("Service", captured)

    assert refusal is not None
    assert "remove spec.externalIPs" in refusal
    assert isolation.reference_refusal("Service", service("plain")) is None


def test_claims_may_copy_data_only_from_their_own_namespace() -> None:
    def claim_from(namespace: str | None) -> dict[str, Any]:
        source: dict[str, Any] = {"kind": "PersistentVolumeClaim", "name": "origin"}
        if namespace is not None:
            source["namespace"] = namespace
        return {"metadata": {"namespace": "data"}, "spec": {"dataSourceRef": source}}

    refusal = isolation.reference_refusal("PersistentVolumeClaim", claim_from("kube-system"))

    assert refusal is not None
    assert "spec.dataSourceRef.namespace" in refusal
    assert isolation.reference_refusal("PersistentVolumeClaim", claim_from(None)) is None
    assert isolation.reference_refusal("PersistentVolumeClaim", claim_from("data")) is None
