"""Charts drawn on the server as inline SVG: no JavaScript library, no CDN.

Each chart carries <title> and <desc> for screen readers, a text label and value on every bar
(or a <title> tooltip where bars are too many to label), and a link from each bar to the tickets
behind it. All text is escaped here; the result is returned as Markup for templates.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown (e.g. "92%")
    href: str | None = None


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # class of the bars, coloured by the stylesheet
    bars: Sequence[Bar]


def _attr(value: object) -> str:
    return str(escape(str(value)))


def _head(width: int, height: int, title: str, desc: str, css: str) -> tuple[list[str], str]:
    uid = f"chart{next(_ids)}"
    parts = [
        f'<svg class="chart {css}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{uid}-t {uid}-d">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    return parts, uid


def _link(bar: Bar, inner: str) -> str:
    if not bar.href:
        return inner
    return f'<a href="{_attr(bar.href)}">{inner}</a>'


def hbar_chart(title: str, desc: str, bars: Sequence[Bar], max_value: float,
               css: str = "hbar") -> Markup:  # fmt: skip
    """Horizontal bars, one row per label, the value written at the end of the bar."""
    label_w, bar_w, row_h = 260, 380, 26
    width, height = label_w + bar_w + 70, max(1, len(bars)) * row_h + 10
    parts, _uid = _head(width, height, title, desc, css)
    scale = bar_w / max_value if max_value > 0 else 0
    for i, bar in enumerate(bars):
        y = 5 + i * row_h
        length = max(0.0, bar.value * scale)
        inner = (
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{length:.1f}" '
            f'height="{row_h - 8}" data-label="{_attr(bar.label)}" data-value="{bar.value:g}">'
            f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>"
        )
        parts.append(
            f'<g class="row"><text class="label" x="{label_w - 8}" y="{y + row_h / 2 + 4}" '
            f'text-anchor="end">{escape(_shorten(bar.label, 38))}</text>'
            f"{_link(bar, inner)}"
            f'<text class="value" x="{label_w + length + 6:.1f}" y="{y + row_h / 2 + 4}">'
            f"{escape(bar.text)}</text></g>"
        )
    if not bars:
        parts.append(f'<text class="empty" x="10" y="20">{escape(desc)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(title: str, desc: str, series: Sequence[Series], labels: Sequence[str],
                 css: str = "columns") -> Markup:  # fmt: skip
    """Vertical bars grouped per label (e.g. received and resolved per week) with a legend."""
    groups = max(1, len(labels))
    per_group = max(1, len(series))
    plot_h, left, top, bottom = 200, 40, 30, 46
    # A steady drawing width keeps text the same size whatever the number of groups.
    group_w = max(12.0, 720 / groups)
    width = round(left + groups * group_w + 10)
    height = top + plot_h + bottom
    parts, _uid = _head(width, height, title, desc, css)
    peak = max((b.value for s in series for b in s.bars), default=0) or 1
    # Legend: the series names as text, so colour is never the only cue.
    x = left
    for s in series:
        parts.append(
            f'<rect class="swatch {_attr(s.css)}" x="{x}" y="6" width="12" height="12"/>'
            f'<text class="legend" x="{x + 16}" y="16">{escape(s.name)}</text>'
        )
        x += 24 + 8 * len(s.name)
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 5}" '
        f'y2="{top + plot_h}"/>'
        f'<text class="tick" x="{left - 4}" y="{top + 8}" text-anchor="end">{peak:g}</text>'
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>'
    )
    bar_w = max(2.0, min(48.0, (group_w - 4) / per_group))
    # Axis labels need about 44 px each; skip some when the groups are narrower.
    label_every = max(1, math.ceil(44 / group_w))
    show_values = groups * per_group <= 24
    for g, label in enumerate(labels):
        gx = left + g * group_w + (group_w - bar_w * per_group) / 2
        for si, s in enumerate(series):
            bar = s.bars[g]
            h = plot_h * bar.value / peak
            bx, by = gx + si * bar_w, top + plot_h - h
            inner = (
                f'<rect class="bar {_attr(s.css)}" x="{bx:.1f}" y="{by:.1f}" '
                f'width="{bar_w - 1:.1f}" height="{h:.1f}" data-series="{_attr(s.name)}" '
                f'data-label="{_attr(label)}" data-value="{bar.value:g}">'
                f"<title>{escape(s.name)}, {escape(label)}: {escape(bar.text)}</title></rect>"
            )
            parts.append(_link(bar, inner))
            if show_values:
                parts.append(
                    f'<text class="value" x="{bx + bar_w / 2:.1f}" y="{by - 3:.1f}" '
                    f'text-anchor="middle">{escape(bar.text)}</text>'
                )
        if g % label_every == 0:
            parts.append(
                f'<text class="tick" x="{gx + bar_w * per_group / 2:.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
