"""The certificate PDF, read back with pypdf: every figure a reader relies on is in its text, it spans
pages when the offsets are many, and it is the same bytes each time. No database: the renderer is a
pure function of the certificate record."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from netzero.pdf import certificate_pdf

NUMBER = "CIR-NZ-2026-000001"
FACILITY_NAME = "Guangzhou Yuexiu <script>& Ready-Mix Concrete Plant"
PUBLIC_URL = "https://registry.example.cn/netzero/certificates/CIR-NZ-2026-000001"
STATEMENT_SHA256 = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f"
OFFSET_LINES = 40


def sample_certificate() -> dict[str, Any]:
    """A facility in CN-GD covered by 40 retirements: 25 reductions from CN-JS (cross-regional) and
    15 removals from CN-GD, adding up to the residual 1,823,890 kg."""
    reductions = [40_000] * 25  # 1,000,000 kg
    removals = [54_926] * 15  # 823,890 kg
    offsets = []
    for line, quantity_kg in enumerate(reductions + removals, start=1):
        reduction = line <= len(reductions)
        region = "CN-JS" if reduction else "CN-GD"
        methodology = "CIR-PV-DG" if reduction else "CIR-WET-SINK"
        offsets.append({
            "retirement": f"ret_{line:04d}",
            "serial": f"{region}:{methodology}:1.0:P{line:06d}:2025:I001:{1:09d}-{quantity_kg:09d}:{line % 10}",
            "project": {"id": f"prj_{line:04d}", "name": f"SIP household rooftops {line}" if reduction
                        else f"珠江口湿地 Pearl River wetland {line}"},
            "methodology": {"id": methodology, "version": "1.0"},
            "kind": "reduction" if reduction else "removal",
            "region": region,
            "vintage": 2025,
            "quantity_kg": quantity_kg,
            "cross_regional": reduction,
            "share_bp": quantity_kg * 10_000 // 1_823_890,
        })
    return {
        "id": "nzc_2Xk9sample",
        "number": NUMBER,
        "facility": {"id": "fac_0001", "name": FACILITY_NAME, "region": "CN-GD",
                     "address": "88 Huanshi East Road, Yuexiu District, Guangzhou", "industry": "Ready-mix concrete",
                     "boundary": "I"},
        "party": {"id": "pty_0001", "name": "Yuexiu Building Materials Co., Ltd."},
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
        "inventory": {"id": "inv_0001", "version": 1, "statement_sha256": STATEMENT_SHA256,
                      "verifier": {"id": "pty_0002", "name": "China Quality Certification Centre"},
                      "verified_on": "2026-02-10"},
        "emissions_kg": {"scope1": 1_000_000, "scope2_location": 900_000, "scope2_market": 823_890, "scope3": 0,
                         "total_location": 1_900_000, "total_market": 1_823_890, "residual": 1_823_890},
        "renewable_electricity_share_bp": 850,
        "covered_kg": 1_823_890, "reductions_kg": 1_000_000, "removals_kg": 823_890, "cross_regional_kg": 1_000_000,
        "offsets": offsets,
        "issued_on": "2026-03-01", "valid_from": "2026-03-01", "valid_until": "2027-02-28",
    }


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def words_of(reader: PdfReader) -> str:
    """The text with every run of white space made one space, for sentences that may wrap."""
    return " ".join(text_of(reader).split())


@pytest.fixture(scope="module")
def valid_pdf() -> bytes:
    return certificate_pdf(sample_certificate(), PUBLIC_URL, "valid")


def test_the_pdf_holds_every_figure_a_reader_checks(valid_pdf: bytes) -> None:
    reader = read(valid_pdf)
    text = text_of(reader)
    assert valid_pdf.startswith(b"%PDF")
    assert len(reader.pages) >= 2
    assert reader.metadata is not None and reader.metadata.title == f"Net-zero certificate {NUMBER}"
    assert NUMBER in text
    assert FACILITY_NAME in text  # escaped for Paragraph markup, printed as written
    assert "1,823.890 t" in text and "1,000.000 t" in text and "823.890 t" in text
    assert "8.50 %" in text
    assert "54.83 % of the offsets come from regions other than the facility's (CN-GD)" in text
    assert STATEMENT_SHA256 in text
    assert "China Quality Certification Centre" in text
    assert "2027-02-28" in text


def test_every_offset_line_is_printed_with_its_serial(valid_pdf: bytes) -> None:
    # The serial column breaks each serial before its unit range, so compare with line breaks removed.
    text = re.sub(r"\s", "", text_of(read(valid_pdf)))
    for offset in sample_certificate()["offsets"]:
        assert offset["serial"] in text


def test_every_page_has_the_footer(valid_pdf: bytes) -> None:
    reader = read(valid_pdf)
    pages = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"page {number} of {pages}" in text
        assert NUMBER in text
        assert "Verify offline: cir verify-proof <bundle> --key <registry log key>" in text


def test_the_offsets_table_repeats_its_header_on_the_next_page(valid_pdf: bytes) -> None:
    reader = read(valid_pdf)
    assert sum("Serial range" in page.extract_text() for page in reader.pages) >= 2


def test_chinese_text_extracts(valid_pdf: bytes) -> None:
    # pypdf decodes reportlab's STSong-Light (UniGB-UCS2-H encoding), so the Chinese is checked as text.
    text = text_of(read(valid_pdf))
    assert "零碳工厂碳中和证书" in text
    assert "扫码或访问以验证" in text
    assert "本工厂所在地区（CN-GD）以外的地区" in text
    assert "珠江口湿地" in text  # user text in Chinese gets the CJK font too


def test_the_qr_code_and_its_url_are_on_the_first_page(valid_pdf: bytes) -> None:
    # No QR decoder is installed, so the code itself is not read back: the page must carry the URL printed
    # beside it and the code's dark modules, which reportlab draws as filled rectangles.
    first = read(valid_pdf).pages[0]
    assert PUBLIC_URL in first.extract_text()
    assert "Scan or visit to verify" in first.extract_text()
    contents = first.get_contents()
    assert contents is not None
    assert contents.get_data().count(b" re") > 100


def test_the_same_certificate_gives_the_same_bytes(valid_pdf: bytes) -> None:
    assert certificate_pdf(sample_certificate(), PUBLIC_URL, "valid") == valid_pdf


def test_a_revoked_certificate_says_so_with_its_reason() -> None:
    reason = "Retirement ret_0007 was reversed by the registry <ruling 2026-04>"
    text = words_of(read(certificate_pdf(sample_certificate(), PUBLIC_URL, "revoked", reason)))
    assert f"REVOKED: {reason}" in text
    assert "This certificate does not currently attest net zero." in text


def test_a_valid_certificate_does_not_warn(valid_pdf: bytes) -> None:
    text = text_of(read(valid_pdf))
    assert "VALID" in text
    assert "does not currently attest" not in text


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        certificate_pdf(sample_certificate(), PUBLIC_URL, "pending")
