"""One-thread mode shared by the benchmark scripts (import and call before jax/torch load).

`--xla_cpu_multi_thread_eigen=false` makes XLA's matrix products single-threaded, but XLA's
CPU FFT still splits large transforms over its intra-op thread pool, whose size follows
the CPUs the process may run on. On the 2-core development VM a 256 x 256 batched real FFT
pair then cost 260 us of CPU time, against 135 us on one core (and 68 us for half the rows,
below the size where XLA starts splitting). So one-thread mode also pins the process to a
single CPU, which bounds every pool (XLA, BLAS, torch) at one busy thread.
"""

from __future__ import annotations

import os


def single_thread() -> str:
    """Restrict XLA, BLAS/OpenMP and the process itself to one CPU; return a description."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "--xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"one thread, pinned to CPU {cpu}"
    return "one thread (CPU pinning unavailable on this OS)"


def steady_allocator() -> str:
    """Keep freed memory in the process (glibc): allocations up to 32 MiB come from the heap,
    which is never trimmed, so a buffer allocated again reuses pages already mapped.

    Both XLA and torch allocate their outputs and temporaries per call. With glibc's
    defaults, buffers of a few MB are mapped fresh (page faults on first touch) or not,
    depending on what the process freed before: a jaxsci sampler timed after torch's runs
    took up to 15% longer than timed alone, and torch's times moved as much. This setting
    applies to both libraries alike. It is a no-op off glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return "default allocator"
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return "default allocator"
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    ok = libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30)
    ok = ok and libc.mallopt(m_top_pad, 256 << 20)
    return "glibc heap kept (mmap threshold 32 MiB, no trimming)" if ok else "default allocator"
