"""The command-line interface: version, help, bad options, and a real quick tour."""

import json
import subprocess
import sys

import pytest

import jaxsci
from jaxsci import cli
from jaxsci._tour._core import PILLARS, _load


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "jaxsci", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_version():
    r = _run("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"jaxsci {jaxsci.__version__}"


def test_tour_help():
    r = _run("tour", "--help")
    assert r.returncode == 0
    assert "--quick" in r.stdout and "--out" in r.stdout


@pytest.mark.parametrize("args", [("tour", "--bogus"), ("nope",), ("tour", "--only", "weather")])
def test_bad_option_is_one_line_exit_2(args):
    r = _run(*args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "error" in r.stderr


def test_tour_quick_writes_summary_and_plots(tmp_path):
    out = tmp_path / "tour"
    assert cli.main(["tour", "--quick", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    available = [p for p in PILLARS if _load(p) is not None]
    assert sorted(p for p, s in summary["pillars"].items() if s == "ran") == sorted(available)
    for pillar in available:
        rows = [r for r in summary["demos"] if r["pillar"] == pillar]
        assert rows, pillar
        pngs = [p for r in rows for p in r["plots"]]
        assert pngs and all(p.endswith(".png") and (out / p).stat().st_size > 0 for p in pngs)
        assert all(r["passed"] for r in rows), rows
