"""The page itself: one HTML document with its style, charts and images inside it (no script, no
network), readable from a phone's width up to a laptop's."""

from __future__ import annotations

import html
import time

from ocrbatch.report import charts
from ocrbatch.report.model import RunRecord, attempt_rows, cost_figures, curves_of, gpu_hours, images_of

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
main{max-width:1100px;margin:0 auto;padding:16px}
header{background:#1d2330;color:#fff;padding:18px 16px}
header h1{margin:0 auto;max-width:1100px;font-size:1.35em;overflow-wrap:anywhere}
header p{margin:4px auto 0;max-width:1100px;color:#c9d1e0;overflow-wrap:anywhere}
section{background:#fff;border-radius:8px;padding:14px 16px;margin:14px 0;box-shadow:0 1px 2px #0001}
h2{font-size:1.15em;margin:0 0 10px}
h3{font-size:1em;margin:14px 0 6px}
.headline{display:flex;flex-wrap:wrap;gap:10px}
.figure{flex:1 1 150px;background:#f0f3f8;border-radius:6px;padding:8px 12px}
.figure b{display:block;font-size:1.6em}
.figure span{color:#555;font-size:.9em}
img{max-width:100%;height:auto}
img.chart{display:block;width:auto;max-width:100%;margin:6px 0}
.scroll img.curves{max-width:none;width:100%;min-width:560px}
.pair{display:flex;flex-wrap:wrap;gap:4px 24px;align-items:flex-start}
.pair>*{min-width:0;max-width:100%}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.92em}
th,td{text-align:left;padding:4px 10px 4px 0;border-bottom:1px solid #e3e6ec;vertical-align:top}
td.n,th.n{text-align:right}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.gallery.wide{grid-template-columns:repeat(auto-fill,minmax(280px,1fr))}
.card{border:1px solid #e3e6ec;border-radius:6px;padding:6px;font-size:.88em;min-width:0}
.card img{display:block;margin:0 auto 4px;image-rendering:auto}
.card div{overflow-wrap:anywhere}
.bad{color:#b00020}.good{color:#1b6e1b}
.note{color:#555;font-size:.9em}
code{background:#eef1f5;padding:0 3px;border-radius:3px;overflow-wrap:anywhere}
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def percent(value) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, (int, float)) else "-"


def duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def when(stamp) -> str:
    if not isinstance(stamp, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def table(head: list[str] | None, rows: list[list], numeric: set[int] = frozenset()) -> str:
    """A table (``head`` None: a list of facts, name then value) that scrolls in its own box when wide."""
    def cell(tag: str, index: int, value) -> str:
        return f"<{tag}{' class=n' if index in numeric else ''}>{esc(value)}</{tag}>"

    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    thead = "<thead><tr>" + "".join(cell("th", i, h) for i, h in enumerate(head)) + "</tr></thead>" if head else ""
    return f"<div class=scroll><table>{thead}<tbody>{body}</tbody></table></div>"


def chart(uri: str, alt: str) -> str:
    return f'<img class=chart src="{uri}" alt="{esc(alt)}">'


def section(title: str, body: str) -> str:
    return f"<section><h2>{esc(title)}</h2>{body}</section>"


# --- sections --------------------------------------------------------------------------------------


def task_of(record: RunRecord) -> str:
    return (record.dataset.get("spec") or {}).get("task") or record.findings.get("task") or "rec"


def headline(record: RunRecord) -> str:
    metrics, findings = record.metrics, record.findings
    figures = []
    if not record.published:
        state = (record.job or {}).get("status") or "not published"
        figures.append(("no model yet", f"the run is {state}; the page shows its history so far"))
    elif metrics.get("hmean") is not None:
        figures += [(percent(metrics.get("hmean")), "hmean (held-out)"),
                    (percent(metrics.get("precision")), "precision"), (percent(metrics.get("recall")), "recall")]
    else:
        samples = metrics.get("eval_samples") or metrics.get("samples") or findings.get("samples")
        figures.append((percent(metrics.get("accuracy")), f"exact match on {samples or '?'} held-out images"))
        if metrics.get("norm_edit_distance") is not None:
            figures.append((percent(metrics["norm_edit_distance"]), "mean normalised edit distance (0 is perfect)"))
    rows = attempt_rows(record)
    if rows:
        hours = gpu_hours(rows)
        figures.append((str(len(rows)), "attempts" + (f", {hours:.2f} GPU-hours" if hours else "")))
    if metrics.get("train_seconds") is not None:
        figures.append((duration(metrics["train_seconds"]), "training time"))
    cells = "".join(f'<div class=figure><b>{esc(big)}</b><span>{esc(small)}</span></div>' for big, small in figures)
    return section("Result", f"<div class=headline>{cells}</div>")


def training(record: RunRecord) -> str:
    ends = {row["attempt"]: row["ended"] for row in attempt_rows(record) if record.job}
    curves = curves_of(record.history, ends)
    if curves is None:
        return section("Training", "<p class=note>This model carries no training history (it was published "
                                   "before runs recorded one).</p>")
    metric = "hmean" if task_of(record) == "det" else "exact match"
    # Wide charts keep a legible size on a phone and scroll sideways in their own box there.
    parts = [f'<div class=scroll><img class="chart curves" src="{uri}" alt="{esc(alt)}"></div>' for uri, alt in (
        (charts.training_curves(curves, over="step", metric=metric), f"loss and held-out {metric} by step"),
        (charts.training_curves(curves, over="time", metric=metric),
         f"loss and held-out {metric} by wall-clock time; grey: between attempts"),
    )]
    notes = []
    if curves.best is not None:
        notes.append(f"Best checkpoint (the model published): step {curves.best['step']}, "
                     f"{percent(curves.best['accuracy'])} {metric} during training.")
    for mark in curves.marks:
        notes.append(mark["label"][0].upper() + mark["label"][1:] + f" at step {mark['step']}.")
    for gap in curves.gaps:
        notes.append(f"Between attempt {gap['attempt']} and the next: {duration(gap['to'] - gap['from'])} "
                     "without training (grey in the wall-clock chart).")
    lost = [i for i in record.metrics.get("interruptions") or [] if isinstance(i, dict)]
    for item in lost:
        notes.append(f"Attempt {item.get('attempt')} lost {duration(item.get('lost_seconds'))} of training.")
    body = "".join(parts) + "".join(f"<p class=note>{esc(n)}</p>" for n in notes)
    return section("Training", body)


def groups(record: RunRecord) -> str:
    found = record.findings.get("groups") or {}
    if not found:
        return ""
    parts = []
    for name, rows in found.items():
        if not rows:
            continue
        parts.append(f"<h3>By {esc(name)}</h3><div class=pair>")
        parts.append(chart(charts.group_bars(rows, title=f"exact match by {name} (samples)"), f"accuracy by {name}"))
        parts.append(table([name, "samples", "exact match", "edit distance"],
                           [[r["group"], r["samples"], percent(r.get("accuracy")), percent(r.get("norm_edit_distance"))]
                            for r in rows], numeric={1, 2, 3}))
        parts.append("</div>")
    return section("Held-out result by group", "".join(parts))


def mistakes(record: RunRecord) -> str:
    findings = record.findings
    if findings.get("task") == "det":
        frames = findings.get("frames") or []
        cards = "".join(
            f'<div class=card><img src="{f["image"]}" alt="{esc(f.get("path"))}">'
            f'<div>{esc(f.get("path"))}: {esc(f.get("labelled"))} labelled (blue), '
            f'{esc(f.get("predicted"))} predicted (orange)</div></div>'
            for f in frames if f.get("image"))
        body = f"<div class='gallery wide'>{cards}</div>" if cards else "<p class=note>No frames were drawn.</p>"
        return section("Held-out frames: labelled and predicted boxes", body)
    if not findings.get("mistakes") and not findings.get("samples"):
        return ""
    cards = []
    for item in findings.get("mistakes") or []:
        image = f'<img src="{item["image"]}" alt="{esc(item.get("path"))}">' if item.get("image") else ""
        cards.append(f"<div class=card>{image}<div>label <b class=good>{esc(item['truth'])}</b></div>"
                     f"<div>read <b class=bad>{esc(item['prediction']) or '(nothing)'}</b></div>"
                     f"<div class=note>score {item.get('score', 0):.2f} · {esc(item.get('path'))}</div></div>")
    total, samples = findings.get("mistakes_total", 0), findings.get("samples", 0)
    body = (f"<p class=note>{total} of {samples} held-out images read wrong; the worst {len(cards)} "
            "(most of the text wrong, then most confident):</p>")
    body += f"<div class=gallery>{''.join(cards)}</div>" if cards else "<p>No mistakes.</p>"
    confusions = findings.get("confusions") or []
    if confusions:
        def shown(char: str) -> str:
            return "(missing)" if char == "" else repr(char)[1:-1] if char.isspace() else char

        body += "<h3>Character confusions behind them</h3>"
        body += table(["label has", "model read", "times"],
                      [[shown(c["truth"]), shown(c["prediction"]), c["count"]] for c in confusions], numeric={2})
    return section("Error gallery", body)


def data(record: RunRecord) -> str:
    summary = record.dataset.get("summary") or {}
    if not summary:
        return ""
    counts = summary.get("counts") or {}
    body = table(None, [[k if k == "boxes" else f"{k} images", v] for k, v in counts.items()], numeric={1})
    body += "<div class=pair>"
    if summary.get("characters"):
        body += "<div><h3>Characters in the labels</h3>"
        body += chart(charts.character_histogram(summary["characters"]), "character histogram") + "</div>"
    if summary.get("label_lengths"):
        body += "<div><h3>Label lengths</h3>"
        body += chart(charts.length_histogram(summary["label_lengths"]), "label lengths") + "</div>"
    body += "</div>"
    cards = "".join(f'<div class=card><img src="{s["image"]}" alt="{esc(s.get("path"))}"><div>{esc(s.get("label"))}</div></div>'
                    for s in summary.get("samples") or [] if s.get("image"))
    if cards:
        wide = " wide" if summary.get("task") == "det" else ""
        body += f"<h3>Sample training images</h3><div class='gallery{wide}'>{cards}</div>"
    return section("Data", body)


def run_facts(record: RunRecord) -> str:
    metrics, dataset, job = record.metrics, record.dataset, record.job or {}
    spec = dataset.get("spec") or {}
    rows = [
        ["engine", spec.get("engine") or record.manifest.get("engine")],
        ["model", record.manifest.get("model_name") or spec.get("model")],
        ["dataset version", dataset.get("dataset") or record.manifest.get("dataset")],
        ["job", f"{job.get('job_id')} ({job.get('job_name')}, {job.get('status')})" if job else None],
        ["queue", job.get("queue")],
        ["training image", ", ".join(images_of(record)) or None],
        ["settings changed from the defaults", ", ".join(f"{k}={v}" for k, v in sorted(_changed(spec).items()))
         or "none"],
        ["epochs", metrics.get("epochs")], ["optimizer steps", metrics.get("global_step")],
        ["training time", duration(metrics.get("train_seconds"))],
        ["images per second", metrics.get("images_per_second")], ["parameters", metrics.get("parameters")],
        ["train / held-out images", f"{metrics.get('train_samples')} / {metrics.get('val_samples')}"
         if metrics.get("train_samples") is not None else None],
    ]
    attempts = attempt_rows(record)
    hours = gpu_hours(attempts)
    rows.append(["GPU-hours", f"{hours:.3f}" if hours is not None else None])
    cost = job.get("cost") or {}
    if cost:
        rows.append(["cost", describe_cost(cost)])
    for key, value in cost_figures(metrics).items():
        rows.append([key.replace("_", " "), value])
    body = table(None, [r for r in rows if r[1] not in (None, "")])
    if attempts:
        # The instance each attempt ran on, where the trainer recorded it (progress.json's hosts).
        instances = any(a["instance"] for a in attempts)
        body += "<h3>Attempts</h3>" + table(
            ["attempt", "started", "duration", "ended", "device"] + (["instance"] if instances else []) + ["reason"],
            [[a["attempt"], when(a["started_at"]), duration(a["seconds"]), a["ended"], a["device"]]
             + ([a["instance"]] if instances else []) + [a["reason"]] for a in attempts], numeric={0})
    files = record.manifest.get("files") or {}
    if files:
        body += "<h3>Files of the model</h3>" + table(
            ["file", "bytes"], [[name, f"{meta.get('size', 0):,}"] for name, meta in sorted(files.items())], numeric={1})
    return section("The run", body)


def describe_cost(cost: dict) -> str:
    """The job's cost as ``ocrbatch.jobs.run_costs`` worked it out (dollars, or why there are none)."""
    if cost.get("note"):
        return str(cost["note"])
    usd = "unknown" if cost.get("cost_usd") is None else f"${cost['cost_usd']:.2f}"
    why = [a.get("priced_by") for a in cost.get("attempts") or [] if a.get("priced_by")]
    return usd + ("" if cost.get("final") else " so far") + (f" ({'; '.join(sorted(set(why)))})" if why else "")


def _changed(spec: dict) -> dict:
    """What the run was told beyond the engine's defaults: its overrides and the set options."""
    chosen = {k: spec[k] for k in ("model", "epochs", "learning_rate", "batch_size") if spec.get(k) is not None}
    if spec.get("from_scratch"):
        chosen["from_scratch"] = True
    return {**chosen, **(spec.get("overrides") or {})}


def render(record: RunRecord) -> str:
    spec = record.dataset.get("spec") or {}
    subtitle = " · ".join(str(x) for x in (spec.get("engine"), spec.get("task"), record.manifest.get("model_name"))
                          if x)
    body = "".join((headline(record), training(record), groups(record), mistakes(record), data(record),
                    run_facts(record)))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{esc(record.title)}: ocrbatch run</title><style>{STYLE}</style></head><body>"
        f"<header><h1>Run {esc(record.title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<main>{body}<p class=note>Built by ocrbatch at {esc(when(time.time()))}.</p></main></body></html>"
    )
