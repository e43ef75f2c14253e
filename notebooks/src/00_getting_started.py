import sys; sys.path.insert(0, "notebooks/src")
from _make import write
write("notebooks/00_getting_started.ipynb", [
 ("md", "# jaxsci: getting started\n\nThis notebook runs the quick tour: a short real problem from every pillar that is available, each checked against a known answer."),
 ("code", "import jax, jaxsci\nprint(jaxsci.__version__, jax.devices())"),
 ("code", "import json, os\nfrom jaxsci.cli import main\n# Under the test suite (which runs the whole quick tour elsewhere) one pillar is enough.\nonly = [\"--only\", \"spectral\"] if os.environ.get(\"JAXSCI_NOTEBOOK_TEST\") == \"1\" else []\nstatus = main([\"tour\", \"--quick\", \"--out\", \"jaxsci-tour-nb\", *only])\nsummary = json.load(open(\"jaxsci-tour-nb/summary.json\"))"),
 ("code", "assert status == 0 and summary[\"all_passed\"], summary"),
])
