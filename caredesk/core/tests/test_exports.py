import io
import zoneinfo
from datetime import date, datetime

import pypdf
from openpyxl import load_workbook

from caredesk.core import exports
from caredesk.core.exports import (
    BarChart,
    Column,
    Heading,
    Para,
    PdfReport,
    PieChart,
    Sheet,
    Table,
)

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _workbook(*sheets):
    return load_workbook(io.BytesIO(exports.xlsx_bytes(sheets)))


def test_xlsx_has_a_bold_frozen_header_and_the_rows_in_order():
    wb = _workbook(Sheet("投诉统计", ["科室", "投诉数"], [["外科", 3], ["内科", 1]]))
    ws = wb["投诉统计"]
    assert [c.value for c in ws[1]] == ["科室", "投诉数"]
    assert ws["A1"].font.bold
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:B1"
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2)] == [["外科", 3], ["内科", 1]]


def test_xlsx_column_width_counts_chinese_characters_twice():
    wb = _workbook(Sheet("s", ["名称", Column("固定", width=30)], [["心血管内科门诊部", "x"], ["a", "y"]]))
    ws = wb["s"]
    assert ws.column_dimensions["A"].width == 16 + 2  # eight wide characters plus padding
    assert ws.column_dimensions["B"].width == 30


def test_display_width_of_mixed_text():
    assert exports.display_width("ab中文") == 6
    assert exports.display_width("中\nabcdef") == 6
    assert exports.display_width(None) == 0


def test_xlsx_never_turns_text_into_a_formula():
    wb = _workbook(Sheet("s", ["内容"], [["=HYPERLINK(\"http://x\",\"点我\")"], ["+1"]]))
    ws = wb["s"]
    assert ws["A2"].data_type == "s"
    assert ws["A2"].value == "=HYPERLINK(\"http://x\",\"点我\")"
    assert ws["A3"].value == "+1"


def test_xlsx_writes_aware_datetimes_as_local_time_and_drops_control_characters():
    at = datetime(2026, 9, 30, 8, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    wb = _workbook(Sheet("s", ["时间", "日期", "备注"], [[at, date(2026, 10, 8), "a\x00b\x07c"]]))
    ws = wb["s"]
    assert ws["A2"].value == datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI).replace(tzinfo=None)
    assert ws["A2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["B2"].value.date() == date(2026, 10, 8)
    assert ws["C2"].value == "abc"


def test_xlsx_writes_several_sheets_and_cleans_their_titles():
    wb = _workbook(Sheet("一/二", ["a"], []), Sheet("x" * 40, ["b"], [[1]]))
    assert wb.sheetnames == ["一 二", "x" * 31]


def test_xlsx_streams_a_generator_of_many_rows():
    rows = ([i, f"第{i}行"] for i in range(20_000))
    wb = _workbook(Sheet("大表", ["序号", "内容"], rows))
    ws = wb["大表"]
    assert ws.max_row == 20_001
    assert ws.cell(row=20_001, column=2).value == "第19999行"


def test_xlsx_response_is_a_download_with_a_chinese_file_name():
    response = exports.xlsx_response("投诉简报2026-10", [Sheet("s", ["a"], [[1]])])
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"]
    assert "filename*=utf-8''" in response["Content-Disposition"]
    assert ".xlsx" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert load_workbook(io.BytesIO(body))["s"]["A2"].value == 1


def _report():
    return PdfReport(
        title="投诉统计简报",
        subtitle="2026年10月 · 全院",
        blocks=[
            Heading("按科室统计"),
            Para("本月共受理投诉 12 件，按时办结率 91.7%。"),
            Table(["科室", "投诉数", "占比"], [["外科", 7, "58.3%"], ["内科", 5, 41.7]]),
            BarChart("各科室投诉数", ["外科", "内科"], {"投诉": [7, 5], "表扬": [2, 9]}),
            PieChart("投诉类别", ["服务态度", "医疗质量"], [8, 4]),
            PieChart("空的图", ["无"], [0]),
            Heading("附表", level=2),
            Table(["编号"], [[f"TS{i:05d}"] for i in range(80)]),
        ],
    )


def test_pdf_contains_the_chinese_text_of_headings_paragraphs_and_tables():
    reader = pypdf.PdfReader(io.BytesIO(exports.build_pdf(_report())))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in ["投诉统计简报", "2026年10月", "按科室统计", "本月共受理投诉", "外科", "58.3%", "41.7", "TS00079"]:
        assert expected in text
    assert len(reader.pages) >= 2  # the long table breaks onto a second page, header repeated
    assert "编号" in reader.pages[-1].extract_text()


def test_pdf_uses_the_chinese_cid_font_when_no_font_file_is_set(settings):
    settings.PDF_FONT_FILE = ""
    reader = pypdf.PdfReader(io.BytesIO(exports.build_pdf(_report())))
    fonts = {str(f.get_object()["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()}
    assert any("STSong-Light" in name for name in fonts)
    assert reader.metadata.title == "投诉统计简报"


def test_pdf_falls_back_to_the_cid_font_when_the_font_file_is_missing(settings, tmp_path):
    settings.PDF_FONT_FILE = str(tmp_path / "missing.ttf")
    assert exports.report_font() == exports.CID_FONT


def test_pdf_charts_draw_their_chinese_labels():
    reader = pypdf.PdfReader(io.BytesIO(exports.build_pdf(_report())))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "各科室投诉数" in text
    assert "服务态度" in text and "67%" in text  # pie legend with its share


def test_pdf_response_is_a_download():
    response = exports.pdf_response("简报", PdfReport(title="t", blocks=[Para("正文")]))
    assert response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
