"""Charts drawn as SVG on the server: no JavaScript, no CDN, readable on a phone and in a printout.

Every label goes through markupsafe.escape; the SVG scales to its box (viewBox, width 100%).
"""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#2f6fdf", "#14a37f", "#e69a17", "#c2410c", "#7c3aed")
FONT = 'font-family="inherit"'


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    label = escape(title)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet"><title>{label}</title>'
        + "".join(body) + "</svg>"
    )


def _empty(width: int, title: str) -> Markup:
    return _svg(width, 60, title, [f'<text x="{width / 2}" y="36" text-anchor="middle" fill="#888" font-size="15" '
                                   f'{FONT}>暂无数据</text>'])


def bar_chart(items: list[tuple[str, int]], *, title: str, width: int = 480, color: str = PALETTE[0]) -> Markup:
    """Horizontal bars with the label on the left and the count at the end: good for categories."""
    if not items or not any(v for _, v in items):
        return _empty(width, title)
    row, label_w, top = 30, 110, 6
    height = top * 2 + row * len(items)
    biggest = max(v for _, v in items) or 1
    span = width - label_w - 50
    body = []
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = max(2.0, span * value / biggest) if value else 0
        body.append(f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" font-size="14" fill="#333" {FONT}>'
                    f'{escape(name)}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" rx="3" fill="{color}">'
                    f'<title>{escape(name)}：{value}</title></rect>')
        body.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 19}" font-size="13" fill="#333" {FONT}>{value}</text>')
    return _svg(width, height, title, body)


def column_chart(items: list[tuple[str, int]], *, title: str, width: int = 480, height: int = 220,
                 color: str = PALETTE[1]) -> Markup:
    """Vertical columns over time (e.g. tickets per week), labels under each column."""
    if not items:
        return _empty(width, title)
    left, bottom, top = 34, 38, 14
    plot_h = height - bottom - top
    biggest = max(max(v for _, v in items), 1)
    step = (width - left - 6) / len(items)
    bar_w = max(4.0, step * 0.62)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}" stroke="#bbb"/>']
    for tick in sorted({0, biggest // 2, biggest}):
        y = top + plot_h - plot_h * tick / biggest
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#777" {FONT}>'
                    f'{tick}</text>')
        if tick:
            body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 4}" y2="{y:.1f}" stroke="#eee"/>')
    for i, (name, value) in enumerate(items):
        x = left + i * step + (step - bar_w) / 2
        h = plot_h * value / biggest
        y = top + plot_h - h
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" rx="2" fill="{color}">'
                    f'<title>{escape(name)}：{value}</title></rect>')
        if value:
            body.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="11" '
                        f'fill="#333" {FONT}>{value}</text>')
        if len(items) <= 8 or i % 2 == len(items) % 2 or i == len(items) - 1:
            body.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                        f'font-size="11" fill="#555" {FONT}>{escape(name)}</text>')
    return _svg(width, height, title, body)


def rates_chart(series: list[tuple[str, list[tuple[str, float | None, str]]]], *, title: str,
                width: int = 480) -> Markup:
    """Grouped percentage bars: for each rate (响应率 …) one bar per period (本周, 本月).

    series = [(period label, [(rate name, value 0..1 or None, detail), ...]), ...]
    """
    if not series:
        return _empty(width, title)
    names = [name for name, _, _ in series[0][1]]
    periods = len(series)
    bar_h, gap, label_w, top = 18, 14, 70, 30
    group_h = periods * (bar_h + 4) + gap
    height = top + group_h * len(names) + 4
    span = width - label_w - 120
    body = []
    for p, (period, _) in enumerate(series):  # legend
        x = label_w + p * 90
        body.append(f'<rect x="{x}" y="6" width="12" height="12" rx="2" fill="{PALETTE[p % len(PALETTE)]}"/>'
                    f'<text x="{x + 17}" y="17" font-size="13" fill="#333" {FONT}>{escape(period)}</text>')
    for r, name in enumerate(names):
        y0 = top + r * group_h
        body.append(f'<text x="{label_w - 8}" y="{y0 + periods * (bar_h + 4) / 2 + 4:.1f}" text-anchor="end" '
                    f'font-size="14" fill="#333" {FONT}>{escape(name)}</text>')
        body.append(f'<rect x="{label_w}" y="{y0}" width="{span}" height="{periods * (bar_h + 4) - 4}" '
                    f'fill="#f3f4f6" rx="2"/>')
        for p, (period, rates) in enumerate(series):
            _, value, detail = rates[r]
            y = y0 + p * (bar_h + 4)
            color = PALETTE[p % len(PALETTE)]
            shown = "无数据" if value is None else f"{value * 100:.1f}%"
            w = 0 if value is None else max(1.5, span * min(value, 1))
            body.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="2" fill="{color}">'
                        f'<title>{escape(period)} {escape(name)}：{shown}（{escape(detail)}）</title></rect>')
            body.append(f'<text x="{label_w + span + 6}" y="{y + 14}" font-size="13" fill="#333" {FONT}>'
                        f'{shown} <tspan fill="#888" font-size="11">{escape(detail)}</tspan></text>')
    return _svg(width, height, title, body)
