"""Rich display in IPython: figures as pictures, architectures as drawings.

The plots of :mod:`nasrl_nb.viz` return pyplot-free ``Figure`` objects, which IPython shows
as the text ``<Figure size ...>`` until something imports pyplot and its inline backend.
:func:`register` tells IPython how to show them, *by type name*, so neither matplotlib nor
the drawing code is imported before the first figure or architecture is displayed.
``import nasrl_nb`` calls it when it runs inside IPython.
"""

from __future__ import annotations

import sys


def register(ip=None) -> bool:
    """Add PNG display for matplotlib figures and SVG display for architectures.

    Returns False when there is no IPython shell to register with (a plain script).
    """
    ip = ip if ip is not None else _current_shell()
    if ip is None:
        return False
    formatters = ip.display_formatter.formatters
    formatters["image/png"].for_type_by_name("matplotlib.figure", "Figure", figure_png)
    formatters["text/html"].for_type_by_name("nasrl_nb.spaces.search_space", "Architecture", architecture_html)
    return True


def figure_png(fig) -> bytes:
    """The figure as PNG bytes, cropped to its content as the inline backend does."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def architecture_html(arch) -> str:
    """An inline SVG drawing of ``arch`` (its plain table when matplotlib is missing)."""
    try:
        from .viz.drawing import architecture_svg
    except ImportError:
        return arch._repr_html_()
    return architecture_svg(arch)


def _current_shell():
    """The running IPython shell, without importing IPython when it is not loaded."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


class Source:
    """A function's or class's source as the package holds it, for a notebook to show beside
    the equation it implements: a Markdown code block headed by its file and first line.

    ``nb.display.Source(nb.reinforce_loss)`` in a cell shows the lines a student can open;
    ``str()`` of it is the plain source.
    """

    def __init__(self, obj) -> None:
        import inspect
        from pathlib import Path

        obj = inspect.unwrap(obj)  # a decorated function (``@torch.no_grad()``): the lines and the file of its own body
        lines, first = inspect.getsourcelines(obj)
        package = Path(__file__).resolve().parent
        path = Path(inspect.getsourcefile(obj)).resolve()
        where = path.relative_to(package.parent) if path.is_relative_to(package.parent) else path
        self.text = "".join(lines)
        self.where = f"{where.as_posix()}, line {first}"

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return f"`{self.where}`\n\n```python\n{self.text}```"
