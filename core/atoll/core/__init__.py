"""The bottom layer of atoll: pieces every other part uses and that know nothing of them.

Kubernetes API access on raw JSON (`atoll.core.kube`), the certificate authority
(`atoll.core.pki`), file-system locations (`atoll.core.paths`), the Kubernetes binaries
(`atoll.core.binaries`) and logging (`atoll.core.logging`). Nothing here imports from the
local super-cluster, the syncer, the operator or the CLI.
"""
