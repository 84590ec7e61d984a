"""The page's charts, drawn by matplotlib as SVG and handed back as data: URIs (one file, no CDN).

matplotlib comes with the trainer's extra (``train``), not with the CLI's base install: importing
this module without it raises :class:`MissingPlotting`, which says how to install it.
"""

from __future__ import annotations

import base64
import io

from ocrbatch.errors import OcrbatchError


class MissingPlotting(OcrbatchError):
    """The report's charts need matplotlib, which the base install leaves out."""

    exit_code = 3


try:
    from matplotlib.figure import Figure
except ImportError:  # pragma: no cover - depends on the install
    raise MissingPlotting(
        "the report's charts need matplotlib, which comes with the train extra: pip install 'ocrbatch[train]'"
    ) from None

ATTEMPT_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
ACCURACY_COLOUR = "#2a7d2a"
DISTANCE_COLOUR = "#b86e00"
STYLE = {"font.size": 10, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none"}


def svg_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float, rows: int = 1, **subplot):
    import matplotlib

    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(width, height), layout="constrained")
        axes = figure.subplots(rows, 1, squeeze=False, **subplot)[:, 0]
    return figure, axes


def moving_mean(values: list[float], window: int) -> list[float]:
    import numpy as np

    return list(np.convolve(np.asarray(values, dtype=float), np.ones(window) / window, mode="valid"))


def colour_of(attempt: int) -> str:
    return ATTEMPT_COLOURS[(attempt - 1) % len(ATTEMPT_COLOURS)]


def training_curves(curves, *, over: str, metric: str = "exact match") -> str:
    """Loss (top) and held-out accuracy and edit distance (bottom) against ``over`` ("step" or "time",
    minutes since the first attempt started), each attempt in its own colour, resumes and
    interruptions marked, the best evaluation starred. ``curves``: a :class:`~ocrbatch.report.model.Curves`;
    ``metric``: what its evaluations' ``accuracy`` is (detection: hmean)."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        figure, (loss_axes, eval_axes) = _figure(9, 5.6, rows=2, sharex=True)
        x_of = (lambda p: p["step"]) if over == "step" else (lambda p: (p["time"] - curves.origin) / 60)
        for attempt in curves.attempt_numbers:
            steps = [p for p in curves.steps if p["attempt"] == attempt]
            if steps:  # a short run's few points get markers, or a single one would not show
                xs, losses = [x_of(p) for p in steps], [p["loss"] for p in steps]
                smooth = len(steps) >= 50  # per-step loss is noisy: the raw points faint, their moving mean on top
                loss_axes.plot(xs, losses, color=colour_of(attempt), linewidth=0.8 if smooth else 1.2,
                               alpha=0.3 if smooth else 1.0, marker="o" if len(steps) < 20 else None, markersize=3,
                               label=None if smooth else f"attempt {attempt}")
                if smooth:
                    window = max(5, len(steps) // 40)
                    loss_axes.plot(xs[window - 1:], moving_mean(losses, window), color=colour_of(attempt),
                                   linewidth=1.6, label=f"attempt {attempt} (mean of {window} points)")
            evals = [p for p in curves.evals if p["attempt"] == attempt]
            accuracy = [p for p in evals if "accuracy" in p]
            if accuracy:
                eval_axes.plot([x_of(p) for p in accuracy], [100 * p["accuracy"] for p in accuracy], marker="o",
                               markersize=3, color=ACCURACY_COLOUR, linewidth=1.2,
                               label=f"{metric} %" if attempt == curves.attempt_numbers[0] else None)
            distance = [p for p in evals if "norm_edit_distance" in p]
            if distance:
                eval_axes.plot([x_of(p) for p in distance], [100 * p["norm_edit_distance"] for p in distance],
                               linestyle="--", color=DISTANCE_COLOUR, linewidth=1,
                               label="edit distance %" if attempt == curves.attempt_numbers[0] else None)
        if curves.best is not None:
            eval_axes.plot([x_of(curves.best)], [100 * curves.best["accuracy"]], marker="*", markersize=14,
                           color="#f2b800", markeredgecolor="black", linestyle="none", label="best checkpoint")
        for mark in curves.marks:
            x = x_of(mark)
            for axes in (loss_axes, eval_axes):
                axes.axvline(x, color=colour_of(mark["attempt"]), linestyle=":", linewidth=1.2)
            loss_axes.annotate(mark["label"], (x, 1), xycoords=("data", "axes fraction"), rotation=90,
                               va="top", ha="right", fontsize=8, color=colour_of(mark["attempt"]))
        if over == "time":
            for gap in curves.gaps:
                for axes in (loss_axes, eval_axes):
                    axes.axvspan((gap["from"] - curves.origin) / 60, (gap["to"] - curves.origin) / 60,
                                 color="#999999", alpha=0.25, linewidth=0)
        if curves.steps and min(p["loss"] for p in curves.steps) > 0:
            from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

            loss_axes.set_yscale("log")
            loss_axes.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            loss_axes.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
            loss_axes.yaxis.set_minor_formatter(NullFormatter())
        loss_axes.set_ylabel("training loss")
        eval_axes.set_ylabel("held-out %")
        eval_axes.set_ylim(0, 100)
        eval_axes.set_xlabel("optimizer step" if over == "step" else "minutes since the run started (wall clock)")
        for axes in (loss_axes, eval_axes):
            axes.grid(alpha=0.3)
            if axes.get_legend_handles_labels()[0]:
                axes.legend(loc="best", fontsize=8, frameon=False)
        return svg_uri(figure)


def group_bars(rows: list[dict], *, title: str) -> str:
    """Exact match by group, one horizontal bar per group with its sample count."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        figure, (axes,) = _figure(5.5, 0.9 + 0.3 * len(rows))
        names = [f"{r['group']} ({r['samples']})" for r in rows][::-1]
        values = [100 * r.get("accuracy", 0.0) for r in rows][::-1]
        bars = axes.barh(names, values, color=ACCURACY_COLOUR)
        axes.bar_label(bars, labels=[f"{v:.1f}%" for v in values], padding=3, fontsize=8)
        axes.set_xlim(0, 110)
        axes.set_xlabel("exact match %")
        axes.set_title(title, loc="left", fontsize=10)
        return svg_uri(figure)


def character_histogram(counts: dict[str, int], *, most: int = 60) -> str:
    """How often each character occurs in the labels (the most frequent ``most``)."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
        figure, (axes,) = _figure(min(7, 1.5 + 0.16 * len(items)), 2.4)
        shown = [repr(c)[1:-1] if c.isspace() or not c.isprintable() else c for c, _ in items]
        axes.bar(range(len(items)), [n for _, n in items], color="#4a6fa5")
        axes.set_xticks(range(len(items)), shown, fontsize=9)
        axes.set_ylabel("occurrences")
        axes.set_xlim(-0.7, len(items) - 0.3)
        return svg_uri(figure)


def length_histogram(lengths: dict[str, int]) -> str:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        items = sorted((int(k), v) for k, v in lengths.items())
        figure, (axes,) = _figure(min(5, 1.8 + 0.18 * len(items)), 2.4)
        axes.bar([k for k, _ in items], [v for _, v in items], color="#7a8f3a")
        from matplotlib.ticker import MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("label length (characters)")
        axes.set_ylabel("labels")
        return svg_uri(figure)
