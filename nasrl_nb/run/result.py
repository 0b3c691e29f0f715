"""The result of a search: which architecture a method hands over at the end.

Each strategy declares its rule as ``result_rule`` (:class:`~nasrl_nb.strategies.base.SearchStrategy`):

* ``"best_reward"`` (the default): the evaluated child with the highest reward (ties:
  validation accuracy) -- what RL, random search, evolution and the bandits found;
* ``"last"``: the last proposed architecture. DARTS (Liu et al. 2019, Sec. 2.4) derives its
  cell from the *final* alphas; the history holds the cell derived after every search epoch,
  and an earlier epoch's cell that happened to score better is not DARTS's answer;
* ``"derive"``: ranked afresh after the search. ENAS (Pham et al. 2018, Sec. 2.2, "Deriving
  Architectures") samples candidates from the trained controller, scores each with the
  shared weights on the whole validation split and hands over the best; the children in the
  history were scored on one minibatch each, so their best is not the result
  (:func:`~nasrl_nb.enas.strategy.derive`; random search with weight sharing ranks uniform
  candidates the same way).

:func:`summary_result` is the ``result`` entry of ``summary.json``: the rule, what it means,
and the record it picks (for ``"derive"`` no record: :meth:`~nasrl_nb.assembly.result.SearchResult.from_run`
derives it from the run folder's checkpoint; :class:`~nasrl_nb.assembly.result.SearchResult` is the result as one object).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..validation import require_choice

RESULT_RULES: dict[str, str] = {
    "best_reward": "the evaluated architecture with the highest reward",
    "last": "the last proposed architecture (DARTS: the cell derived from the final alphas)",
    "derive": "ranked after the search by shared-weight validation accuracy of candidates sampled from the "
              "trained policy (ENAS's derivation)",
}
RESULT_FIELDS = ("arch", "space", "evaluation", "step", "status", "reward", "val_accuracy", "test_accuracy")


def summary_result(rule: str, tally) -> dict:
    """The ``result`` entry of a summary: ``rule``, ``description`` and the picked record's fields.

    ``tally`` is the search's :class:`~nasrl_nb.run.summary.RunTally`; ``arch`` is None
    while nothing qualifies (no success yet for ``"best_reward"``, no record for ``"last"``)
    and always for ``"derive"``, whose architecture needs the trained weights.
    """
    require_choice("result_rule", rule, RESULT_RULES)
    record = {"best_reward": tally.best, "last": tally.last}.get(rule)
    return {"rule": rule, "description": RESULT_RULES[rule], **{k: (record or {}).get(k) for k in RESULT_FIELDS}}


def result_entry(summary: Mapping) -> dict:
    """A summary's ``result`` entry, as export reads it.

    For ``"best_reward"`` (and a summary written before ``result`` existed) the fields are
    read from ``best_*``, the one place a summary names its best architecture.
    """
    entry = summary.get("result")
    if isinstance(entry, Mapping) and entry.get("rule") in RESULT_RULES and entry["rule"] != "best_reward":
        return dict(entry)
    best = {k: summary.get(f"best_{k}") for k in RESULT_FIELDS if k != "status"}
    return {"rule": "best_reward", "description": RESULT_RULES["best_reward"], **best,
            "status": "ok" if summary.get("best_arch") else None}
