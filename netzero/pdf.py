"""The net-zero certificate as a printable, bilingual (Chinese / English) A4 PDF.

A pure function of the certificate record and its current status: the same input gives the same
bytes (`invariant=1` fixes the dates and document id reportlab would otherwise stamp in), so a PDF
can be rendered on demand instead of stored, and two copies can be compared byte for byte.

Chinese is set in reportlab's built-in CID font STSong-Light, which PDF viewers supply, so the
server needs no font file; everything else is Helvetica. Any text, ours or the user's, goes through
`_markup`, which escapes it for Paragraph markup (names may hold `<` or `&`) and puts each run of
characters Helvetica cannot show into STSong-Light, so a Chinese facility name prints too.

Quantities are integer kg and shares basis points; they are printed by integer arithmetic, never
through floats, so the figure on paper is exactly the registered one.
"""

from __future__ import annotations

import io
import itertools
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

CJK_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FOOTER_SPACE = 14 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
LABEL_WIDTH = 52 * mm
QR_SIZE = 34 * mm

STATUSES = {
    "valid": ("有效", "VALID"),
    "expired": ("已过期", "EXPIRED"),
    "insufficient": ("抵消不足", "INSUFFICIENT"),
    "revoked": ("已撤销", "REVOKED"),
}
BOUNDARIES = {
    "I": "类型一：范围一 + 范围二 / Type I: scope 1 + 2",
    "II": "类型二：范围一 + 范围二 + 范围三 / Type II: scope 1 + 2 + 3",
}
KINDS = {"reduction": "减排 / reduction", "removal": "清除 / removal"}
OFFLINE_VERIFICATION = "离线验证 / Verify offline: cir verify-proof <bundle> --key <registry log key>"

GREEN = colors.HexColor("#1b5e20")
RED = colors.HexColor("#b71c1c")
RULE = colors.HexColor("#9e9e9e")
SHADE = colors.HexColor("#eeeeee")


def _style(name: str, size: float, font: str = "Helvetica", **extra: Any) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.3, **extra)


TITLE = _style("title", 18, font="Helvetica-Bold", spaceAfter=4)
NUMBER = _style("number", 12, spaceAfter=8)
SECTION = _style("section", 11, font="Helvetica-Bold", spaceBefore=10, spaceAfter=4, keepWithNext=1)
BODY = _style("body", 9)
BODY_RIGHT = _style("body-right", 9, alignment=TA_RIGHT)
BODY_BOLD = _style("body-bold", 9, font="Helvetica-Bold")
BODY_BOLD_RIGHT = _style("body-bold-right", 9, font="Helvetica-Bold", alignment=TA_RIGHT)
HASH = _style("hash", 8.5, "Courier")
STATUS = _style("status", 14, font="Helvetica-Bold")
CELL = _style("cell", 7)
CELL_RIGHT = _style("cell-right", 7, alignment=TA_RIGHT)
CELL_HEAD = _style("cell-head", 6.5, font="Helvetica-Bold")
CELL_HEAD_RIGHT = _style("cell-head-right", 6.5, font="Helvetica-Bold", alignment=TA_RIGHT)
SERIAL = _style("serial", 6)


def certificate_pdf(
    certificate: dict[str, Any], public_url: str, status: str, status_reason: str | None = None
) -> bytes:
    """The certificate as PDF bytes; `status` is its standing now (valid, expired, insufficient, revoked),
    which the record itself does not hold, with `status_reason` for revoked or insufficient."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    number = certificate["number"]
    story: list[Flowable] = [
        _para("零碳工厂碳中和证书 / Net-zero certificate", TITLE),
        _para(f"证书编号 / Certificate number: {number}", NUMBER),
        _status_box(status, status_reason),
        Spacer(1, 4 * mm),
        _verification_link(certificate, public_url),
        *_facility(certificate),
        *_emissions(certificate),
        *_offsets(certificate),
        *_verification(certificate),
    ]
    buffer = io.BytesIO()
    # No frame padding: the tables are as wide as the text, and the footer lines up with both.
    frame = Frame(MARGIN, MARGIN + FOOTER_SPACE, CONTENT_WIDTH, PAGE_HEIGHT - 2 * MARGIN - FOOTER_SPACE,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    document = BaseDocTemplate(
        buffer, pagesize=A4, invariant=1, pageTemplates=[PageTemplate(frames=[frame])],
        title=f"Net-zero certificate {number}", author="Carbon-inclusion credit registry",
        subject=f"{certificate['facility']['name']}, {certificate['period']['start']} – {certificate['period']['end']}",
    )
    document.build(story, canvasmaker=partial(_NumberedCanvas, certificate_number=number))
    return buffer.getvalue()


def _status_box(status: str, reason: str | None) -> Flowable:
    chinese, english = STATUSES[status]
    colour = GREEN if status == "valid" else RED
    headline = f"状态 / Status: {chinese} / {english}" + (f": {reason}" if reason else "")
    lines = [_para(headline, ParagraphStyle("status-now", parent=STATUS, textColor=colour))]
    if status != "valid":
        lines.append(_para("本证书目前不能作为碳中和证明。 / This certificate does not currently attest net zero.",
                           ParagraphStyle("status-warning", parent=BODY_BOLD, textColor=colour)))
    box = Table([[lines]], colWidths=[CONTENT_WIDTH])
    box.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 2 if status == "valid" else 3, colour),
        ("BACKGROUND", (0, 0), (-1, -1), colors.white if status == "valid" else colors.HexColor("#ffebee")),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
    ]))
    return box


def _verification_link(certificate: dict[str, Any], public_url: str) -> Flowable:
    """On the first page, beside the dates: whoever holds the printout can check it is still valid."""
    code = QrCodeWidget(public_url, barWidth=QR_SIZE, barHeight=QR_SIZE, barLevel="M")
    drawing = Drawing(QR_SIZE, QR_SIZE)
    drawing.add(code)
    text = [
        _para("扫码或访问以验证 / Scan or visit to verify", BODY_BOLD),
        _para(public_url, BODY),
        Spacer(1, 3 * mm),
        _para(f"签发日期 / Issued on: {certificate['issued_on']}", BODY),
        _para(f"有效期 / Valid: {certificate['valid_from']} – {certificate['valid_until']}", BODY),
        _para(f"证书标识 / Certificate id: {certificate['id']}", BODY),
    ]
    table = Table([[drawing, text]], colWidths=[QR_SIZE + 4 * mm, CONTENT_WIDTH - QR_SIZE - 4 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return table


def _facility(certificate: dict[str, Any]) -> list[Flowable]:
    facility, period = certificate["facility"], certificate["period"]
    boundary = BOUNDARIES.get(facility["boundary"], facility["boundary"])
    return [
        _para("工厂 / Facility", SECTION),
        _key_values([
            ("工厂 / Facility", facility["name"]),
            ("地址 / Address", facility["address"]),
            ("地区 / Region", facility["region"]),
            ("行业 / Industry", facility["industry"]),
            ("核算边界 / Boundary", boundary),
            ("证书持有方 / Holder", certificate["party"]["name"]),
            ("报告期 / Reporting period", f"{period['start']} – {period['end']}"),
        ]),
    ]


def _emissions(certificate: dict[str, Any]) -> list[Flowable]:
    emissions = certificate["emissions_kg"]
    scope3 = "范围三 / Scope 3"
    if certificate["facility"]["boundary"] == "I":
        scope3 += " (不在类型一边界内 / outside a Type I boundary)"
    rows = [
        ("范围一 / Scope 1", emissions["scope1"]),
        ("范围二（基于位置）/ Scope 2, location-based", emissions["scope2_location"]),
        ("范围二（基于市场）/ Scope 2, market-based", emissions["scope2_market"]),
        (scope3, emissions["scope3"]),
        ("合计（基于位置）/ Total, location-based", emissions["total_location"]),
        ("合计（基于市场）/ Total, market-based", emissions["total_market"]),
    ]
    residual = ("须抵消的剩余排放 / Residual emissions to cover", emissions["residual"])
    # Reductions and removals apart: a removal takes carbon out of the air, a reduction only avoids emitting it.
    offsets = [
        ("减排量 / Reductions", certificate["reductions_kg"]),
        ("清除量 / Removals", certificate["removals_kg"]),
    ]
    covered = ("已抵消合计 / Covered in total", certificate["covered_kg"])
    return [
        _para("排放 / Emissions", SECTION),
        _figures("范围 / Scope", rows, residual),
        Spacer(1, 3 * mm),
        _key_values([
            ("可再生电力占比 / Renewable electricity share", _percent(certificate["renewable_electricity_share_bp"])),
        ]),
        _para("抵消 / Coverage", SECTION),
        _figures("抵消方式 / Offset by", offsets, covered),
    ]


def _figures(heading: str, rows: list[tuple[str, int]], total: tuple[str, int]) -> Table:
    """A ruled table of tonnes, the total last and shaded."""
    table = Table(
        [[_para(heading, BODY_BOLD), _para("t CO2e", BODY_BOLD_RIGHT)]]
        + [[_para(label, BODY), _para(_tonnes(kg), BODY_RIGHT)] for label, kg in rows]
        + [[_para(total[0], BODY_BOLD), _para(_tonnes(total[1]), BODY_BOLD_RIGHT)]],
        colWidths=[CONTENT_WIDTH - 40 * mm, 40 * mm],
    )
    table.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -3), 0.25, RULE),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("BACKGROUND", (0, -1), (-1, -1), SHADE),
    ]))
    return table


# Serial, project, methodology, kind, origin, vintage, t, share, cross-regional: 493 pt, the A4 text width.
OFFSET_COLUMNS = [138, 72, 56, 38, 34, 30, 42, 35, 48]


def _offsets(certificate: dict[str, Any]) -> list[Flowable]:
    heads = ["序列号 / Serial range", "项目 / Project", "方法学 / Methodology", "类型 / Kind", "来源地区 / Origin",
             "年份 / Vintage", "t CO2e", "占比 / Share", "跨区域 / Cross-region"]
    header = [_para(head, CELL_HEAD_RIGHT if head in ("t CO2e", "占比 / Share") else CELL_HEAD) for head in heads]
    rows = [
        [
            _serial(offset["serial"]),
            _para(offset["project"]["name"], CELL),
            _para(f"{offset['methodology']['id']} {offset['methodology']['version']}", CELL),
            _para(KINDS.get(offset["kind"], offset["kind"]), CELL),
            _para(offset["region"], CELL),
            _para(str(offset["vintage"]), CELL),
            _para(_tonnes(offset["quantity_kg"], unit=False), CELL_RIGHT),
            _para(_percent(offset["share_bp"]), CELL_RIGHT),
            _para("是 / Yes" if offset["cross_regional"] else "", CELL),
        ]
        for offset in certificate["offsets"]
    ]
    table = Table([header, *rows], colWidths=OFFSET_COLUMNS, repeatRows=1)
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    region = certificate["facility"]["region"]
    share = _percent(_share_bp(certificate["cross_regional_kg"], certificate["covered_kg"]))
    return [
        _para("抵消明细 / Offsets retired for this certificate", SECTION),
        table,
        Spacer(1, 3 * mm),
        _para(f"{share} 的抵消量来自本工厂所在地区（{region}）以外的地区，已在上表逐行披露。", BODY),
        _para(f"{share} of the offsets come from regions other than the facility's ({region}), "
              "disclosed line by line above.", BODY),
    ]


def _serial(serial: str) -> Paragraph:
    """A serial is too long for its column: break it before the unit range, where a reader expects it.
    Any other long serial is split wherever it must be (the style's splitLongWords)."""
    parts = serial.rsplit(":", 2)
    if len(parts) != 3:
        return _para(serial, SERIAL)
    prefix, units, check = parts
    return Paragraph(f"{_markup(prefix)}:<br/>{_markup(units)}:{_markup(check)}", SERIAL)


def _verification(certificate: dict[str, Any]) -> list[Flowable]:
    inventory = certificate["inventory"]
    version = inventory["version"]
    return [
        _para("核查 / Verification", SECTION),
        _key_values([
            ("核查机构 / Verifier", inventory["verifier"]["name"]),
            ("核查日期 / Verified on", inventory["verified_on"]),
            ("排放清单 / Inventory", f"{inventory['id']}, 第 {version} 版 / version {version}"),
        ]),
        _key_values([("清单声明 SHA-256 / Inventory statement SHA-256", inventory["statement_sha256"])], HASH),
    ]


def _key_values(rows: list[tuple[str, str]], value_style: ParagraphStyle = BODY) -> Table:
    table = Table([[_para(label, BODY_BOLD), _para(value, value_style)] for label, value in rows],
                  colWidths=[LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, -1), 0)]))
    return table


def _tonnes(kg: int, unit: bool = True) -> str:
    """Integer kg as tonnes with exactly three decimals: 1823890 → "1,823.890 t"."""
    whole, rest = divmod(abs(kg), 1000)
    return f"{'-' if kg < 0 else ''}{whole:,}.{rest:03d}" + (" t" if unit else "")


def _percent(bp: int) -> str:
    """Basis points as a percentage with two decimals: 850 → "8.50 %"."""
    whole, rest = divmod(bp, 100)
    return f"{whole}.{rest:02d} %"


def _share_bp(part_kg: int, whole_kg: int) -> int:
    """`part_kg` as basis points of `whole_kg`, rounded half up."""
    return (part_kg * 20_000 + whole_kg) // (2 * whole_kg) if whole_kg else 0


def _needs_cjk_font(char: str) -> bool:
    try:
        char.encode("cp1252")  # what Helvetica can show: reportlab sets it in WinAnsiEncoding
    except UnicodeEncodeError:
        return True
    return False


def _runs(text: str) -> list[tuple[str, str]]:
    """`text` cut into (run, font name) pieces: Helvetica where it can, STSong-Light for the rest."""
    return [("".join(chars), CJK_FONT if cjk else "") for cjk, chars in itertools.groupby(text, _needs_cjk_font)]


def _markup(text: str) -> str:
    return "".join(f'<font name="{font}">{escape(run)}</font>' if font else escape(run) for run, font in _runs(text))


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_markup(text), style)


class _NumberedCanvas(Canvas):
    """Holds every page back until the document ends, so each footer can say "page n of m"."""

    def __init__(self, *args: Any, certificate_number: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._certificate_number = certificate_number
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self._footer(number, len(self._pages))
            super().showPage()
        super().save()

    def _footer(self, page: int, pages: int) -> None:
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(MARGIN, MARGIN + 11 * mm, PAGE_WIDTH - MARGIN, MARGIN + 11 * mm)
        self.setFillColor(colors.black)
        self._draw(MARGIN, MARGIN + 6 * mm, self._certificate_number)
        page_text = f"第 {page} 页，共 {pages} 页 / page {page} of {pages}"
        self._draw(PAGE_WIDTH - MARGIN - self._width(page_text), MARGIN + 6 * mm, page_text)
        self._draw(MARGIN, MARGIN + 1.5 * mm, OFFLINE_VERIFICATION)

    def _draw(self, x: float, y: float, text: str, size: float = 8) -> None:
        for run, font in _runs(text):
            self.setFont(font or "Helvetica", size)
            self.drawString(x, y, run)
            x += pdfmetrics.stringWidth(run, font or "Helvetica", size)

    @staticmethod
    def _width(text: str, size: float = 8) -> float:
        return sum(pdfmetrics.stringWidth(run, font or "Helvetica", size) for run, font in _runs(text))
