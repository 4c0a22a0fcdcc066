"""What a kubelet would write for a downward-API field of a pod: read off the pod itself.

Local nodes are simulated and write no files, so tests check a super pod's downward-API
items by resolving their field paths against the super pod as the API server stores it.
"""

from __future__ import annotations

from typing import Any

ANNOTATION_PREFIX = "metadata.annotations['"


def resolve(pod: dict[str, Any], field_path: str) -> Any:
    """The value `field_path` (`metadata.<field>` or `metadata.annotations['<key>']`) has."""
    metadata = pod["metadata"]
    if field_path.startswith(ANNOTATION_PREFIX):
        return metadata["annotations"][
            field_path.removeprefix(ANNOTATION_PREFIX).removesuffix("']")
        ]
    return metadata[field_path.removeprefix("metadata.")]
