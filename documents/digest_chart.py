"""The digest chart: open cases per day over the last weeks, as a PNG for a phone.

``casework.digest`` decides what the chart shows and calls the renderer installed with
:func:`casework.digest.set_chart_renderer`; this module is that renderer, so matplotlib
stays out of the domain. :func:`install` is called when the bot starts.

Drawing: matplotlib's object-oriented API on the Agg canvas (no pyplot, no display, no
global figure state, safe in the scheduler's thread), 800×450 px: a line for the open
cases, the area under it shaded for the children still out of school, weekly date ticks
(MM-DD), whole-number counts, the last value written at the end of the line.

Fonts: a fresh server has no Chinese font (DejaVu covers Latin only), and a missing
glyph draws as an empty box. So the chart carries no words unless it can show them: the
title is drawn only if it has no CJK characters or a CJK font is installed (found at run
time through matplotlib's font list and, where available, fontconfig). Everything else
on it is digits and dates, and the digest's caption says what the chart is.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
from functools import lru_cache
from typing import TYPE_CHECKING

from casework import digest

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

WIDTH_PX, HEIGHT_PX, DPI = 800, 450, 100
LINE = "#1f5fa8"
SHADE = "#e8833a"

CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
# families known to cover simplified Chinese, preferred in this order
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "AR PL UMing CN",
    "AR PL UKai CN",
)


def _fontconfig_zh_families() -> set[str]:
    """Families fontconfig says cover Chinese (``fc-list :lang=zh``); empty without it."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return set()
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {name.strip() for line in out.splitlines() for name in line.split(",") if name.strip()}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font family matplotlib can use for Chinese, or None (looked up once per process)."""
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in available:
            return family
    fontconfig = _fontconfig_zh_families() & available
    if fontconfig:
        return sorted(fontconfig)[0]
    log.info("no CJK font found: digest charts are drawn without Chinese text")
    return None


def _drawable(text: str) -> tuple[bool, str | None]:
    """Whether ``text`` can be drawn, and the font family it needs (None: the default)."""
    if not CJK.search(text):
        return True, None
    family = cjk_font()
    return family is not None, family


def build_figure(chart: digest.Chart) -> Figure:
    """The chart as a matplotlib Figure (tests inspect its texts; :func:`render` saves it)."""
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    days = [p.day for p in chart.points]
    open_ = [p.open for p in chart.points]
    out = [p.out_of_school for p in chart.points]

    # matplotlib plots dates through its units registry, which its stubs leave out (ArrayLike)
    ax.fill_between(days, out, step="mid", color=SHADE, alpha=0.35, linewidth=0)  # type: ignore[arg-type]
    ax.step(days, open_, where="mid", color=LINE, linewidth=2.5)  # type: ignore[arg-type]
    ax.set_ylim(0, max([*open_, 1]) * 1.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    # matplotlib.dates' classes have no annotations in its stubs
    ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))  # type: ignore[no-untyped-call]
    ax.tick_params(labelsize=13)
    ax.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if days:
        ax.set_xlim(days[0], days[-1])  # type: ignore[arg-type]  # dates, as above
        ax.annotate(
            str(open_[-1]),
            (days[-1], open_[-1]),
            xytext=(-4, 6),
            textcoords="offset points",
            ha="right",
            fontsize=16,
            fontweight="bold",
            color=LINE,
        )

    title = chart.title.render(chart.lang)
    ok, family = _drawable(title)
    if ok:
        ax.set_title(title, fontsize=16, loc="left", family=family or "sans-serif")
    return fig


def render(chart: digest.Chart) -> bytes:
    """The chart as PNG bytes, ``WIDTH_PX`` × ``HEIGHT_PX``."""
    fig = build_figure(chart)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def install() -> None:
    """Make digests carry this chart (the bot calls it at start-up)."""
    digest.set_chart_renderer(render)
