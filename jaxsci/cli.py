"""Command-line interface: `jaxsci tour` and `jaxsci --version`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._tour._core import PILLARS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jaxsci")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxsci", description="Differentiable scientific computing for JAX.")
    parser.add_argument("--version", action="version", version=f"jaxsci {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    tour = sub.add_parser(
        "tour",
        help="run a short showcase of every pillar",
        description="Run a short, real showcase of each pillar on the default JAX device, "
        "print a summary table and write PNG plots and summary.json.",
    )
    tour.add_argument("--out", type=Path, default=Path("jaxsci-tour"), help="output folder (default: ./jaxsci-tour)")
    tour.add_argument("--quick", action="store_true", help="smaller problems; under a minute on a 2-core CPU")
    tour.add_argument(
        "--only", nargs="+", choices=PILLARS, metavar="PILLAR", help=f"run only these pillars ({', '.join(PILLARS)})"
    )
    tour.add_argument(
        "--platform", choices=("cpu", "gpu", "tpu"), default=None, help="JAX platform (default: JAX's default device)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "tour":
        if args.platform is not None:
            os.environ["JAX_PLATFORMS"] = args.platform
        from ._tour._core import format_table, run_tour

        pillars = tuple(args.only) if args.only else PILLARS
        summary = run_tour(args.out, args.quick, pillars)
        print(format_table(summary))
        if not summary["demos"]:
            print("No pillar is available yet in this version of jaxsci; nothing was run.")
        print(f"wrote {args.out / 'summary.json'}")
        return 0 if summary["all_passed"] else 1
    return 0  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
