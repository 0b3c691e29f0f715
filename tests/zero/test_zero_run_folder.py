"""A run folder written by an AutoML-Zero search reads back through the same functions as every other run folder."""

from __future__ import annotations

import pytest

from nasrl_nb.run.folder import load_run
from nasrl_nb.spaces.registry import space_from_spec
from nasrl_nb.zero.program import Program
from nasrl_nb.zero.run import ZeroConfig, best_program, make_zero_search
from nasrl_nb.zero.space import ProgramSpace


@pytest.fixture(scope="module")
def zero_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("zero") / "run"
    search = make_zero_search(ZeroConfig(budget=60, num_tasks=2, test_tasks=1, n_train=20, n_valid=20, seed=3),
                              out_dir=out)
    search.run()
    return out, search


def test_space_from_spec_rebuilds_a_program_space():
    space = ZeroConfig(max_learn=4).space()
    again = space_from_spec(space.spec())
    assert isinstance(again, ProgramSpace) and again.spec() == space.spec()
    with pytest.raises(ValueError, match=r"space 'zero': missing keys \['layout'\]"):
        space_from_spec({"space": "zero", "ops": ["dot"], "max_sizes": {"setup": 0, "predict": 1, "learn": 1}})


def test_an_unknown_space_names_the_registered_ones():
    with pytest.raises(ValueError, match=r"space: 'nas' is not allowed; allowed values: macro, cell, darts, zoph-le, "
                                         r"custom, zero"):
        space_from_spec({"space": "nas"})


def test_load_run_reads_a_zero_run_folder(zero_run):
    out, search = zero_run
    run = load_run(out)
    assert run.method == "zero" and run.budget == 60 and len(run.history) == 60
    assert run.space.spec() == search.space.spec()
    archs = [run.architecture(record) for record in run.history]
    assert archs[0].choices[0] == Program()  # the search starts from the empty program
    assert [a.choices[0].to_text() for a in archs] == [r["arch"] for r in search.history]
    best, record = best_program(search)
    assert run.space.parse(run.summary["best_arch"]).choices[0] == best  # summary.json's best, read back
    assert run.summary["best_reward"] == record["reward"] == max(r["reward"] for r in run.history)


def test_the_replay_viewer_shows_a_zero_run(zero_run):
    from nasrl_nb.widgets import ReplayViewer
    from nasrl_nb.widgets.panels import RunState
    from nasrl_nb.widgets.run_panels import panel_names, render_run

    out, search = zero_run
    state = RunState.load(out)
    assert state.method == "zero" and len(state.history) == len(search.history)
    names = panel_names(state.method, shared_weights=False)
    assert names == ("rewards",)
    pngs = render_run(state, names)
    assert set(pngs) == {"rewards"} and pngs["rewards"].startswith(b"\x89PNG")
    ReplayViewer(out)  # builds every panel without an error


def test_rebuild_checkpoint_refuses_a_zero_run_in_one_line(zero_run):
    from nasrl_nb.assembly.rebuild import rebuild_checkpoint

    out, _ = zero_run
    with pytest.raises(ValueError, match="AutoML-Zero run, whose functional-equivalence cache") as info:
        rebuild_checkpoint(out, force=True)
    assert "\n" not in str(info.value)


def test_a_built_in_space_name_cannot_be_registered_again():
    from nasrl_nb.spaces.registry import register_spec_reader

    with pytest.raises(ValueError, match=r"name: 'cell' is a built-in space; allowed values: another name"):
        register_spec_reader("cell", ProgramSpace.from_spec)
