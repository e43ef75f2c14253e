"""Device meshes and batch sharding for ensembles."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from .._checks import checked_int


def make_mesh(num_devices: int | None = None, axis_name: str = "batch", *, devices: Sequence[Any] | None = None) -> Mesh:
    """A one-dimensional device mesh for splitting a batch (ensemble) axis.

    **Arguments:**

    - `num_devices`: how many devices to use (default: all of `devices`).
    - `axis_name`: the mesh axis name, used by `shard_batch`.
    - `devices`: the devices to choose from (default: `jax.devices()`).

    **Returns:** a `jax.sharding.Mesh` with one axis.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.parallel as par
    mesh = par.make_mesh()                      # every device, one axis named "batch"
    u0 = par.shard_batch(jnp.ones((2 * jax.device_count(), 64)), mesh)   # split over the devices
    ```
    """
    devices = list(jax.devices() if devices is None else devices)
    if num_devices is None:
        num_devices = len(devices)
    message = f"num_devices must be an int in [1, {len(devices)}], got {num_devices!r}"
    num_devices = checked_int(num_devices, message, 1, len(devices))
    return Mesh(np.array(devices[:num_devices]), (axis_name,))


def shard_batch(tree: Any, mesh: Mesh, axis_name: str | None = None) -> Any:
    """Place every leaf of `tree` with its leading axis split over `mesh`.

    Each leaf's leading dimension must be divisible by the number of devices on the axis.

    **Arguments:**

    - `tree`: a pytree of arrays sharing a leading batch axis.
    - `mesh`: a mesh from `make_mesh`.
    - `axis_name`: the mesh axis to split over (default: the mesh's only axis).

    **Returns:** the same pytree, sharded.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.parallel as par
    mesh, n = par.make_mesh(), 2 * jax.device_count()     # the batch must divide over the devices
    batch = par.shard_batch({"u": jnp.ones((n, 64)), "nu": jnp.linspace(0.1, 1.0, n)}, mesh)
    assert batch["u"].sharding.spec[0] == "batch"
    ```
    """
    axis_name = _axis(mesh, axis_name)
    size = mesh.shape[axis_name]
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        shape = np.shape(leaf)
        if len(shape) == 0 or shape[0] % size != 0:
            raise ValueError(
                f"tree leaf {jax.tree_util.keystr(path) or '(root)'} has shape {shape}: its leading "
                f"(batch) axis must be divisible by the {size} devices of mesh axis {axis_name!r}"
            )
    sharding = NamedSharding(mesh, PartitionSpec(axis_name))
    return jax.device_put(tree, sharding)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every leaf of `tree` in full on every device of `mesh`.

    ```python
    import jax.numpy as jnp
    import jaxsci.parallel as par
    mesh = par.make_mesh()
    weights = par.replicate(jnp.ones((64, 64)), mesh)   # e.g. parameters shared by a sharded batch
    assert weights.sharding.is_fully_replicated
    ```
    """
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def data_parallel(fn: Callable, mesh: Mesh, axis_name: str | None = None) -> Callable:
    """`fn`, data-parallel over `mesh`: each device runs `fn` on its own share of the batch.

    `fn` takes arrays with a leading batch (ensemble) axis and returns such arrays, and
    treats the members independently (e.g. `jax.vmap` of a per-member function, or
    [`jaxsci.spectral.ensemble_rollout`][]). Every positional argument is sharded over the
    mesh before the call, and `fn` runs under `jax.shard_map`, so no device sees another's
    members and the results stay sharded. A plain `jax.jit(fn)` on sharded inputs is not
    enough for FFT-based solvers: XLA's partitioner gathers the whole batch onto every
    device before each FFT, so every device repeats the whole ensemble's transforms.

    **Arguments:**

    - `fn`: a batched function whose members do not interact.
    - `mesh`: a mesh from `make_mesh`.
    - `axis_name`: the mesh axis (default: the mesh's only axis).

    **Returns:** the sharded function (jitted); the batch must divide evenly over the mesh.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.parallel as par
    mesh = par.make_mesh()
    norms = par.data_parallel(lambda u: (u**2).sum(axis=1), mesh)(jnp.ones((2 * jax.device_count(), 64)))
    assert jnp.allclose(norms, 64.0)
    ```
    """
    axis_name = _axis(mesh, axis_name)
    spec = PartitionSpec(axis_name)
    sharded = jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=spec, out_specs=spec))

    def call(*args):
        return sharded(*shard_batch(args, mesh, axis_name))

    return call


def ensemble_map(fn: Callable, mesh: Mesh, axis_name: str | None = None) -> Callable:
    """`jax.vmap(fn)`, data-parallel over `mesh` (`data_parallel(jax.vmap(fn), mesh)`).

    Every positional argument carries a leading ensemble axis, split over the mesh; each
    device maps `fn` over its own members. The numbers equal those of `jax.vmap(fn)` on
    one device.

    **Arguments:**

    - `fn`: a function of unbatched arguments.
    - `mesh`: a mesh from `make_mesh`.
    - `axis_name`: the mesh axis (default: the mesh's only axis).

    **Returns:** the batched, sharded function.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.parallel as par
    mesh = par.make_mesh()
    energies = par.ensemble_map(lambda u: (u**2).sum(), mesh)(jnp.ones((2 * jax.device_count(), 64)))
    assert jnp.allclose(energies, 64.0)
    ```
    """
    return data_parallel(jax.vmap(fn), mesh, axis_name)


def _axis(mesh: Mesh, axis_name: str | None) -> str:
    if axis_name is None:
        if len(mesh.axis_names) != 1:
            raise ValueError(f"axis_name is required for a mesh with axes {mesh.axis_names}")
        return mesh.axis_names[0]
    if axis_name not in mesh.axis_names:
        raise ValueError(f"axis_name {axis_name!r} is not an axis of the mesh {mesh.axis_names}")
    return axis_name
