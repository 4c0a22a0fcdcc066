"""Kubernetes API access on raw JSON: addresses and credentials, the client, watches.

Modules: `config` (kubeconfig files and TLS), `resources` (REST paths per kind), `client`
(the HTTP client), `informer` (list + watch into a local cache), `compact` (a cache that
keeps objects as JSON text), `errors` (one hierarchy).
"""
