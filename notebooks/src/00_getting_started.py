import sys; sys.path.insert(0, "notebooks/src")
from _make import write
write("notebooks/00_getting_started.ipynb", [
 ("md", "# jaxsci: getting started\n\nThis notebook runs the quick tour: a short real problem from every pillar that is available, each checked against a known answer."),
 ("code", "import jax, jaxsci\nprint(jaxsci.__version__, jax.devices())"),
 ("code", "import json\nfrom jaxsci.cli import main\nstatus = main([\"tour\", \"--quick\", \"--out\", \"jaxsci-tour-nb\"])\nsummary = json.load(open(\"jaxsci-tour-nb/summary.json\"))"),
 ("code", "assert status == 0 and summary[\"all_passed\"], summary"),
])
