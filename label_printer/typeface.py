"""Load the bundled DejaVu fonts and measure, wrap and ellipsise text set in them.

Fonts are loaded by path from ``label_printer/fonts/`` so rendering never depends on
system fonts. All functions are pure apart from a font cache.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"
ELLIPSIS = "…"


@functools.lru_cache(maxsize=256)
def load_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Return the bundled DejaVu Sans (or Bold) at ``size`` pixels per em."""
    if size < 1:
        raise ValueError(f"font size must be at least 1 px, got {size}")
    path = BOLD_FONT if bold else REGULAR_FONT
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


@dataclass(frozen=True)
class Extent:
    """Size of a line's box (ink plus ascent/descent); draw at the box corner + (dx, dy)."""

    dx: int
    dy: int
    width: int
    height: int


def normalize(text: str) -> str:
    """NFC-normalise and turn any whitespace run (including newlines) into a single space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def measure(font: ImageFont.FreeTypeFont, text: str) -> Extent:
    """Measure ``text`` including ink that pokes outside the advance/ascent (stacked accents)."""
    ascent, descent = font.getmetrics()
    left, top, right, bottom = font.getbbox(text, anchor="la") if text else (0, 0, 0, 0)
    advance = font.getlength(text)
    x0, y0 = min(0, int(left)), min(0, int(top))
    x1 = max(int(right), math.ceil(advance))
    y1 = max(int(bottom), ascent + descent)
    return Extent(dx=-x0, dy=-y0, width=x1 - x0, height=y1 - y0)


def fits(font: ImageFont.FreeTypeFont, text: str, max_width: int) -> bool:
    return measure(font, text).width <= max_width


def _longest_prefix(predicate: Callable[[int], bool], upper: int) -> int:
    """Largest n in [0, upper] with monotonic predicate(n) true (0 if none); gallops from 1."""
    high = 1
    while high < upper and predicate(high):
        high *= 2
    low, high = 0, min(high, upper)
    while low < high:
        mid = (low + high + 1) // 2
        if predicate(mid):
            low = mid
        else:
            high = mid - 1
    return low


def ellipsize(font: ImageFont.FreeTypeFont, text: str, max_width: int) -> str:
    """Shorten ``text`` and append "…" until it fits; "" if not even "…" fits."""
    if fits(font, text, max_width):
        return text

    def shortened(n: int) -> str:
        return text[:n].rstrip() + ELLIPSIS

    cut = _longest_prefix(lambda n: fits(font, shortened(n), max_width), len(text) - 1)
    result = shortened(cut)
    return result if fits(font, result, max_width) else ""


def _prefix_that_fits(font: ImageFont.FreeTypeFont, text: str, max_width: int) -> int:
    return _longest_prefix(lambda n: fits(font, text[:n], max_width), len(text))


def _split_word(font: ImageFont.FreeTypeFont, word: str, max_width: int, limit: int) -> list[str]:
    """Break a too-wide word into fitting chunks; after ``limit`` chunks, append the rest."""
    chunks: list[str] = []
    while word and len(chunks) < limit:
        cut = max(1, _prefix_that_fits(font, word, max_width))
        chunks.append(word[:cut])
        word = word[cut:]
    return [*chunks, word] if word else chunks


def wrap_text(
    font: ImageFont.FreeTypeFont, text: str, max_width: int, max_lines: int
) -> tuple[str, ...]:
    """Word-wrap ``text`` into at most ``max_lines`` lines no wider than ``max_width`` pixels.

    Words longer than a line are broken between characters. If the text needs more lines,
    the last kept line is ellipsised. Lines that cannot fit at all come back as "".
    """
    text = normalize(text)
    if not text or max_lines < 1:
        return ()
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if fits(font, candidate, max_width):
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _split_word(font, word, max_width, max_lines + 1)
        lines.extend(pieces[:-1])
        current = pieces[-1]
        if len(lines) > max_lines:
            break  # enough to know the text is cut; the rest is never shown
    lines.append(current)
    if len(lines) > max_lines:
        # The kept line is full, so the next line is enough text to ellipsise from.
        overflow = " ".join(lines[max_lines - 1 : max_lines + 1])
        lines = [*lines[: max_lines - 1], ellipsize(font, overflow, max_width)]
    return tuple(line if fits(font, line, max_width) else "" for line in lines)


Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)


@dataclass(frozen=True)
class TextBlock:
    """A paragraph to set: font scale relative to the base size, and how many lines it may use."""

    text: str
    bold: bool = False
    scale: float = 1.0
    max_lines: int = 1


@dataclass(frozen=True)
class PlacedLine:
    """One line of text: draw at (x, y) with anchor "la"; ``box`` bounds ink and line height."""

    text: str
    size: int
    bold: bool
    x: int
    y: int
    box: Box


@dataclass(frozen=True)
class Stack:
    """Result of setting blocks into a box at one base font size."""

    lines: tuple[PlacedLine, ...]
    fits: bool  # False if lines crossing the bottom of the box were dropped
    shortened: bool  # True if some block needed more lines than allowed and was ellipsised

    @property
    def complete(self) -> bool:
        return self.fits and not self.shortened


def stack_blocks(blocks: list[TextBlock], base: int, box: Box) -> Stack:
    """Wrap each block at ``base`` px (times its scale) and stack the lines, centred in ``box``."""
    left, top, right, bottom = box
    rows: list[tuple[str, int, bool, int, Extent]] = []  # text, size, bold, gap before, extent
    shortened = False
    for block in blocks:
        size = max(1, round(base * block.scale))
        font = load_font(size, block.bold)
        lines = wrap_text(font, block.text, right - left, block.max_lines)
        if "".join(lines).replace(" ", "") != normalize(block.text).replace(" ", ""):
            shortened = True
        for index, line in enumerate(line for line in lines if line):
            gap = round(base * 0.15) if rows and index == 0 else 0
            rows.append((line, size, block.bold, gap, measure(font, line)))
    total = sum(gap + extent.height for *_, gap, extent in rows)
    y = top + max(0, (bottom - top - total) // 2)
    placed: list[PlacedLine] = []
    for text, size, bold, gap, extent in rows:
        if y + gap + extent.height > bottom:
            return Stack(tuple(placed), False, shortened)
        y += gap
        line_box = (left, y, left + extent.width, y + extent.height)
        placed.append(PlacedLine(text, size, bold, left + extent.dx, y + extent.dy, line_box))
        y += extent.height
    return Stack(tuple(placed), True, shortened)


def fit_blocks(blocks: list[TextBlock], box: Box, largest: int, smallest: int) -> Stack:
    """Set ``blocks`` in ``box`` at the largest base size in [smallest, largest] that shows all
    the text; if none does, at ``smallest`` (which shows the most), where over-long blocks are
    ellipsised and lines crossing the bottom are dropped. The result never overflows the box.
    """
    for base in range(largest, smallest, -1):
        stack = stack_blocks(blocks, base, box)
        if stack.complete:
            return stack
    return stack_blocks(blocks, smallest, box)
