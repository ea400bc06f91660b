"""Shared export helpers: Excel workbooks and PDF reports with Chinese text.

Excel (``openpyxl``): one or more sheets, a bold frozen header row with an auto-filter, column
widths that count a Chinese character as two, dates in local time. Sheets are written in
openpyxl's write-only mode, which keeps only the current row in memory, and the workbook is
spooled to a temporary file and streamed to the client, so a 100,000-row export does not hold the
sheet in memory. A text cell is always stored as text: a value starting with ``=`` is never turned
into a formula (spreadsheet formula injection from patient-entered text).

PDF (``reportlab``): headings, paragraphs, tables and bar/pie charts drawn with reportlab's own
graphics (no plotting library needed). Chinese text uses reportlab's built-in CID font
``STSong-Light`` (Adobe-GB1), which needs no font file, so it works offline and on a fresh CI
machine; every PDF viewer in use in China ships the matching font. Set ``PDF_FONT_FILE`` to a
TrueType font (``.ttf`` / ``.ttc``, e.g. SimSun or WenQuanYi Zen Hei) to embed that font instead,
for archives that require embedded fonts. (OpenType-CFF fonts such as Noto Sans CJK cannot be
embedded by reportlab.)

Views stay thin: they gather the rows and call ``xlsx_response`` / ``pdf_response``.
"""

from __future__ import annotations

import io
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse
from django.utils import timezone

# --- Excel ----------------------------------------------------------------------------------------

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_CONTENT_TYPE = "application/pdf"

# Characters XML 1.0 forbids (openpyxl raises IllegalCharacterError on them).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_COLUMN_WIDTH = 60
MIN_COLUMN_WIDTH = 6
_WIDTH_SAMPLE_ROWS = 200  # column widths are estimated from the header and the first rows


@dataclass(frozen=True)
class Column:
    """One column: its header and, optionally, a fixed width (in Excel character units) and an
    Excel number format (e.g. ``"0.0%"``, ``"yyyy-mm-dd hh:mm"``)."""

    title: str
    width: float | None = None
    number_format: str | None = None


@dataclass
class Sheet:
    """A sheet: a title (at most 31 characters, Excel's limit), columns and rows. ``rows`` may be
    any iterable, including a generator over a queryset's ``.iterator()``; it is consumed once."""

    title: str
    columns: Sequence[Column | str]
    rows: Iterable[Sequence[Any]]

    def column_objects(self) -> list[Column]:
        return [c if isinstance(c, Column) else Column(str(c)) for c in self.columns]


def display_width(value: Any) -> int:
    """Width of a value as Excel shows it: East Asian wide and full-width characters count two."""
    text = "" if value is None else str(value)
    longest = 0
    for line in text.splitlines() or [""]:
        longest = max(longest, sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line))
    return longest


def cell_value(value: Any) -> Any:
    """A Python value as openpyxl can store it: aware datetimes become local wall-clock time
    (Excel has no time zones), Decimals stay numbers, other objects become their text."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return value
    text = _ILLEGAL_XML.sub("", str(value))
    return text


def _write_sheet(workbook: Any, sheet: Sheet) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = workbook.create_sheet(title=_sheet_title(sheet.title))
    columns = sheet.column_objects()
    # Widths must be set before the first row is written; they are estimated from the header and a
    # sample of the rows, which are then written first (the rest stream from the iterator).
    rows = iter(sheet.rows)
    sample: list[Sequence[Any]] = []
    for row in rows:
        sample.append(row)
        if len(sample) >= _WIDTH_SAMPLE_ROWS:
            break
    for i, col in enumerate(columns, start=1):
        if col.width is not None:
            width = col.width
        else:
            widest = max([display_width(col.title), *(display_width(cell_value(r[i - 1])) for r in sample if len(r) >= i)])
            width = min(max(widest + 2, MIN_COLUMN_WIDTH), MAX_COLUMN_WIDTH)
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}1"

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DCE6F1")
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    header = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=cell_value(col.title))
        cell.font, cell.fill, cell.alignment = bold, fill, centre
        _force_text(cell)
        header.append(cell)
    ws.append(header)

    formats = [c.number_format for c in columns]

    def write(row: Sequence[Any]) -> None:
        cells = []
        for i, value in enumerate(row):
            cell = WriteOnlyCell(ws, value=cell_value(value))
            _force_text(cell)
            fmt = formats[i] if i < len(formats) else None
            if fmt:
                cell.number_format = fmt
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        ws.append(cells)

    for row in sample:
        write(row)
    for row in rows:
        write(row)


def _force_text(cell: Any) -> None:
    # openpyxl turns a string starting with "=" into a formula; text from people is never a formula.
    if isinstance(cell.value, str) and cell.data_type == "f":
        cell.data_type = "s"


def _sheet_title(title: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", title).strip() or "Sheet"
    return cleaned[:31]


def write_xlsx(target: Any, sheets: Iterable[Sheet]) -> None:
    """Write the sheets as one workbook to ``target`` (a path or a binary file object)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for sheet in sheets:
        _write_sheet(workbook, sheet)
    workbook.save(target)


def xlsx_bytes(sheets: Iterable[Sheet]) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(buffer, sheets)
    return buffer.getvalue()


def xlsx_response(filename: str, sheets: Iterable[Sheet]) -> FileResponse:
    """Stream a workbook as a download. The workbook is spooled to a temporary file (in memory up
    to 2 MB, then on disk), which the response closes, and so deletes, when it has been sent."""
    spool = tempfile.SpooledTemporaryFile(max_size=2 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    write_xlsx(spool, sheets)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=_ensure_suffix(filename, ".xlsx"), content_type=XLSX_CONTENT_TYPE)


def _ensure_suffix(filename: str, suffix: str) -> str:
    return filename if filename.lower().endswith(suffix) else filename + suffix


# --- PDF ------------------------------------------------------------------------------------------

CID_FONT = "STSong-Light"
_EMBEDDED_FONT = "CareDeskCJK"
PALETTE = ["#1f6f8b", "#e0a030", "#4a9d6f", "#c0504d", "#8064a2", "#9aa5b1", "#2c3e50", "#f39c12"]


@lru_cache(maxsize=2)
def _register_font(font_file: str) -> str:
    """Register the report font once per process; return its name."""
    from reportlab.pdfbase import pdfmetrics

    if font_file:
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont(_EMBEDDED_FONT, font_file, subfontIndex=0))
        return _EMBEDDED_FONT
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


def report_font() -> str:
    font_file = str(getattr(settings, "PDF_FONT_FILE", "") or "")
    if font_file and not Path(font_file).is_file():
        font_file = ""  # a missing file must not break every export: fall back to the CID font
    return _register_font(font_file)


@dataclass
class Heading:
    text: str
    level: int = 1


@dataclass
class Para:
    text: str
    small: bool = False


@dataclass
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    col_widths: Sequence[float] | None = None  # in millimetres; None: share the width evenly


@dataclass
class BarChart:
    """Vertical bars: one series per entry of ``series`` (name → values, one per label)."""

    title: str
    labels: Sequence[str]
    series: dict[str, Sequence[float]]
    height_mm: float = 70
    value_format: str = "{:g}"


@dataclass
class PieChart:
    title: str
    labels: Sequence[str]
    values: Sequence[float]
    height_mm: float = 70


@dataclass
class PageBreak:
    pass


Block = Heading | Para | Table | BarChart | PieChart | PageBreak


@dataclass
class PdfReport:
    """A report: a title, an optional subtitle (period, scope) and blocks in order."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    subtitle: str = ""
    author: str = "CareDesk"


def _escape(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(str(text)).replace("\n", "<br/>")


def _styles(font: str) -> dict[str, Any]:
    from reportlab.lib.colors import HexColor
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("cd-body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle("cd-title", parent=base, fontSize=18, leading=24, spaceAfter=4),
        "subtitle": ParagraphStyle("cd-subtitle", parent=base, fontSize=10, textColor=HexColor("#555555"), spaceAfter=10),
        "h1": ParagraphStyle("cd-h1", parent=base, fontSize=14, leading=20, spaceBefore=10, spaceAfter=6),
        "h2": ParagraphStyle("cd-h2", parent=base, fontSize=12, leading=17, spaceBefore=8, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("cd-small", parent=base, fontSize=8, leading=11, textColor=HexColor("#555555")),
        "cell": ParagraphStyle("cd-cell", parent=base, fontSize=9, leading=12),
        "head": ParagraphStyle("cd-head", parent=base, fontSize=9, leading=12),
    }


def _table(block: Table, styles: dict[str, Any], width: float, font: str) -> Any:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph
    from reportlab.platypus import Table as RLTable

    data = [[Paragraph(_escape(c), styles["head"]) for c in block.columns]]
    for row in block.rows:
        data.append([Paragraph(_escape("" if v is None else _pdf_text(v)), styles["cell"]) for v in row])
    widths = [w * mm for w in block.col_widths] if block.col_widths else [width / max(len(block.columns), 1)] * len(block.columns)
    table = RLTable(data, colWidths=widths, repeatRows=1)
    table.setStyle([
        ("FONT", (0, 0), (-1, -1), font),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dce6f1")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f7fa")]),
    ])
    return table


def _pdf_text(value: Any) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _bar_chart(block: BarChart, width: float, font: str) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.units import mm

    height = block.height_mm * mm
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, block.title, fontName=font, fontSize=11))
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 40
    chart.width = width - 40 - (90 if len(block.series) > 1 else 0)
    chart.height = height - 70
    values = [list(v) for v in block.series.values()] or [[0]]
    chart.data = values
    chart.categoryAxis.categoryNames = [str(label)[:8] for label in block.labels] or [""]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30 if len(block.labels) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(block.labels) > 6 else "n"
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    peak = max((max(v) if v else 0) for v in values)
    if peak <= 0:
        chart.valueAxis.valueMax = 1
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6
    chart.barLabelFormat = block.value_format.format
    chart.barLabels.nudge = 6
    for i in range(len(values)):
        chart.bars[i].fillColor = colors.HexColor(PALETTE[i % len(PALETTE)])
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    if len(block.series) > 1:
        legend = Legend()
        legend.x, legend.y = width - 85, height - 30
        legend.fontName, legend.fontSize = font, 8
        legend.alignment = "right"
        legend.colorNamePairs = [(colors.HexColor(PALETTE[i % len(PALETTE)]), name) for i, name in enumerate(block.series)]
        drawing.add(legend)
    return drawing


def _pie_chart(block: PieChart, width: float, font: str) -> Any:
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.charts.piecharts import Pie
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.units import mm

    height = block.height_mm * mm
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, block.title, fontName=font, fontSize=11))
    values = [v for v in block.values]
    if not any(values):
        drawing.add(String(10, height / 2, "—", fontName=font, fontSize=10))
        return drawing
    pie = Pie()
    size = min(height - 30, width / 2)
    pie.x, pie.y, pie.width, pie.height = 10, 5, size, size
    pie.data = values
    pie.labels = None
    pie.slices.strokeColor = colors.white
    for i in range(len(values)):
        pie.slices[i].fillColor = colors.HexColor(PALETTE[i % len(PALETTE)])
    drawing.add(pie)
    legend = Legend()
    legend.x, legend.y = size + 40, height - 30
    legend.fontName, legend.fontSize = font, 8
    legend.alignment = "right"
    total = sum(values)
    legend.colorNamePairs = [
        (colors.HexColor(PALETTE[i % len(PALETTE)]), f"{label}  {value:g}（{value * 100 / total:.0f}%）")
        for i, (label, value) in enumerate(zip(block.labels, values, strict=False))
    ]
    drawing.add(legend)
    return drawing


def build_pdf(report: PdfReport) -> bytes:
    """Render the report to PDF bytes (A4 portrait, page numbers in the footer)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak as RLPageBreak
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font = report_font()
    styles = _styles(font)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm,
        title=report.title, author=report.author, subject=report.subtitle,
    )
    width = doc.width
    story: list[Any] = [Paragraph(_escape(report.title), styles["title"])]
    if report.subtitle:
        story.append(Paragraph(_escape(report.subtitle), styles["subtitle"]))
    renderers: dict[type, Callable[[Any], Any]] = {
        Heading: lambda b: Paragraph(_escape(b.text), styles["h1" if b.level <= 1 else "h2"]),
        Para: lambda b: Paragraph(_escape(b.text), styles["small" if b.small else "body"]),
        Table: lambda b: _table(b, styles, width, font),
        BarChart: lambda b: _bar_chart(b, width, font),
        PieChart: lambda b: _pie_chart(b, width, font),
        PageBreak: lambda b: RLPageBreak(),
    }
    for block in report.blocks:
        story.append(renderers[type(block)](block))
        if isinstance(block, Table | BarChart | PieChart):
            story.append(Spacer(1, 4 * mm))

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"{report.title} · {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def pdf_response(filename: str, report: PdfReport) -> FileResponse:
    return FileResponse(
        io.BytesIO(build_pdf(report)), as_attachment=True, filename=_ensure_suffix(filename, ".pdf"),
        content_type=PDF_CONTENT_TYPE,
    )
