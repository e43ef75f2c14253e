"""Sharding helpers: device meshes and batch (ensemble) axes split over them."""

from ._mesh import (
    data_parallel as data_parallel,
    ensemble_map as ensemble_map,
    make_mesh as make_mesh,
    replicate as replicate,
    shard_batch as shard_batch,
)

__all__ = [
    "data_parallel",
    "ensemble_map",
    "make_mesh",
    "replicate",
    "shard_batch",
]
