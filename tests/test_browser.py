"""The dashboard in a real front end: JupyterLab on localhost, driven in headless Chromium.

Starts JupyterLab with a temporary token and notebook folder, opens a notebook that runs a
small real search under :class:`~nasrl_nb.widgets.SearchDashboard`, runs all cells and
checks that the widgets rendered (no "Error displaying widget"), that the architecture and
policy images are present and change while the search runs, and that Stop stops it. Uses
Debian's ``chromium`` through Playwright's Python package (never ``playwright install``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("NASRL_NB_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))

NOTEBOOK_CELLS = [
    """import nasrl_nb as nb
from nasrl_nb.widgets import SearchDashboard
data = nb.load_dataset("digits", seed=0, max_samples=300)
search = nb.make_search("reinforce", space="cell", dataset=data, budget=200, batch_size=2, epochs=1,
                        seed=0, progress=False)
dash = SearchDashboard(search, max_redraws_per_second=4, max_render_share=0.5)
dash""",
    "dash.start()",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout} s")


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on localhost serving a temporary folder with our notebook."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "dashboard.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime")}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.open_browser=False", "--allow-root",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"),
        start_new_session=True,
    )
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}")
        yield f"http://127.0.0.1:{port}", token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _image_sources(page, name: str) -> list[str]:
    return page.eval_on_selector_all(f"img.nasrl-{name}, .nasrl-{name} img", "els => els.map(e => e.src)")


def _status(page) -> str:
    return page.inner_text(".nasrl-status")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_dashboard_renders_updates_and_stops(jupyterlab):
    from playwright.sync_api import sync_playwright

    base, token = jupyterlab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/dashboard.ipynb?token={token}", timeout=90_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            _accept_kernel_dialog(page)
            page.click("text=Run", timeout=30_000)  # the main menu
            page.click("text=Run All Cells", timeout=30_000)
            _accept_kernel_dialog(page)

            page.wait_for_selector(".nasrl-status", timeout=120_000)
            # the policy image appears after the first update and changes with later ones
            page.wait_for_function(
                "() => [...document.querySelectorAll('img.nasrl-policy, .nasrl-policy img')].some(e => e.src && e.src.length > 0)",
                timeout=120_000,
            )
            first = {name: _image_sources(page, name) for name in ("architecture", "policy")}
            page.wait_for_function(
                """(first) => {
                    const now = n => [...document.querySelectorAll(`img.nasrl-${n}, .nasrl-${n} img`)].map(e => e.src);
                    return JSON.stringify(now('architecture')) !== JSON.stringify(first.architecture)
                        && JSON.stringify(now('policy')) !== JSON.stringify(first.policy);
                }""",
                arg=first,
                timeout=180_000,
            )
            assert "Error displaying widget" not in page.inner_text(".jp-Notebook")
            assert "running" in _status(page)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            page.click(".jp-Notebook button:has-text('Stop')")
            page.wait_for_function(
                "() => /stopped|done/.test(document.querySelector('.nasrl-status').innerText)", timeout=120_000
            )
            evaluated = _evaluated(_status(page))
            time.sleep(4)
            assert _evaluated(_status(page)) == evaluated, "the search went on after Stop"
            assert "stopped" in _status(page) and evaluated < 200
            page.screenshot(path=str(ARTIFACTS / "dashboard-stopped.png"), full_page=True)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "dashboard-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _accept_kernel_dialog(page) -> None:
    """JupyterLab may ask which kernel to start; take the proposed Python 3 kernel."""
    button = page.locator(".jp-Dialog button.jp-mod-accept")
    try:
        button.wait_for(state="visible", timeout=10_000)
    except Exception:  # no dialog this time: nothing to accept
        return
    button.click()


def _evaluated(status: str) -> int:
    match = re.search(r"(\d+)/(\d+) evaluated", status)
    assert match, f"no progress in status {status!r}"
    return int(match.group(1))

