"""Kubernetes API access on raw JSON: addresses and credentials, the client, watches.

Modules: `config` (kubeconfig files and TLS), `resources` (REST paths per kind), `client`
(the HTTP client), `informer` (list + watch into a local cache), `errors` (one hierarchy).
"""
