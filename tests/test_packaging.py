"""Packaging invariants: the dependency lists, the README's commands and CI cannot drift apart.

pyproject.toml is the source of truth. environment.yml (conda) and binder/ (mybinder.org)
must name the same core dependencies with the same version bounds; the README's first
screen shows exactly two one-line commands, the second of which is what ``.ci/run`` runs;
every ``python -m nasrl_nb`` line in the README parses with the real command line.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI (in the dev extra)
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
README_FIRST_SCREEN = 40  # lines a reader sees before scrolling
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib", "py-yaml": "pyyaml"}
NOT_PACKAGES = {"python", "pip"}  # conda entries that are the interpreter and installer
HEAVY_MODULES = ("ipywidgets", "matplotlib", "networkx", "ray")
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _specs(lines) -> dict[str, str]:
    """``{normalised name: specifier}`` from requirement strings (options and paths skipped)."""
    specs = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-") or line == ".":
            continue
        req = Requirement(line)
        name = canonicalize_name(CONDA_TO_PYPI.get(req.name, req.name))
        if name not in NOT_PACKAGES:
            specs[name] = str(req.specifier)
    return specs


def _expected_environment() -> dict[str, str]:
    """What the notebooks need: the core dependencies plus the ``lab`` extra."""
    project = _pyproject()["project"]
    return _specs(project["dependencies"] + project["optional-dependencies"]["lab"])


def _environment_yml() -> tuple[list, list]:
    """(conda entries, pip entries) of environment.yml."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return conda, pip


def _readme() -> str:
    return (REPO / "README.md").read_text()


def _first_screen_commands() -> list[str]:
    first_screen = "\n".join(_readme().splitlines()[:README_FIRST_SCREEN]) + "\n"
    return [body.strip() for _, body in FENCE.findall(first_screen)]


# --- dependencies --------------------------------------------------------------------------------


def test_pyproject_keeps_torch_unpinned_and_dev_includes_lab():
    project = _pyproject()["project"]
    assert "torch>=2.1" in project["dependencies"]
    extras = project["optional-dependencies"]
    assert set(_specs(extras["lab"])) == {"jupyterlab", "ipykernel"}
    assert _specs(extras["lab"]).items() <= _specs(extras["dev"]).items()
    assert {"pytest", "nbval", "pyyaml", "nbclient"} <= set(_specs(extras["dev"]))


def test_environment_yml_names_the_same_dependencies_and_installs_the_package():
    conda, pip = _environment_yml()
    assert _specs(conda + pip) == _expected_environment()
    assert "-e ." in pip
    assert any(line.startswith("python>=3.10") for line in conda)


def test_binder_names_the_same_dependencies_uses_cpu_torch_and_installs_the_package():
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    assert _specs(lines) == _expected_environment()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    post_build = REPO / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert re.search(r"pip install .*-e \.$", post_build.read_text(), re.M)


def test_binder_start_turns_on_quick_mode_and_hands_over():
    start = REPO / "binder" / "start"
    assert start.stat().st_mode & 0o111, "binder/start must be executable"
    text = start.read_text()
    assert 'NASRL_NB_QUICK="${NASRL_NB_QUICK:-1}"' in text and 'exec "$@"' in text


# --- README and CI ---------------------------------------------------------------------------------


def test_readme_first_screen_has_exactly_two_one_line_commands():
    commands = _first_screen_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in command for command in commands), commands
    install_lab, install_and_test = commands
    assert 'pip install -e ".[lab]"' in install_lab and "jupyter lab notebooks/00_start_here.ipynb" in install_lab
    assert 'pip install -e ".[dev]"' in install_and_test and "NASRL_NB_QUICK=1" in install_and_test


def test_ci_runs_exactly_the_readme_test_command():
    ci = REPO / ".ci" / "run"
    assert ci.stat().st_mode & 0o111, ".ci/run must be executable"
    text = ci.read_text()
    assert "set -euo pipefail" in text
    command = _first_screen_commands()[1]
    lines = [line.strip() for line in text.splitlines()]
    assert command in lines, f".ci/run must run the README command verbatim: {command}"
    assert lines[-1] == command or lines[-1] == "", "the README command must be the last step (pytest's exit code)"
    subprocess.run(["bash", "-n", str(ci)], check=True)


def test_ci_installs_torch_only_when_it_is_missing():
    text = (REPO / ".ci" / "run").read_text()
    guard = re.search(r'if ! python -c "import torch".*?\n(.*?)\nfi', text, re.S)
    assert guard and "pip install torch==" in guard.group(1)
    assert text.count("pip install torch") == 1


# --- Colab: its ipywidgets 7.7, its PyTorch, its GPU ------------------------------------------------


COLAB_IPYWIDGETS = "7.7.1"  # what a fresh Colab runtime ships; upgrading it to 8 blanks widgets there
UPGRADE_FLAGS = ("-U", "--upgrade", "--force-reinstall", "--ignore-installed", "-I")


def test_every_dependency_list_accepts_colabs_ipywidgets_and_ipywidgets_8():
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(_expected_environment()["ipywidgets"])
    assert spec.contains(COLAB_IPYWIDGETS) and spec.contains("8.1.5"), spec
    assert not spec.contains("7.6.5"), "7.6 was not tested; raise the bound only with a CI run"


def test_ci_tests_the_widgets_and_notebook_04_with_colabs_ipywidgets_before_the_readme_command():
    run = (REPO / ".ci" / "run").read_text()
    lines = [line.strip() for line in run.splitlines()]
    call = next(i for i, line in enumerate(lines) if ".ci/ipywidgets7" in line and "bash" in line)
    assert call < lines.index(_first_screen_commands()[1])
    assert "|| ipywidgets7_status=$?" in lines[call], "its failure must be held, not end CI before the main suite"
    assert re.search(r"trap .*ipywidgets7_status.*exit .*EXIT$", run, re.M), "a held failure must fail .ci/run"
    script = REPO / ".ci" / "ipywidgets7"
    assert script.stat().st_mode & 0o111, ".ci/ipywidgets7 must be executable"
    text = script.read_text()
    assert "set -euo pipefail" in text and "--system-site-packages" in text  # reuses this environment's torch
    assert f"ipywidgets=={COLAB_IPYWIDGETS}" in text and "pip install torch" not in text
    assert "--dry-run" in text and 'names == ["nasrl-nb"]' in text
    assert "tests/widgets/test_widgets.py notebooks/04_reinforce.ipynb" in text and "--nbval-kernel-name" in text
    subprocess.run(["bash", "-n", str(script)], check=True)


def _setup_cells() -> dict[str, str]:
    """``{notebook: source}`` of each notebook's setup cell (the one that installs the package)."""
    import nbformat

    cells = {}
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        sources = [c.source for c in nbformat.read(path, as_version=4).cells if "NASRL_NB_SOURCE" in c.source]
        assert len(sources) == 1, f"{path.name}: expected one setup cell, found {len(sources)}"
        cells[path.name] = sources[0]
    return cells


def test_setup_cell_installs_only_when_missing_and_never_upgrades_what_the_runtime_has():
    cells = _setup_cells()
    assert cells, "no notebook has a setup cell"
    installs = {}
    for name, source in cells.items():
        lines = source.splitlines()
        pip = [line.strip() for line in lines if '"pip", "install"' in line]
        assert len(pip) == 1, f"{name}: expected one pip install line, found {pip}"
        before = lines[: lines.index(next(line for line in lines if '"pip", "install"' in line))]
        assert any('find_spec("nasrl_nb") is None' in line for line in before), f"{name}: install only when missing"
        assert not any(f'"{flag}"' in pip[0] for flag in UPGRADE_FLAGS), f"{name}: {pip[0]}"
        installs[name] = pip[0]
    assert len(set(installs.values())) == 1, f"the setup cells install differently: {installs}"


def test_auto_device_picks_the_gpu_when_the_runtime_has_one(monkeypatch):
    import torch

    from nasrl_nb.runtime import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type in ("cpu", "mps")


def _readme_cli_lines() -> list[str]:
    lines = []
    for _, body in FENCE.findall(_readme()):
        for line in body.splitlines():
            line = line.strip()
            if line.startswith(("python -m nasrl_nb ", "nasrl-nb ")):
                lines.append(line)
    return lines


def test_every_cli_line_in_the_readme_parses_with_the_real_command_line():
    from nasrl_nb.cli.commands import build_parser

    lines = _readme_cli_lines()
    assert any(" spaces" in line for line in lines) and any(" train " in line for line in lines)
    parser = build_parser()
    for line in lines:
        words = shlex.split(line)
        argv = words[3:] if words[0] == "python" else words[1:]
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"README shows a command that the CLI rejects: {line}")


def test_every_library_extra_names_only_packages_the_library_imports():
    """An extra is a promise: ``pip install 'nasrl-nb[X]'`` must enable code that exists."""
    extras = _pyproject()["project"]["optional-dependencies"]
    source = "\n".join(p.read_text() for p in (REPO / "nasrl_nb").rglob("*.py"))
    for extra, requirements in extras.items():
        if extra in ("lab", "dev"):  # tools to run notebooks and tests, not library code
            continue
        for line in requirements:
            module = Requirement(line).name.replace("-", "_")
            assert re.search(rf"^\s*(import|from) {module}\b", source, re.M), (
                f"extra {extra!r} installs {module}, which nasrl_nb never imports"
            )


# --- import hygiene and entry points ---------------------------------------------------------------------


def test_import_does_not_load_widget_plot_graph_or_ray_modules():
    code = (
        "import sys, nasrl_nb, nasrl_nb.checks, nasrl_nb.cli.commands; "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "", f"import nasrl_nb loaded {out.stdout.strip()}"


def test_python_dash_m_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "nasrl_nb", "--help"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr
    for command in ("spaces", "train", "search", "export"):
        assert command in out.stdout


def test_start_here_map_names_every_notebook_and_only_those():
    """Notebook 00's map of the series lists every notebook that exists, and only those."""
    import nbformat

    start = nbformat.read(REPO / "notebooks" / "00_start_here.ipynb", as_version=4)
    table = next(c.source for c in start.cells if "## The map of the series" in c.source)
    stems = {p.stem for p in (REPO / "notebooks").glob("*.ipynb")}
    listed = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert listed == stems, f"map lists {sorted(listed - stems)} that do not exist, misses {sorted(stems - listed)}"


def test_readme_notebook_map_names_every_notebook():
    readme = _readme()
    missing = [p.stem for p in sorted((REPO / "notebooks").glob("*.ipynb")) if f"`{p.stem}`" not in readme]
    assert not missing, f"add these notebooks to the README's notebook map: {missing}"


def test_readme_layout_names_every_library_module():
    layout = _readme().split("## Layout", 1)[1]
    package = REPO / "nasrl_nb"
    modules = [p.name for p in sorted(package.rglob("*.py")) if not p.name.startswith("__")]
    modules += [p.name + "/" for p in sorted(package.iterdir()) if (p / "__init__.py").exists()]
    missing = [name for name in modules if name not in layout]
    assert not missing, f"add these modules to the README's Layout section: {missing}"


def test_setup_cell_installs_nothing_it_was_not_told_to():
    """With the package missing and no NASRL_NB_SOURCE, the cell stops with a message naming the
    setting; with one set, it pip-installs exactly that source (never a name nobody chose)."""
    import importlib.util

    source = next(iter(_setup_cells().values()))
    install_part = source.split("import nasrl_nb as nb")[0]
    calls = []

    def run(args, check):
        calls.append(args)

    fake_subprocess = type("fake", (), {"run": staticmethod(run)})
    original = importlib.util.find_spec
    try:
        importlib.util.find_spec = lambda name, *a: None if name == "nasrl_nb" else original(name, *a)
        for env, expected in ((None, None), ("git+https://example.org/course/nasrl-nb", "git+https://example.org/course/nasrl-nb")):
            calls.clear()
            old_env = os.environ.pop("NASRL_NB_SOURCE", None)
            if env is not None:
                os.environ["NASRL_NB_SOURCE"] = env
            try:
                code = install_part.replace("import importlib.util, os, subprocess, sys", "import importlib.util, os, sys")
                namespace = {"subprocess": fake_subprocess}
                if expected is None:
                    with pytest.raises(RuntimeError, match="NASRL_NB_SOURCE"):
                        exec(code, namespace)
                    assert calls == []
                else:
                    exec(code, namespace)
                    assert len(calls) == 1 and calls[0][-1] == expected
            finally:
                os.environ.pop("NASRL_NB_SOURCE", None)
                if old_env is not None:
                    os.environ["NASRL_NB_SOURCE"] = old_env
    finally:
        importlib.util.find_spec = original


def test_executed_copies_are_fresh():
    """Each notebook has an executed copy in notebooks/executed/ (what GitHub shows, figures
    included) with the same cells and an output record for every code cell; a stale copy fails
    here: regenerate it with ``python notebooks/executed/regenerate.py NOTEBOOK``."""
    import nbformat

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        copy = REPO / "notebooks" / "executed" / path.name
        assert copy.exists(), f"{path.name}: no executed copy; run python notebooks/executed/regenerate.py {path}"
        source, executed = nbformat.read(path, as_version=4), nbformat.read(copy, as_version=4)
        cells = [(c.cell_type, c.source) for c in source.cells]
        assert cells == [(c.cell_type, c.source) for c in executed.cells], (
            f"{path.name}: the executed copy is stale; run python notebooks/executed/regenerate.py {path}")
        unrun = [i for i, c in enumerate(executed.cells) if c.cell_type == "code" and c.execution_count is None]
        assert not unrun, f"{path.name}: cells {unrun} of the executed copy never ran"


def test_full_budget_timing_reads_cpu_seconds_and_adds_a_column():
    """``regenerate.py --full`` counts a kernel's CPU seconds from ``/proc`` (they grow with work done,
    not with waiting), and the table gains a full-budget column only when such times exist."""
    import importlib.util
    import os
    import time

    spec = importlib.util.spec_from_file_location("regenerate", REPO / "notebooks" / "executed" / "regenerate.py")
    regenerate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regenerate)
    before = regenerate.kernel_cpu_seconds(os.getpid())
    time.sleep(0.3)
    slept = regenerate.kernel_cpu_seconds(os.getpid())
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    worked = regenerate.kernel_cpu_seconds(os.getpid())
    assert slept - before < 0.2 and worked - slept >= 0.4
    times = {"00_start_here.ipynb": {"seconds": 6.0, "words": 200, "exercises": 2}}
    assert "full budget" not in regenerate.paths_table(times)
    table = regenerate.paths_table(times, {"00_start_here.ipynb": {"wall_seconds": 73.4}})
    assert "| `00_start_here` | lab | 6 | 73 | 200 | 2 | 11 |" in table
    assert all(line.count("|") == table.splitlines()[0].count("|") for line in table.splitlines())


def test_lab_path_in_readme_and_notebook_00_is_the_measured_one():
    """README's lab/homework table is the one ``regenerate.py --table`` makes from the measured
    ``times.json``, and notebook 00 names the same five lab notebooks."""
    import importlib.util
    import json

    import nbformat

    spec = importlib.util.spec_from_file_location("regenerate", REPO / "notebooks" / "executed" / "regenerate.py")
    regenerate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regenerate)
    times = json.loads(regenerate.TIMES.read_text())
    assert sorted(times) == sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")), "times.json misses a notebook"
    full = json.loads(regenerate.FULL_TIMES.read_text()) if regenerate.FULL_TIMES.exists() else {}
    assert set(full) <= set(times), "full_times.json names a notebook that does not exist"
    assert regenerate.paths_table(times, full) in (REPO / "README.md").read_text(), "README's lab table is stale"
    lab_minutes = sum(regenerate.lab_minutes(times[f"{name}.ipynb"]) for name in regenerate.LAB_PATH)
    assert lab_minutes <= 90, f"the lab path takes {lab_minutes:.0f} minutes"
    start = "\n".join(c.source for c in nbformat.read(REPO / "notebooks" / "00_start_here.ipynb", as_version=4).cells)
    paths = start[start.index("### Two paths"):]
    lab, homework = paths.split("**As homework**")
    assert all(name in lab or name == "00_start_here" for name in regenerate.LAB_PATH)
    others = [p.stem for p in (REPO / "notebooks").glob("*.ipynb") if p.stem not in regenerate.LAB_PATH]
    assert all(name in homework for name in others)
