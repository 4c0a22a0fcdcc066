"""The atoll syncer: keeps each tenant's objects and the super-cluster's consistent.

Downward it maps tenant objects onto the super-cluster (translated, owned, policed); upward it
brings status, nodes and events back. It sits on the core layers and below the operator.
"""
