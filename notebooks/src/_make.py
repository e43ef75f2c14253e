"""Helper for writing Colab-ready notebooks from Python cell lists (used when authoring)."""

import nbformat

INSTALL = '''# Colab: install jaxsci from the repository (skipped when jaxsci is already installed)
import importlib.util, subprocess, sys
if importlib.util.find_spec("jaxsci") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "jaxsci @ git+https://github.com/jaxsci/jaxsci"], check=True)'''


def write(path, cells):
    """`cells` is a list of ("md" | "code", source); an install cell is put first."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["accelerator"] = "GPU"
    nb.cells = [nbformat.v4.new_code_cell(INSTALL)]
    for kind, src in cells:
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(make(src))
    nbformat.write(nb, path)
