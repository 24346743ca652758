"""Weekly bar charts drawn on the server as SVG: the page needs no JavaScript, the numbers
stay in a table beside them. Series compared in one chart share one scale."""

from dataclasses import dataclass, field
from datetime import date

# The drawing's own units; the SVG scales to its box.
WIDTH, HEIGHT = 440, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 18, 30


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    series: int  # 0 or 1: which series of the chart (its colour)
    title: str  # read on hover: "Sign-ups, week of 12 Oct: 3"


@dataclass
class Chart:
    key: str
    title: str
    names: list[str]  # the series' names, for the legend
    top: int  # the y axis runs from 0 to this
    empty: bool
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, int]] = field(default_factory=list)  # (y, value)
    weeks: list[tuple[float, str]] = field(default_factory=list)  # (x, label), every other week
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM


def _nice(top: int) -> int:
    """A round maximum for the axis, at least ``top``: 1, 2, 5, 10, 20, 50, ..."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= top:
                return step * factor
        step *= 10


def weekly(
    key: str, title: str, weeks: list[date], series: list[tuple[str, list[int]]], week_label
) -> Chart:
    """One chart of one or two weekly series (name, values) on one scale; ``week_label``
    writes a week's Monday in the reader's language."""
    most = max((max(values) for _, values in series), default=0)
    top = _nice(max(most, 1))
    chart = Chart(key, title, [name for name, _ in series], top, empty=most == 0)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(weeks), 1)
    bar_width = slot * 0.7 / len(series)
    for index, week in enumerate(weeks):
        x0 = LEFT + index * slot + slot * 0.15
        label = week_label(week)
        if index % 2 == (len(weeks) - 1) % 2:  # every other week, always the latest
            chart.weeks.append((round(LEFT + index * slot + slot / 2, 1), label))
        for number, (name, values) in enumerate(series):
            value = values[index]
            height = plot_height * value / top
            chart.bars.append(
                Bar(
                    x=round(x0 + number * bar_width, 1),
                    y=round(TOP + plot_height - height, 1),
                    width=round(bar_width - 1, 1),
                    height=round(height, 1),
                    value=value,
                    series=number,
                    title=f"{name}, {label}: {value}",
                )
            )
    for value in sorted({0, top // 2 if top >= 2 else 0, top}):
        chart.ticks.append((round(TOP + plot_height - plot_height * value / top, 1), value))
    return chart
