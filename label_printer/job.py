"""Plan a print job: each label's QR placement, and one text raster per distinct text.

Unit labels of one batch differ only in their URL, so the expensive part, setting the
Vietnamese text and rasterising it, is done once per job for each distinct text (and QR
version, which decides the room left for the text), and kept in a small cache for the
next chunk of the same job; per label only the QR changes. The
rasters are 1 bit per dot, rows of whole bytes, most significant bit first, 1 = black:
the layout of ZPL ``^GF``, ESC/POS ``GS v 0`` and PDF image masks (TSPL inverts it).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from label_printer.geometry import Placement, fit_text, place_side_by_side, place_stacked
from label_printer.model import LabelContent, LabelLayout
from label_printer.qr_fit import url_version
from label_printer.typeface import Box, PlacedLine, load_font

Arrangement = Callable[[str, LabelLayout], Placement]


@dataclass(frozen=True)
class TextRaster:
    """The text column as a 1-bit raster placed at (``x``, ``y``) dots on the label."""

    x: int
    y: int
    width_bytes: int
    height: int
    data: bytes  # height rows of width_bytes bytes; bit 1 = black dot

    @property
    def empty(self) -> bool:
        return self.height == 0


@dataclass(frozen=True)
class PlannedLabel:
    """One label of a job: its URL, where its QR goes, and the (shared) text raster."""

    url: str
    placement: Placement
    text: TextRaster


def as_list(contents: LabelContent | Sequence[LabelContent]) -> list[LabelContent]:
    """Accept one label or a sequence of labels; refuse an empty job."""
    items = [contents] if isinstance(contents, LabelContent) else list(contents)
    if not items:
        raise ValueError("a print job needs at least one label")
    return items


def rasterise_lines(lines: Sequence[PlacedLine], left: int) -> TextRaster:
    """Draw ``lines`` (label coordinates) into a raster whose left edge is at ``left``.

    The raster is cropped to the lines' extent (rounded up to whole bytes across), so
    blank space costs nothing to send.
    """
    if not lines:
        return TextRaster(left, 0, 0, 0, b"")
    top = min(line.box[1] for line in lines)
    bottom = max(line.box[3] for line in lines)
    right = max(line.box[2] for line in lines)
    width_bytes = max(1, (right - left + 7) // 8)
    image = Image.new("1", (width_bytes * 8, bottom - top), 0)
    draw = ImageDraw.Draw(image)  # mode "1" draws without anti-aliasing: crisp dots
    for line in lines:
        font = load_font(line.size, line.bold)
        draw.text((line.x - left, line.y - top), line.text, font=font, fill=1, anchor="la")
    return TextRaster(left, top, width_bytes, bottom - top, image.tobytes())


def plan_job(
    contents: LabelContent | Sequence[LabelContent],
    layout: LabelLayout,
    arrangement: Arrangement = place_side_by_side,
    text_from_left_edge: bool = False,
) -> list[PlannedLabel]:
    """Plan every label of a job, rendering each distinct text raster only once.

    ``text_from_left_edge`` starts rasters at dot 0 (receipt printers print whole lines).
    Raises ``ValueError`` for an empty job or a URL whose QR code would not scan.
    """
    placements: dict[int, Placement] = {}
    rasters: dict[tuple[LabelContent, int], TextRaster] = {}
    planned = []
    for content in as_list(contents):
        version = url_version(content.url)
        placement = placements.get(version)  # the geometry depends on the version only
        if placement is None:
            placement = placements[version] = arrangement(content.url, layout)
        key = (dataclasses.replace(content, url="-"), version)
        text = rasters.get(key)
        if text is None:
            left = 0 if text_from_left_edge else placement.text_box[0]
            text = rasters[key] = text_raster(key[0], layout, placement.text_box, left)
        planned.append(PlannedLabel(content.url, placement, text))
    return planned


@functools.lru_cache(maxsize=64)
def text_raster(content: LabelContent, layout: LabelLayout, box: Box, left: int) -> TextRaster:
    """The text column of ``content`` set in ``box`` and rasterised (the URL plays no part).

    Cached across jobs too: the agent's print queue renders a long job in chunks.
    """
    return rasterise_lines(fit_text(content, layout, box).lines, left)


def stacked_job(
    contents: LabelContent | Sequence[LabelContent], layout: LabelLayout
) -> list[PlannedLabel]:
    """Plan a job for receipt printers: QR on top, text below, rasters from the left edge."""
    return plan_job(contents, layout, place_stacked, text_from_left_edge=True)


def repeats(planned: Sequence[PlannedLabel]) -> list[tuple[PlannedLabel, int]]:
    """Group consecutive identical labels as (label, count), for printer-side copies."""
    groups: list[tuple[PlannedLabel, int]] = []
    for label in planned:
        if groups and groups[-1][0] == label:
            groups[-1] = (label, groups[-1][1] + 1)
        else:
            groups.append((label, 1))
    return groups


def clear_caches() -> None:
    """Forget cached text layouts and rasters (benchmarks; after swapping fonts)."""
    text_raster.cache_clear()
    fit_text.cache_clear()
