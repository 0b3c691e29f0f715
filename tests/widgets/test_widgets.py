"""Widget logic without a browser: set values, press buttons, assert on the search and the views."""

from __future__ import annotations

import sys
import time

import ipywidgets  # a core dependency: imported, never skipped
import pytest

import nasrl_nb as nb
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.widgets import ReplayViewer, SearchDashboard, SpaceExplorer, StepThroughWidget
from nasrl_nb.widgets.common import Throttle, image
from nasrl_nb.widgets.panels import RunState, render_panels, warnings_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(widget) -> bool:
    return bytes(widget.value).startswith(PNG_MAGIC)


TOY = nb.custom_space({"arm": ["a", "b", "c"], "width": [8, 16]})


def toy_accuracy(delay: float = 0.0):
    """A known landscape: arm 'c' with width 16 is best; optionally slow, to test Stop."""

    def fn(arch):
        time.sleep(delay)
        return {"a": 0.2, "b": 0.5, "c": 0.8}[arch.choices[0]] + (0.1 if arch.choices[1] == 16 else 0.0)

    return fn


def toy_search(method="reinforce", *, budget=24, delay=0.0, **kwargs):
    return make_search(method, space=TOY, dataset=None, evaluator=FunctionEvaluator(toy_accuracy(delay), cache=False),
                       budget=budget, batch_size=4, seed=0, progress=False, **kwargs)


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_start_runs_the_search_to_its_budget_and_draws_every_panel():
    search = toy_search()
    dash = SearchDashboard(search)
    dash.buttons["start"].click()
    assert dash.wait(timeout=60)
    assert search.done and search.evaluations == 24
    assert dash.progress.value == 24
    for name in ("architecture", "policy", "entropy", "rewards"):
        assert is_png(dash.images[name]), name
    assert "done" in dash.status.value and "best reward" in dash.status.value and "val acc" in dash.status.value


def test_stop_mid_search_keeps_everything_and_start_continues():
    search = toy_search(budget=400, delay=0.01)
    dash = SearchDashboard(search)
    dash.buttons["start"].click()
    wait_until(lambda: search.evaluations >= 8)
    dash.buttons["stop"].click()
    assert dash.wait(timeout=30)
    stopped_at = search.evaluations
    assert 8 <= stopped_at < 400
    assert len(search.history) == stopped_at
    assert dash.state() == "stopped" and "stopped" in dash.status.value
    time.sleep(0.2)
    assert search.evaluations == stopped_at  # nothing runs after Stop
    search.budget = stopped_at + 8
    dash.buttons["start"].click()
    assert dash.wait(timeout=30)
    assert search.evaluations == stopped_at + 8 and search.done


def parked_on_pause(thread) -> bool:
    """True while ``thread`` waits inside ``SearchControl.may_continue`` (a paused loop, before its next step)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "may_continue" and frame.f_code.co_filename.endswith("control.py"):
            return True
        frame = frame.f_back
    return False


def test_pause_holds_the_search_until_start_resumes_it():
    search = toy_search(budget=200, delay=0.01)
    dash = SearchDashboard(search)
    dash.buttons["start"].click()
    wait_until(lambda: search.evaluations >= 4)
    dash.buttons["pause"].click()
    wait_until(lambda: parked_on_pause(dash._thread), timeout=120)  # the step in flight has finished, however slowly
    held = search.evaluations
    time.sleep(0.3)
    assert search.evaluations == held and dash.state() == "paused" and parked_on_pause(dash._thread)
    assert held % 4 == 0 and search.num_steps == held // 4  # whole steps only: none is cut short by the pause
    dash.buttons["start"].click()  # resume
    wait_until(lambda: search.evaluations > held)
    dash.stop()
    dash.wait(timeout=30)


def test_step_button_runs_exactly_one_batch():
    search = toy_search()
    dash = SearchDashboard(search)
    dash.buttons["step"].click()
    dash.wait(timeout=30)
    assert search.num_steps == 1 and search.evaluations == 4
    assert is_png(dash.images["policy"])


def test_sliders_change_the_policy_settings_of_the_next_update():
    search = toy_search()
    dash = SearchDashboard(search)
    dash.sliders["lr"].value = 0.01
    dash.sliders["entropy_weight"].value = 0.05
    dash.sliders["temperature"].value = 2.0
    assert search.hyperparameters() == pytest.approx({"lr": 0.01, "entropy_weight": 0.05, "temperature": 2.0})
    search.step()
    trainer = search.strategy.trainer
    assert trainer.lr == pytest.approx(0.01) and trainer.entropy_weight == pytest.approx(0.05)
    assert search.strategy.controller.temperature == pytest.approx(2.0)
    assert search.steps[-1].stats["lr"] == pytest.approx(0.01)


def test_sliders_are_disabled_without_a_policy_and_errors_show_in_the_output():
    search = toy_search("random")
    dash = SearchDashboard(search)
    assert all(slider.disabled for slider in dash.sliders.values())
    dash.sliders["lr"].value = 0.01  # a program can still set it: the ValueError must be shown, not swallowed
    shown = "".join(o.get("text", "") for o in dash.output.outputs)
    assert "ValueError" in shown and "lr" in shown


def test_redraws_are_throttled():
    search = toy_search(budget=200)
    dash = SearchDashboard(search, max_redraws_per_second=1.0)
    before = dash.redraws
    start = time.monotonic()
    dash.start()
    dash.wait(timeout=60)
    wall = time.monotonic() - start
    assert search.num_steps == 50
    assert dash.redraws - before <= int(wall) + 2  # at most one a second, plus the final one


def test_throttle_allows_at_most_rate_per_second():
    throttle = Throttle(rate=5.0)
    hits = 0
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        hits += throttle.ready()
    assert 1 <= hits <= 4


def test_export_button_writes_standalone_pytorch(tmp_path, tiny_digits):
    search = make_search("random", space="cell", dataset=tiny_digits, budget=2, batch_size=2, epochs=1,
                         seed=0, progress=False)
    search.run()
    dash = SearchDashboard(search, export_path=tmp_path / "best.py")
    dash.buttons["export"].click()
    source = (tmp_path / "best.py").read_text()
    assert "class ExportedNet(nn.Module)" in source and search.best["arch"] in source
    assert not [line for line in source.splitlines() if line.startswith(("import nasrl_nb", "from nasrl_nb"))]


def test_replay_viewer_scrubs_through_a_run_directory(tmp_path):
    search = toy_search(out_dir=tmp_path / "run", budget=12)
    search.run()
    replay = ReplayViewer(tmp_path / "run")
    assert replay.slider.max == 3 and replay.slider.value == 3
    replay.slider.value = 1
    first_step_archs = [r["arch"] for r in search.history if r["step"] == 0]
    assert all(arch.replace('"', "&quot;") in replay.table.value for arch in first_step_archs)
    assert is_png(replay.images["policy"])
    # a panel this step lacks (the toy run has no cost trade-off) shows a picture, never a broken image
    assert all(is_png(widget) for widget in replay.images.values())
    one = RunState.load(tmp_path / "run").upto(1)
    assert len(one.history) == 4 and len(one.steps) == 1
    with pytest.raises(ValueError, match="run_dir"):
        ReplayViewer(tmp_path / "missing")


def test_run_state_from_disk_matches_the_live_search(tmp_path):
    search = toy_search(out_dir=tmp_path / "run", budget=8)
    search.run()
    live, disk = RunState.from_search(search), RunState.load(tmp_path / "run")
    assert [r["arch"] for r in live.history] == [r["arch"] for r in disk.history]
    for a, b in zip(live.steps, disk.steps, strict=True):
        assert a["policy"]["decisions"] == b["policy"]["decisions"]
        for p, q in zip(a["policy"]["probs"], b["policy"]["probs"], strict=True):
            assert p == pytest.approx(q)
    assert [s["baseline"] for s in live.steps] == pytest.approx([s["baseline"] for s in disk.steps])
    assert render_panels(live).keys() == render_panels(disk).keys()


def test_space_explorer_follows_the_dropdowns_and_trains(tiny_digits):
    explorer = SpaceExplorer(nb.CellSpace(), tiny_digits, epochs=1)
    light = explorer.update()["params"]
    for dropdown in explorer.dropdowns:
        dropdown.value = "nor_conv_3x3"
    heavy = explorer.current_metrics["params"]
    assert heavy > light
    assert str(explorer.architecture).count("nor_conv_3x3") == 6
    explorer.train_button.click()
    explorer.wait(timeout=60)
    assert explorer.result.status == "ok" and is_png(explorer.curve)


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert png.startswith(PNG_MAGIC) and png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_images_start_as_a_valid_png_never_empty():
    # an ipywidgets Image with an empty value shows a broken-image icon in the browser
    for widget in (image(), image(placeholder="press Train")):
        width, height = _png_size(bytes(widget.value))
        assert width > 0 and height > 0
    assert image(placeholder="a").value != image(placeholder="b").value


def test_space_explorer_shows_pictures_before_any_training():
    explorer = SpaceExplorer(nb.MacroSpace(num_layers=3), data=None)
    assert is_png(explorer.picture) and is_png(explorer.curve)
    assert explorer.curve.value != explorer.picture.value  # the curve slot holds a placeholder
    assert explorer.train_button.disabled  # nothing to train on


def test_space_explorer_labels_are_full_decision_names_wide_enough_to_read():
    space = nb.MacroSpace(num_layers=3, skip_connections=True)
    explorer = SpaceExplorer(space)
    longest = max(len(d.name) for d in space.decisions)
    assert [d.description for d in explorer.dropdowns] == [d.name for d in space.decisions]
    for dropdown in explorer.dropdowns:
        width = dropdown.style.description_width
        assert width.endswith("ch") and float(width[:-2]) >= longest, width  # "layer_0.normalization" fits
        assert width in dropdown.layout.width  # the menu keeps its own room beside the label
    assert isinstance(explorer.widget, ipywidgets.VBox)


def test_step_through_runs_one_stage_per_press_and_commits_the_step():
    search = toy_search(budget=8)
    stepper = StepThroughWidget(search)
    for expected in ("sample", "build", "train", "reward", "update"):
        stepper.advance(block=True)
        assert stepper.history[-1].name == expected
        assert f"<b style='color:#0072b2'>{expected}</b>" in stepper.trail.value
        assert search.num_steps == (1 if expected == "update" else 0)
    update = stepper.history[-1].data
    assert len(update["before"]) == len(update["after"]) == 4
    assert len(search.history) == 4
    stepper.advance(block=True)
    assert stepper.history[-1].name == "sample"  # the next step starts


def test_warnings_flag_entropy_collapse_and_plateaus():
    state = RunState(TOY, "reinforce", budget=100)
    uniform = {"choices": [["a", "b", "c"], [8, 16]], "entropy": [1.0986, 0.6931]}
    collapsed = {"choices": [["a", "b", "c"], [8, 16]], "entropy": [0.01, 0.01]}
    state.history = [{"step": 0, "arch": "{}", "status": "ok"}] * 8
    state.steps = [{"step": k, "rewards": [0.5] * 4, "policy": p} for k, p in enumerate([uniform, collapsed] * 3)]
    messages = warnings_for(state)
    assert any("entropy collapse" in m for m in messages)
    assert any("reward plateau" in m for m in messages)
    state.steps = [{"step": k, "rewards": [0.1 * k], "policy": uniform} for k in range(6)]
    assert warnings_for(state) == []


def test_in_an_event_loop_the_search_runs_cooperatively_and_stop_lands_between_steps():
    import asyncio

    search = toy_search(budget=400, delay=0.005)
    dash = SearchDashboard(search)

    async def kernel():  # a Jupyter kernel's loop: the dashboard's task and the clicks share it
        dash.buttons["start"].click()
        assert dash._task is not None and dash._thread is None
        while search.evaluations < 8:
            await asyncio.sleep(0.01)
        dash.buttons["stop"].click()
        await dash._task

    asyncio.run(kernel())
    assert 8 <= search.evaluations < 400 and dash.state() == "stopped"
    assert len(search.history) == search.evaluations


def test_wait_takes_over_a_cooperative_run_and_finishes_it():
    import asyncio

    search = toy_search(budget=24)
    dash = SearchDashboard(search)

    async def cell():  # a cell that starts the run, then a cell that waits for it
        dash.start()
        await asyncio.sleep(0)
        assert dash.wait() and search.done

    asyncio.run(cell())
    assert dash.state() == "done" and is_png(dash.images["rewards"])
