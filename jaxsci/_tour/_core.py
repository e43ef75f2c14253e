"""Runner for `jaxsci tour`.

Each pillar contributes a module `jaxsci/_tour/<pillar>.py` defining `DEMOS`, a list of
`Demo(name, run)` where `run(out_dir, quick) -> DemoResult`. A pillar without such a module
is reported as not yet available; nothing is faked for it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Callable

PILLARS = ("spectral", "gp", "diffusion", "curvature")


@dataclasses.dataclass
class DemoResult:
    """What one demo measured.

    `error` is compared against the known answer named by `check`; the demo passes when
    `error <= tolerance`. `plots` are PNG paths relative to the output folder.
    """

    check: str
    error: float
    tolerance: float
    plots: list[str] = dataclasses.field(default_factory=list)
    details: dict = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.error <= self.tolerance)


@dataclasses.dataclass(frozen=True)
class Demo:
    name: str
    run: Callable[[Path, bool], DemoResult]


def _load(pillar: str):
    name = f"jaxsci._tour.{pillar}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name == name:
            return None
        raise


class _Progress:
    """A dependency-free progress bar on stderr."""

    def __init__(self, total: int, width: int = 28):
        self.total, self.width, self.done = max(total, 1), width, 0

    def show(self, label: str) -> None:
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {label[:48]:<48}")
        sys.stderr.flush()

    def step(self, label: str) -> None:
        self.done += 1
        self.show(label)
        if self.done == self.total:
            sys.stderr.write("\n")


def run_tour(out: Path, quick: bool, pillars: tuple[str, ...] = PILLARS) -> dict:
    """Run every available demo of `pillars`, write `summary.json` into `out`, return it."""
    import jax

    out.mkdir(parents=True, exist_ok=True)
    device = str(jax.devices()[0])
    modules = {p: _load(p) for p in pillars}
    demos = [(p, d) for p, m in modules.items() if m is not None for d in m.DEMOS]
    progress = _Progress(len(demos))
    rows = []
    if demos:
        progress.show("starting")
    for pillar, demo in demos:
        progress.show(f"{pillar}: {demo.name}")
        start = time.perf_counter()
        result = demo.run(out, quick)
        wall = time.perf_counter() - start
        rows.append(
            dict(
                pillar=pillar,
                demo=demo.name,
                check=result.check,
                error=float(result.error),
                tolerance=float(result.tolerance),
                passed=result.passed,
                wall_time_s=wall,
                plots=list(result.plots),
                details=result.details,
            )
        )
        progress.step(f"{pillar}: {demo.name}")
    summary = dict(
        device=device,
        quick=quick,
        pillars={p: ("ran" if m is not None else "not yet available") for p, m in modules.items()},
        demos=rows,
        all_passed=all(r["passed"] for r in rows),
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def format_table(summary: dict) -> str:
    """The summary as a plain-text table."""
    header = ("pillar", "demo", "check", "error", "tol", "ok", "time")
    lines = [header]
    for r in summary["demos"]:
        lines.append(
            (
                r["pillar"],
                r["demo"],
                r["check"],
                f"{r['error']:.2e}",
                f"{r['tolerance']:.0e}",
                "yes" if r["passed"] else "NO",
                f"{r['wall_time_s']:.1f}s",
            )
        )
    for p, status in summary["pillars"].items():
        if status != "ran":
            lines.append((p, "-", status, "-", "-", "-", "-"))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    text = [fmt.format(*lines[0]), fmt.format(*("-" * w for w in widths))]
    text += [fmt.format(*row) for row in lines[1:]]
    text.append(f"device: {summary['device']}")
    return "\n".join(text)
