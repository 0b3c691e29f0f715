"""Notebook display: figures reach the student as PNG, architectures as SVG, from a fresh kernel."""

import subprocess
from pathlib import Path
import sys

import pytest

from nasrl_nb import display


@pytest.fixture()
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def test_a_pyplot_free_figure_gets_a_png_once_registered(shell):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    assert display.register(shell)
    data, _ = shell.display_formatter.format(fig)
    assert data["image/png"].startswith(b"\x89PNG")


def test_an_architecture_displays_as_an_svg_drawing(shell):
    import nasrl_nb as nb

    display.register(shell)
    arch = nb.get_space("cell").sample(0)
    data, _ = shell.display_formatter.format(arch)
    assert data["text/html"].startswith("<svg") and str(arch).split("~")[0].strip("|") in data["text/html"]


def test_register_without_ipython_is_a_no_op_and_imports_nothing_heavy():
    code = (
        "import sys, nasrl_nb\n"
        "assert nasrl_nb.display.register() is False\n"
        "heavy = [m for m in ('matplotlib', 'ipywidgets', 'networkx', 'ray', 'IPython') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_source_shows_the_package_lines_with_file_and_line():
    from nasrl_nb.stats import rankdata

    shown = display.Source(rankdata)
    assert str(shown).startswith("def rankdata(")
    assert shown.where.startswith("nasrl_nb/stats.py, line ")
    line = int(shown.where.rsplit(" ", 1)[1])
    stats_lines = Path(display.__file__).parent.joinpath("stats.py").read_text().splitlines()
    assert stats_lines[line - 1].startswith("def rankdata(")
    markdown = shown._repr_markdown_()
    assert markdown.startswith("`nasrl_nb/stats.py, line ") and "```python\ndef rankdata(" in markdown


def test_source_of_a_decorated_function_names_its_own_file_not_the_decorators():
    import nasrl_nb as nb

    shown = display.Source(nb.EnasStrategy.sample_for_training)  # wrapped by @torch.no_grad()
    assert shown.where.startswith("nasrl_nb/enas/strategy.py, line ")
    line = int(shown.where.rsplit(" ", 1)[1])
    lines = Path(display.__file__).parent.joinpath("enas", "strategy.py").read_text().splitlines()
    assert str(shown).splitlines()[0] == lines[line - 1]
