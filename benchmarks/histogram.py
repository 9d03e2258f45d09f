"""A latency histogram as a PNG, written with zlib and struct only (no plotting library here).

Bars: the number of verdicts per bin (linear bins from 0 to the largest latency shown, the p99.9 plus
a tenth, at most 120 bins); latencies past the last bin are counted in it. Vertical lines: p50
(green), p99 (orange), p99.9 (red), and the goal (blue), each where it falls. White background, grey
bars, a grey tick along the bottom edge every 1, 10, 100, ... ms (at most 40 ticks). The picture has
no text: the bench prints the figures, the bin width and the colours next to the file name.
"""

from __future__ import annotations

import statistics
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

__all__ = ["histogram_png", "tail_percentiles", "write_png"]

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)
BAR: Colour = (110, 110, 110)
TICK: Colour = (180, 180, 180)
GREEN: Colour = (0, 150, 0)
ORANGE: Colour = (230, 130, 0)
RED: Colour = (210, 0, 0)
BLUE: Colour = (0, 70, 220)


def tail_percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 and p99.9 of ``values`` (the inclusive method, as ``crossbound.testing.stats``)."""
    if len(values) < 2:
        only = float(values[0]) if values else 0.0
        return only, only, only
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return cuts[499], cuts[989], cuts[998]


def write_png(path: Path, pixels: Sequence[Sequence[Colour]]) -> None:
    """Write ``pixels`` (rows of RGB triples, top row first) as an 8-bit RGB PNG."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(png)


def histogram_png(
    path: Path,
    latencies_ms: Sequence[float],
    *,
    goal_ms: float | None = None,
    width: int = 720,
    height: int = 300,
) -> tuple[float, float]:
    """Draw the histogram of ``latencies_ms`` into ``path``; returns (bin width, tick spacing) in ms."""
    p50, p99, p999 = tail_percentiles(latencies_ms)
    top_ms = max(p999 * 1.1, (goal_ms or 0) * 1.1, 1.0)
    tick_ms = next(t for t in (1.0, 10.0, 100.0, 1000.0, 10_000.0) if top_ms / t <= 40)
    bins = min(120, width // 4)
    bin_ms = top_ms / bins
    counts = [0] * bins
    for value in latencies_ms:
        counts[min(bins - 1, max(0, int(value / bin_ms)))] += 1
    tallest = max(counts) or 1
    pixels = [[WHITE] * width for _ in range(height)]
    bar_w = width // bins
    plot_h = height - 12  # room for the ticks below the bars
    for i, count in enumerate(counts):
        bar_h = round(count / tallest * (plot_h - 4))
        for y in range(plot_h - bar_h, plot_h):
            row = pixels[y]
            for x in range(i * bar_w, i * bar_w + bar_w - 1):
                row[x] = BAR
    ms_to_x = (bins * bar_w) / top_ms
    tick = 0.0
    while tick <= top_ms:
        x = min(width - 1, round(tick * ms_to_x))
        for y in range(plot_h, height):
            pixels[y][x] = TICK
        tick += tick_ms
    marks = [(p50, GREEN), (p99, ORANGE), (p999, RED)] + ([(goal_ms, BLUE)] if goal_ms else [])
    for value, colour in marks:
        x = min(width - 2, round(value * ms_to_x))
        for y in range(0, plot_h):
            pixels[y][x] = pixels[y][x + 1] = colour
    write_png(path, pixels)
    return bin_ms, tick_ms
