"""StepThroughWidget: one button press = one stage of a search step, shown as it happens.

The stages are those of :meth:`nasrl_nb.run.loop.Search.stages`: sample -> build -> train ->
reward -> update. Each press runs the next stage (in a background thread, so the kernel
stays free) and shows what it produced: the decisions with their probabilities, the
child's summary, its training curve, the reward and the baseline, then the advantages the
update's loss used (read from the update's stats, never recomputed here), what the
method's update did (PPO's KL and clip fraction, A2C's per-decision advantages, TRPO's
line search under its KL bound, SAC's replay buffer, critic and temperature, a bandit's
credited options, evolution's population) and how the probabilities moved. For a
shared-weight search (ENAS, random_ws) the train stage is the evaluator's two phases: the
supernet trained on minibatches, one sampled subgraph each, then every proposed
architecture scored with the shared weights (its reward).
"""

from __future__ import annotations

import html
import threading

import ipywidgets as W

from .common import image, report_errors, start_thread

STAGES = ("sample", "build", "train", "reward", "update")


class StepThroughWidget:
    """Walk through the stages of ``search``'s steps one press at a time."""

    def __init__(self, search):
        self.search = search
        self._stages = None
        self._thread: threading.Thread | None = None
        self.history: list = []  # every Stage shown so far
        self.output = W.Output()
        self.button = W.Button(description="Next stage", icon="step-forward")
        self.button.on_click(report_errors(self.output)(lambda _b: self.advance()))
        self.trail = W.HTML()
        self.text = W.HTML()
        self.picture = image()
        self.widget = W.VBox([W.HBox([self.button, self.trail]), self.text, self.picture, self.output])
        self._show_trail(None)

    def advance(self, *, block: bool = False) -> None:
        """Run the next stage in a background thread (``block=True`` waits for it)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.button.disabled = True
        self._thread = start_thread(self._next, "nasrl-stage")
        if block:
            self._thread.join()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _next(self) -> None:
        try:
            if self._stages is None:
                if self.search.done:
                    self.text.value = "<b>The search is done: its budget is spent.</b>"
                    return
                self._stages = self.search.stages()
            stage = next(self._stages, None)
            if stage is None:
                self._stages = None
                return self._next()
            self.history.append(stage)
            self._show(stage)
            if stage.name == "update":
                self._stages = None
        except Exception:
            import traceback

            self._stages = None
            self.output.append_stderr(traceback.format_exc())
        finally:
            self.button.disabled = False

    # --- what each stage shows ---------------------------------------------------------------------
    def _show(self, stage) -> None:
        self._show_trail(stage.name)
        show = getattr(self, f"_show_{stage.name}")
        self.text.value, png = show(stage.data)
        self.picture.layout.display = None if png else "none"  # an empty Image is a broken-image icon
        self.picture.value = png or self.picture.value

    def _show_trail(self, current: str | None) -> None:
        parts = [f"<b style='color:#0072b2'>{s}</b>" if s == current else s for s in STAGES]
        self.trail.value = " → ".join(parts)

    def _show_sample(self, data):
        from ..viz.drawing import draw_architecture, figure_to_png

        rows = []
        for arch, decisions in zip(data["architectures"], data.get("probabilities") or [None] * len(data["architectures"])):
            if decisions is None:
                rows.append(f"<li><code>{html.escape(str(arch))}</code></li>")
                continue
            chosen = ", ".join(f"{html.escape(d['decision'])}={html.escape(str(d['choice']))} ({d['prob']:.2f})" for d in decisions)
            rows.append(f"<li><code>{html.escape(str(arch))}</code><br><small>{chosen}</small></li>")
        png = figure_to_png(draw_architecture(data["architectures"][0]), dpi=80)
        return f"<h4>1. sample</h4><p>The controller proposed {len(rows)} architecture(s):</p><ol>{''.join(rows)}</ol>", png

    def _show_build(self, data):
        rows = "".join(
            f"<li><code>{html.escape(n['arch'])}</code>: {n['params']:,} parameters"
            + (f", {n['flops']:,} FLOPs" if "flops" in n else "")  # a shared-weight subgraph is not built apart
            + f"<pre style='font-size:10px;max-height:140px;overflow:auto'>{html.escape(n['summary'])}</pre></li>"
            for n in data["networks"]
        )
        return f"<h4>2. build</h4><ol>{rows}</ol>", None

    def _show_train(self, data):
        from ..viz.drawing import figure_to_png
        from ..viz.views import plot_training_curve

        if any(r.get("shared_weights") for r in data["results"]):
            return self._show_shared_train(data)

        rows = "".join(
            f"<li>{html.escape(r['status'])}: val acc {r['val_accuracy']:.3f}, {r['seconds']:.1f} s"
            + (f" — {html.escape(str(r['reason']))}" if r.get("reason") else "") + "</li>"
            for r in data["results"]
        )
        first = next((r for r in data["results"] if r.get("train_losses")), None)
        png = None if first is None else figure_to_png(plot_training_curve(first["train_losses"]), dpi=80)
        return f"<h4>3. train</h4><ol>{rows}</ol>", png

    def _show_shared_train(self, data):
        """ENAS's phase 1 (train the shared weights) and phase 2 (score with them), from the records."""
        from ..viz.drawing import figure_to_png
        from ..viz.enas_plots import draw_supernet

        first = next(r for r in data["results"] if r.get("shared_weights"))
        per_phase = getattr(self.search.evaluator, "steps_per_phase", None)
        done = "" if per_phase is None else f"{per_phase} minibatch(es) this step, "
        rows = "".join(
            f"<li><code>{html.escape(str(a))}</code>: {html.escape(r['status'])}, shared-weight val acc "
            f"{r['val_accuracy']:.3f}</li>" for a, r in zip(data["architectures"], data["results"], strict=True)
        )
        text = (f"<h4>3. train shared weights, then score</h4>"
                f"<p>a. The supernet trained on {done}{first['supernet_steps']} in all; each minibatch ran the "
                f"subgraph of one freshly sampled architecture and updated only its weights: mean training loss "
                f"{first['supernet_loss']:.3f}, accuracy {first['supernet_accuracy']:.3f}.</p>"
                f"<p>b. Each proposed architecture was scored with the shared weights on a validation minibatch "
                f"(no training of its own):</p><ol>{rows}</ol>")
        return text, figure_to_png(draw_supernet(data["architectures"][0]), dpi=80)

    def _show_reward(self, data):
        baseline = data.get("baseline")
        rows = "".join(f"<li>reward {r:.3f}</li>" for r in data["rewards"])
        rl = self.search.method in ("reinforce", "ppo", "a2c", "trpo", "enas")  # the updates that subtract a baseline
        window = getattr(getattr(self.search.strategy, "trainer", None), "rank_window", None)
        if window is not None:
            line = (f"<p>No baseline is subtracted: each reward's advantage is its rank among the last {window} "
                    "rewards (this batch's included), centred, so a reward above their median pushes its choices "
                    "up and one below pushes them down, whatever the gap.</p>")
        elif baseline is not None:
            source = ("the critic's value of the start state V(h_0) (each later decision has its own V(h_t))"
                      if self.search.method == "a2c" else "the moving average of the earlier batches' rewards")
            line = f"<p>baseline b = {baseline:.3f}: {source}, which the update subtracts from each reward.</p>"
        elif rl and self.search.num_steps == 0:
            line = "<p>First update: there is no moving average yet, so the baseline is this batch's mean reward.</p>"
        else:
            line = ""
        after = "<p>The advantages the update's loss uses are shown with the update.</p>" if rl else ""
        return f"<h4>4. reward</h4>{line}<ol>{rows}</ol>{after}", None

    def _show_update(self, data):
        from ..viz.drawing import figure_to_png
        from ..viz.views import plot_policy_heatmap

        step = data["step"]
        moved = ""
        if data.get("before") and data.get("after"):
            rows = "".join(
                f"<tr><td>{html.escape(b['decision'])}</td><td>{html.escape(str(b['choice']))}</td>"
                f"<td>{b['prob']:.3f}</td><td>{a['prob']:.3f}</td><td>{a['prob'] - b['prob']:+.3f}</td></tr>"
                for b, a in zip(data["before"][0], data["after"][0])
            )
            moved = ("<p>Probabilities of the first architecture's choices:</p><table><tr><th>decision</th>"
                     f"<th>choice</th><th>before</th><th>after</th><th>change</th></tr>{rows}</table>"
                     f"{_step_size(self.search)}")
        png = None if step.policy is None else figure_to_png(plot_policy_heatmap(step.policy), dpi=80)
        stats = ", ".join(f"{k}={v:.4g}" for k, v in step.stats.items() if isinstance(v, float))
        return (f"<h4>5. update</h4><p>step {step.step} committed: {html.escape(stats)}</p>"
                f"{_update_details(self.search.method, step)}{moved}"), png

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _update_details(method: str, step) -> str:
    """What the update of ``method`` did, from its stats (never recomputed here)."""
    stats = step.stats
    parts = [_used(step)]
    if method == "a2c" and stats.get("decision_advantages"):
        parts.append(_decision_advantages(stats["decision_advantages"], stats.get("value_loss")))
    if method == "trpo" and stats.get("max_kl") is not None:
        accepted = stats.get("step_fraction") or 0.0
        parts.append(
            "<p>TRPO: natural-gradient step by conjugate gradient; the line search "
            + (f"accepted {accepted:.3g} of the full step: KL(pi_old || pi) = {stats.get('kl') or 0.0:.4f} "
               f"&le; max KL {stats['max_kl']:.4g}, surrogate improvement {stats.get('improvement') or 0.0:+.4g}"
               if accepted > 0 else f"rejected every fraction of the step (the KL bound {stats['max_kl']:.4g} or no "
                                    "improvement): the policy did not move")
            + "</p>")
    if method == "sac":
        parts.append(
            f"<p>SAC: the batch joined the replay buffer ({stats.get('buffer_size')} architectures); the critic "
            f"(a reward model, loss {_num(stats, 'critic_loss'):.4g}, mean Q {_num(stats, 'q_mean'):.3f}) "
            f"was fitted on the whole buffer; the controller took {stats.get('epochs')} step(s) towards "
            f"softmax(Q / alpha) on samples the critic scored (no new evaluations); alpha = "
            f"{_num(stats, 'alpha'):.4g}, tuned towards the target entropy {_num(stats, 'target_entropy'):.3f}.</p>")
    if method in ("ucb", "thompson"):
        rule = ("mean + exploration bonus (UCB1)" if method == "ucb"
                else "a draw from each option's posterior (Thompson sampling)")
        parts.append(f"<p>Bandit: each option the batch chose was credited with its reward ({stats.get('observed')} "
                     f"rewards seen, mean {_num(stats, 'mean_reward'):.3f}, spread sigma "
                     f"{_num(stats, 'sigma'):.3f}); the next batch takes per decision the best {rule}.</p>")
    if method == "evolution" and stats.get("population") is not None:
        parts.append(f"<p>Evolution: the children joined the population ({stats['population']} members, best "
                     f"{_num(stats, 'population_best'):.3f}, mean {_num(stats, 'population_mean'):.3f}); "
                     "once it is full, the oldest member leaves for each new child (regularized evolution).</p>")
    if method == "random":
        parts.append("<p>Random search learns nothing: the next batch is drawn uniformly again.</p>")
    return "".join(parts)


def _step_size(search) -> str:
    """One sentence on what sets the size of a policy-gradient step, with this search's values."""
    trainer = getattr(search.strategy, "trainer", None)
    optimizer = getattr(trainer, "optimizer_name", None)
    if optimizer is None:
        return ""
    if optimizer == "sgd" and getattr(trainer, "rank_window", None) is not None:
        return (f"<p>What sets the step: plain SGD at learning rate {trainer.lr:g} moves each weight by lr × its "
                "gradient, and the gradient is proportional to each architecture's advantage, its centred rank "
                f"among the last {trainer.rank_window} rewards: the best of them moves its choices' probabilities "
                "the most, a reward at their median not at all.</p>")
    if optimizer == "sgd":
        return (f"<p>What sets the step: plain SGD at learning rate {trainer.lr:g} moves each weight by lr × its "
                "gradient, and the gradient is proportional to each architecture's advantage: a child far above "
                "the baseline moves its choices' probabilities a lot, one near it hardly at all.</p>")
    return (f"<p>What sets the step: Adam at learning rate {trainer.lr:g} moves each weight by about lr whatever "
            "the size of the advantages (it divides the gradient by its running magnitude).</p>")


def _num(stats, key: str) -> float:
    """``stats[key]`` as a float (NaN when missing), for formatting."""
    value = stats.get(key)
    return float("nan") if value is None else float(value)


def _decision_advantages(rows, value_loss) -> str:
    """A2C's advantage of every decision of every architecture: reward minus the critic's V(h_t)."""
    head = "".join(f"<th>t={t}</th>" for t in range(len(rows[0])))
    body = "".join(f"<tr><td>{k + 1}</td>" + "".join(f"<td>{a:+.3f}</td>" for a in row) + "</tr>" for k, row in enumerate(rows))
    loss = "" if value_loss is None else f" The critic's value loss was {value_loss:.4g}."
    return (f"<p>A2C: each decision t has its own advantage A_t from the critic's values V(h_t) (generalised "
            f"advantage estimation; with lambda = 1, A_t = R - V(h_t)), as the loss used them.{loss}</p>"
            f"<table><tr><th>#</th>{head}</tr>{body}</table>")


def _used(step) -> str:
    """The baseline and advantages the update's loss used (and PPO's KL), from its stats."""
    if step.advantages is None:
        return ""
    rows = "".join(
        f"<tr><td>{k + 1}</td><td>{r:.3f}</td><td>{a:+.3f}</td></tr>"
        for k, (r, a) in enumerate(zip(step.rewards, step.advantages, strict=True))
    )
    baseline = "" if step.baseline is None else f"baseline b = {step.baseline:.4g}; "
    kl = step.stats.get("kl") if step.stats.get("clip_fraction") is not None else None  # PPO's (TRPO's: above)
    ppo = "" if kl is None else (
        f"<p>PPO: KL(pi_old || pi) = {kl:.4f} after {step.stats.get('epochs')} epoch(s)"
        + (" (stopped early at the KL bound)" if step.stats.get("kl_stopped") else "")
        + f", clip fraction {step.stats.get('clip_fraction', 0.0):.2f}</p>")
    return (f"<p>{baseline}the loss used these advantages:</p>"
            f"<table><tr><th>#</th><th>reward</th><th>advantage</th></tr>{rows}</table>{ppo}")
