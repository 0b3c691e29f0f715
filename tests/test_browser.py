"""The notebooks in a real front end: JupyterLab on localhost, driven in headless Chromium.

One JupyterLab server (temporary token and folder, quick mode) serves copies of every
notebook in ``notebooks/``. Each is opened, run with *Run All Cells*, and fails the test on
what a student would see broken: an error or traceback in an output, a figure shown as the
text ``<Figure size ...>``, a broken image (an ``<img>`` whose ``naturalWidth`` is 0),
"Error displaying widget", or a widget label cut off by its box. A screenshot of each
notebook after its run is saved under ``$NASRL_NB_SCREENSHOTS`` (default
``tests/artifacts/``). A second test runs a small search under the dashboard, checks that
its images change while it runs and that Stop stops it.

Uses Debian's ``chromium`` through Playwright's Python package (never ``playwright
install``). Without Chromium the tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
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
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(os.environ.get("NASRL_NB_SCREENSHOTS", REPO / "tests" / "artifacts"))
NOTEBOOK_SECONDS = 900  # one notebook's Run All, quick mode, on a busy 2-core machine
OPEN_MS = 600_000  # loading JupyterLab's page: seconds when idle, minutes on a loaded machine
MAX_SHOT_HEIGHT = 12_000  # px; a longer notebook is saved in several screenshots
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen, not one restored behind it

DASHBOARD_CELLS = [
    """import nasrl_nb as nb
from nasrl_nb.widgets import SearchDashboard
data = nb.load_dataset("digits", seed=0, max_samples=300)
search = nb.make_search("reinforce", space="cell", dataset=data, budget=200, batch_size=2, epochs=1,
                        seed=0, progress=False)
dash = SearchDashboard(search, max_redraws_per_second=4, max_render_share=0.5)
dash""",
    "dash.start()",
]

# JupyterLab 4 renders only the cells in view by default; render them all so that every
# output can be checked and photographed.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def _require_chromium() -> str:
    if CHROMIUM is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; under CI the browser tests must run")
        pytest.skip(message)
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout} s")


class Lab:
    """A running JupyterLab server: its base URL, token and REST helpers."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def url(self, name: str) -> str:
        return f"{self.base}/lab/tree/{name}?reset&token={self.token}"  # reset: only this notebook open

    def _request(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every session, so that the next notebook has the CPU to itself."""
        for session in self._request("/api/sessions"):
            self._request(f"/api/sessions/{session['id']}", method="DELETE")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab server, in quick mode, serving copies of the notebooks (the repo stays clean)."""
    _require_chromium()
    root = tmp_path_factory.mktemp("lab")
    for path in NOTEBOOKS:
        shutil.copy(path, root / path.name)
    dashboard = nbformat.v4.new_notebook()
    dashboard.cells = [nbformat.v4.new_code_cell(src) for src in DASHBOARD_CELLS]
    dashboard.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(dashboard, root / "dashboard.ipynb")
    settings = root / ".settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "NASRL_NB_QUICK": "1", "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log = open(root / "server.log", "wb")  # closed after the server stops
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--allow-root", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}")
        yield Lab(f"http://127.0.0.1:{port}", token)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=_require_chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, lab):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        yield page
    finally:
        page.close()
        lab.shut_down_kernels()


# --- driving JupyterLab ----------------------------------------------------------------------------


def _open(page, lab: Lab, name: str) -> None:
    page.goto(lab.url(name), timeout=OPEN_MS)
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="attached", timeout=OPEN_MS)
    _accept_kernel_dialog(page)
    try:  # the kernel is up when the toolbar's indicator says idle; Run All would queue anyway
        page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']",
                               state="attached", timeout=120_000)
    except Exception:
        pass


def _run_all(page) -> None:
    page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=30_000)
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')", timeout=30_000)
    _accept_kernel_dialog(page)


def _wait_until_run(page, timeout_s: float) -> None:
    """Until no cell is queued or running ("[*]") and at least one has run.

    After an error JupyterLab un-queues the remaining cells, so this returns then too.
    """
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('PANEL .jp-CodeCell .jp-InputPrompt')]
                .map(p => p.innerText.trim());
            return prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('*'));
        }""".replace("PANEL", PANEL),
        timeout=timeout_s * 1000,
        polling=500,
    )


def _accept_kernel_dialog(page) -> None:
    """JupyterLab may ask which kernel to start; take the proposed Python 3 kernel."""
    button = page.locator(".jp-Dialog button.jp-mod-accept")
    try:
        button.wait_for(state="visible", timeout=5_000)
    except Exception:  # no dialog this time: nothing to accept
        return
    button.click()


# --- what a student would see broken -----------------------------------------------------------------

PROBLEMS_JS = """() => {
    const nb = document.querySelector('PANEL .jp-Notebook');
    const visible = el => el.offsetParent !== null;
    const text = el => el.innerText.trim().slice(0, 300);
    const problems = [];
    for (const el of nb.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
        problems.push('error output: ' + text(el));
    for (const el of nb.querySelectorAll('.jp-OutputArea-output'))
        if (el.innerText.includes('Traceback (most recent call last)') && !el.matches('[data-mime-type="application/vnd.jupyter.stderr"]'))
            problems.push('traceback: ' + text(el));
    const all = nb.innerText;
    for (const match of all.matchAll(/<Figure size[^>]*>/g)) problems.push('figure shown as text: ' + match[0]);
    if (all.includes('Error displaying widget')) problems.push('Error displaying widget');
    for (const img of nb.querySelectorAll('img'))
        if (visible(img) && img.complete && img.naturalWidth === 0)
            problems.push('broken image: ' + (img.className || img.alt || img.src.slice(0, 60)));
    for (const label of nb.querySelectorAll('.widget-label'))
        if (visible(label) && label.scrollWidth > label.clientWidth + 1)
            problems.push('label cut off: ' + label.innerText);
    return problems;
}""".replace("PANEL", PANEL)


def _problems(page) -> list[str]:
    # images decode asynchronously: give them a moment before judging them broken
    try:
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{PANEL} .jp-Notebook img')].every(i => i.complete)",
            timeout=15_000,
        )
    except Exception:
        pass  # an image that never loads is reported below if it is broken
    return page.evaluate(PROBLEMS_JS)


def _screenshot(page, name: str) -> list[Path]:
    """The whole notebook, not only the viewport: grow the window to the notebook's height."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    scroller = f"{PANEL} .jp-WindowedPanel-outer"
    height = page.evaluate(f"() => (document.querySelector('{scroller}') || document.body).scrollHeight")
    chrome = 200  # menu bar, tabs and toolbar above the notebook
    page.set_viewport_size({"width": 1400, "height": min(height + chrome, MAX_SHOT_HEIGHT)})
    page.wait_for_timeout(500)
    paths = []
    for part, top in enumerate(range(0, max(height, 1), MAX_SHOT_HEIGHT - chrome)):
        page.evaluate(f"() => {{ const s = document.querySelector('{scroller}'); if (s) s.scrollTop = {top}; }}")
        page.wait_for_timeout(300)
        path = SCREENSHOTS / (f"{name}.png" if part == 0 else f"{name}-part{part + 1}.png")
        page.screenshot(path=str(path), full_page=True, timeout=120_000)
        paths.append(path)
    return paths


@pytest.mark.timeout(NOTEBOOK_SECONDS + OPEN_MS // 1000 + 300)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_renders_in_jupyterlab(notebook, lab, page):
    try:
        _open(page, lab, notebook.name)
        _run_all(page)
        _wait_until_run(page, NOTEBOOK_SECONDS)
        problems = _problems(page)
    finally:
        _screenshot(page, notebook.stem)
    assert problems == [], f"{notebook.name} in JupyterLab: " + "; ".join(problems)
    prompts = page.eval_on_selector_all(f"{PANEL} .jp-CodeCell .jp-InputPrompt", "ps => ps.map(p => p.innerText.trim())")
    not_run = [i for i, p in enumerate(prompts) if not re.search(r"\[\d+\]", p)]
    assert not not_run, f"{notebook.name}: code cells {not_run} did not run"


# --- the dashboard: live images and Stop ------------------------------------------------------------


def _image_sources(page, name: str) -> list[str]:
    return page.eval_on_selector_all(f"img.nasrl-{name}, .nasrl-{name} img", "els => els.map(e => e.src)")


def _status(page) -> str:
    return page.inner_text(".nasrl-status")


def _evaluated(status: str) -> int:
    match = re.search(r"(\d+)/(\d+) evaluated", status)
    assert match, f"no progress in status {status!r}"
    return int(match.group(1))


CHANGED_JS = """(before) => {
    const now = n => [...document.querySelectorAll(`img.nasrl-${n}, .nasrl-${n} img`)].map(e => e.src);
    return JSON.stringify(now('architecture')) !== JSON.stringify(before.architecture)
        && JSON.stringify(now('policy')) !== JSON.stringify(before.policy);
}"""


@pytest.mark.timeout(OPEN_MS // 1000 + 900)
def test_dashboard_renders_updates_and_stops(lab, page):
    try:
        _open(page, lab, "dashboard.ipynb")
        _run_all(page)
        page.wait_for_selector(".nasrl-status", timeout=120_000)
        # the images start as placeholders, change at the first update, and again at later ones
        placeholders = {name: _image_sources(page, name) for name in ("architecture", "policy")}
        page.wait_for_function(CHANGED_JS, arg=placeholders, timeout=180_000)
        first = {name: _image_sources(page, name) for name in ("architecture", "policy")}
        page.wait_for_function(CHANGED_JS, arg=first, timeout=180_000)
        assert _problems(page) == []
        assert "running" in _status(page)
        _screenshot(page, "dashboard-running")

        page.click(".jp-Notebook button:has-text('Stop')")
        page.wait_for_function(
            "() => /stopped|done/.test(document.querySelector('.nasrl-status').innerText)", timeout=120_000
        )
        evaluated = _evaluated(_status(page))
        time.sleep(4)
        assert _evaluated(_status(page)) == evaluated, "the search went on after Stop"
        assert "stopped" in _status(page) and evaluated < 200
    finally:
        _screenshot(page, "dashboard-stopped")
