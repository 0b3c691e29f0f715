"""``import nasrl_nb as nb``: the names a notebook needs, and nothing that leaked in by accident."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import nasrl_nb as nb

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "nasrl_nb"


def _fresh_namespace() -> list[str]:
    """The package's global names right after ``import nasrl_nb``, in a new interpreter."""
    code = "import json, nasrl_nb; print(json.dumps(sorted(vars(nasrl_nb))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(out.stdout)


def test_dir_is_all_the_submodules_and_the_version():
    assert dir(nb) == sorted(set(nb.__all__) | nb._SUBMODULES | {"__version__"})
    assert nb.__all__ == sorted(nb._EXPORTS) and len(set(nb.__all__)) == len(nb.__all__)


def test_the_submodules_are_exactly_the_packages_top_level_modules():
    tops = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("__")}
    tops |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert nb._SUBMODULES == tops


def test_import_leaks_no_module_or_helper_into_the_namespace():
    """``from __future__ import annotations`` or ``import importlib`` in ``__init__`` would show up here."""
    public = [name for name in _fresh_namespace() if not name.startswith("_")]
    leaked = [name for name in public if name not in nb._SUBMODULES]
    assert not leaked, f"names leaked into nasrl_nb's namespace: {leaked}"


def test_every_public_name_resolves_to_a_nasrl_nb_object_and_no_module_hides_in_all():
    for name in nb.__all__:
        value = getattr(nb, name)
        assert not isinstance(value, types.ModuleType), f"{name}: a module in __all__"
        home = getattr(value, "__module__", None)
        assert home is None or home.startswith("nasrl_nb."), f"{name} comes from {home}, not from nasrl_nb"
    for name in nb._SUBMODULES:
        assert getattr(nb, name).__name__ == f"nasrl_nb.{name}"


def test_every_nb_name_the_notebooks_and_readme_use_is_public():
    sources = [p.read_text() for p in sorted((REPO / "notebooks").glob("*.ipynb"))] + [(REPO / "README.md").read_text()]
    used = {m for text in sources for m in re.findall(r"\bnb\.(\w+)", text)}
    used |= {m for text in sources for m in re.findall(r"from nasrl_nb import (\w+)", text)}
    assert used, "the scan found no nb.<name>: its pattern is wrong"
    missing = sorted(used - set(dir(nb)))
    assert not missing, f"notebooks or the README use nb.{missing}, which nasrl_nb does not export"
