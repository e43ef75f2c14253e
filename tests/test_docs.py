"""`mkdocs build --strict` must pass, and every public name must appear in the API pages."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PILLARS = ("linalg", "parallel", "spectral", "gp", "diffusion", "curvature")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def test_mkdocs_build_strict(site):
    assert (site / "index.html").exists()


@pytest.mark.parametrize("pillar", PILLARS)
def test_every_public_name_is_documented(site, pillar):
    module = importlib.import_module(f"jaxsci.{pillar}")
    names = getattr(module, "__all__", None)
    assert names, f"jaxsci.{pillar} must list its public names in __all__"
    html = (site / "api" / pillar / "index.html").read_text()
    missing = [n for n in names if f'id="jaxsci.{pillar}.{n}"' not in html]
    assert not missing, f"not rendered on docs/api/{pillar}.md: {missing}"
