"""Rich renderings of library results for the terminal. Only the CLI calls these."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.{digits}f}"


def interval_text(iv) -> str:
    if iv is None or math.isnan(iv.low):
        return "-"
    return f"[{100 * iv.low:.1f}, {100 * iv.high:.1f}]"


def score_tables(report, shown_ci: str, per_muscle: bool = True) -> list:
    from amge_eval.harness.muscles import MUSCLES, REGIONS
    from amge_eval.harness.vocab import SHORT

    out = []
    t = Table(title=f"{report.card.title} ({report.dataset}) - masked mAP, %",
              title_justify="left")
    t.add_column("split")
    t.add_column("samples", justify="right")
    t.add_column("clusters", justify="right")
    t.add_column("muscles scored", justify="right")
    t.add_column("mAP", justify="right", style="bold")
    for ci in report.ci_kinds:
        t.add_column(f"{int(report.level * 100)}% CI ({ci})", justify="right")
    for key, summ in report.summary.items():
        split = next((s for s, short in SHORT.items() if short == key), None)
        if split:
            s = report.splits[split]
            t.add_row(key, str(s.n_samples), f"{s.n_clusters} {s.cluster_kind}",
                      f"{int(s.scored.sum())}/20", pct(s.map),
                      *[interval_text(s.intervals.get(ci)) for ci in report.ci_kinds])
        else:
            t.add_row(key, "", "", "", pct(summ.value),
                      *[interval_text(summ.intervals.get(ci)) for ci in report.ci_kinds],
                      style="italic")
    t.caption = "_a = mean of seen and unseen; _gap = seen - unseen; clusters = resampling units"
    out.append(t)
    if per_muscle:
        m = Table(title="Per-muscle AP, %", title_justify="left",
                  caption="'-' = not scored (no positive in the split); positives per split "
                          "in the last column")
        m.add_column("#", justify="right")
        m.add_column("muscle")
        m.add_column("region")
        splits = list(report.splits.values())
        for s in splits:
            m.add_column(SHORT[s.split], justify="right")
        m.add_column("positives", justify="right")
        for mu in MUSCLES:
            m.add_row(str(mu.index), mu.id, mu.region, *[pct(s.ap[mu.index]) for s in splits],
                      "/".join(str(int(s.n_pos[mu.index])) for s in splits))
        m.add_section()
        for region in REGIONS:
            m.add_row("", f"mean {region}", "", *[pct(s.regions[region]) for s in splits], "",
                      style="italic")
        out.append(m)
    unseen = [s for s in report.splits.values() if s.split.endswith("unseen") and s.per_activity]
    if unseen:
        a = Table(title="Unseen activities, worst first: activity AP, % (per scored muscle, "
                        "the AP on the activity's clips and the clips of the opposite label: "
                        "its misses and false alarms)", title_justify="left")
        for col in ("split", "activity", "clips", "AP"):
            a.add_column(col, justify="right" if col in ("clips", "AP") else "left")
        for s in unseen:
            for name, (ap, n) in s.per_activity.items():
                a.add_row(SHORT[s.split], name, str(n), pct(ap))
            a.add_section()
        out.append(a)
    return out


def compare_table(cmp) -> Table:
    t = Table(title=f"Paired bootstrap: A - B on {cmp.dataset} (mAP %, {cmp.ci_kind} resampling)",
              title_justify="left")
    for col in ("", "A", "B", "A - B", "95% CI of A - B", "p"):
        t.add_column(col, justify="right" if col else "left")
    for r in cmp.rows:
        t.add_row(r.key, pct(r.a), pct(r.b), f"{100 * r.diff:+.1f}", interval_text(r.interval),
                  f"{r.p_value:.4f}")
    return t


def console(stderr: bool = False, quiet: bool = False) -> Console:
    import sys

    stream = sys.stderr if stderr else sys.stdout
    # Logs and pipes get a fixed, wide layout instead of rich's 80-column default.
    width = None if stream.isatty() else 120
    return Console(stderr=stderr, quiet=quiet, highlight=False, soft_wrap=False, width=width)
