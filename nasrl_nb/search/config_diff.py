"""Resuming with the same configuration: what differs between a saved ``config.json`` and now.

A resumed search must continue the search that was saved (same space, strategy, children,
reward...); only the :data:`~nasrl_nb.search.config.RESUME_OVERRIDES` (budget, device, the
evaluator's kind...) may change. This module names every other difference, field by field.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import RESUME_OVERRIDES, SECTIONS, SearchConfig


def _flatten(data: Mapping, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and key != "space" and key in SECTIONS:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_differences(saved: Mapping, current: Mapping, *, ignore: tuple[str, ...] | None = None) -> list[str]:
    """``["child.epochs: 3 -> 1", ...]`` for the fields of two ``config.json`` dicts that differ.

    The :data:`RESUME_OVERRIDES` are ignored, and so is ``evaluator``: an evaluator passed in
    code may be swapped for another that computes the same records (a parallel one, say).
    Pass ``ignore=()`` to see every difference.
    """
    ignore = (*RESUME_OVERRIDES.values(), "evaluator") if ignore is None else ignore
    old, new = _flatten(saved), _flatten(current)
    keys = [k for k in dict.fromkeys([*old, *new]) if k not in ignore]
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def check_resume_config(saved: Mapping, current: Mapping, *, out_dir, hand_built: bool = False) -> None:
    """Resuming with another configuration is a ValueError naming the fields (overrides aside).

    A hand-built search (no :class:`SearchConfig`) knows only a few essentials: those are compared.
    """
    if hand_built:
        current = {key: value for key, value in current.items() if key != "evaluator"}
        saved = {key: saved.get(key) for key in current}
    else:
        saved = _with_defaults(saved)
    differences = config_differences(saved, current)
    if differences:
        raise ValueError(
            f"resume: {str(out_dir)!r} holds a search with other settings: " + "; ".join(differences)
            + " (only budget, device, progress, policy_snapshots, evaluator_kind, workers and ray_address may change on resume)"
        )


def _with_defaults(saved: Mapping) -> Mapping:
    """A saved ``config.json`` with the fields added since it was written set to their defaults.

    A run made before a section existed (say ``sac``) then resumes; a saved file that no longer
    parses is compared as it stands, so its differences are still named.
    """
    try:
        return SearchConfig.from_dict(saved).to_dict()
    except (ValueError, TypeError):
        return saved
