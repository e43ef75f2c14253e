"""Every ```python example in a public docstring runs as written, and every public function
and final class has one (abstract classes and state records, such as an optimiser's state
tuple, may go without).

Public means: the names in `__all__` of each pillar (`jaxsci.linalg`, ...) and of its public
submodules (`jaxsci.diffusion.targets`, ...), and the public methods, properties and
`__init__` that a public class defines itself. Each example runs in a fresh namespace, so it
must hold its own imports and data.
"""

import importlib
import inspect
import re
import types

import pytest

PILLARS = ("linalg", "parallel", "spectral", "gp", "diffusion", "curvature")
_FENCE = re.compile(r"```python\n(.*?)```", re.S)


def _public_modules():
    for pillar in PILLARS:
        module = importlib.import_module(f"jaxsci.{pillar}")
        yield module
        for name, sub in vars(module).items():
            if isinstance(sub, types.ModuleType) and not name.startswith("_") and hasattr(sub, "__all__"):
                yield sub


def _public_objects():
    """(qualified name, object) for every public name and the members its class defines."""
    for module in _public_modules():
        for name in module.__all__:
            obj = getattr(module, name)
            qual = f"{module.__name__}.{name}"
            yield qual, obj
            if inspect.isclass(obj):
                for member_name, member in vars(obj).items():
                    if member_name.startswith("_") and member_name != "__init__":
                        continue
                    member = getattr(member, "__func__", member)
                    if callable(member) or isinstance(member, property):
                        yield f"{qual}.{member_name}", member


def _examples():
    seen, out = set(), []
    for qual, obj in _public_objects():
        for i, code in enumerate(_FENCE.findall(inspect.getdoc(obj) or "")):
            if code not in seen:  # a name exported twice, or a docstring inherited
                seen.add(code)
                out.append(pytest.param(code, id=f"{qual}[{i}]"))
    return out


EXAMPLES = _examples()


def test_examples_were_found():
    assert len(EXAMPLES) > 60


@pytest.mark.parametrize("code", EXAMPLES)
def test_docstring_example_runs(code):
    exec(compile(code, "<docstring example>", "exec"), {"__name__": "__docstring_example__"})


def test_every_public_function_and_final_class_has_an_example():
    missing = []
    for module in _public_modules():
        for name in module.__all__:
            obj = getattr(module, name)
            state_record = inspect.isclass(obj) and issubclass(obj, tuple)  # e.g. an optax state
            if not callable(obj) or name.startswith("Abstract") or state_record:
                continue
            if "```python" not in (inspect.getdoc(obj) or ""):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, f"public names without a runnable example: {missing}"
