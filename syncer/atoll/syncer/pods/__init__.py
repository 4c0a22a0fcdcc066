"""Pod translation: tenant pods onto the super-cluster's pools, and their status back up.

`placement` decides where a tenant's pods may run (its pools, dedicated pools, edge autonomy),
`translate` builds the super pod from the tenant pod, and `status` brings the super pod's
status and node binding back to the tenant. Everything here is pure: the engine fetches the
objects, calls these functions, and writes what they return.
"""
