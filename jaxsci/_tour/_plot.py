"""Plot helpers for tour demos: matplotlib with the Agg backend, PNG output."""

from __future__ import annotations

from pathlib import Path


def figure(*args, **kwargs):
    """A new matplotlib figure and axes drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save(fig, out: Path, name: str) -> str:
    """Save `fig` as `out/name` (a PNG), close it, and return the relative path."""
    import matplotlib.pyplot as plt

    path = out / name
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return name
