"""The pure reading/checking layer of the visit import: encodings, headers, mapping, row reasons."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from caredesk.intake.visit_file import (
    STANDARD_HEADERS,
    FileLayoutError,
    RejectedRow,
    RejectsWriter,
    VisitRow,
    _parse_datetime,
    check_id_number,
    parse_datetime,
    read_visit_file,
    rejects_path_for,
)

SH = ZoneInfo("Asia/Shanghai")
GOOD_ID = "11010519491231002X"  # a valid check digit (GB 11643 example)


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def row(**kw: str) -> list[str]:
    base = {h: "" for h in STANDARD_HEADERS}
    base.update({"就诊类型(门诊/住院)": "门诊", "姓名": "张三", "就诊时间": "2026-03-01 09:30"})
    for k, v in kw.items():
        base[k] = v
    return [base[h] for h in STANDARD_HEADERS]


HIS_ROWS = [
    STANDARD_HEADERS,
    row(流水号="S1", 门诊号="M1", 性别="男", 身份证号=GOOD_ID, 手机号="13800138000", 初复诊="初诊"),  # 2 ok
    row(流水号="S2", 身份证号="110105194912310021"),  # 3 bad check digit
    row(流水号="S3", 就诊时间="2026-02-30 08:00"),  # 4 impossible date
    row(**{"流水号": "S4", "就诊类型(门诊/住院)": "急救室"}),  # 5 unknown visit type
    row(**{"流水号": "S5", "就诊类型(门诊/住院)": "住院", "住院号": "Z5", "入院时间": "2026-03-05",
           "出院时间": "2026-03-01", "就诊时间": ""}),  # 6 discharge before admission
    row(**{"流水号": "S6", "就诊类型(门诊/住院)": "住院", "入院时间": "2026-03-05", "就诊时间": ""}),  # 7 no 住院号
    row(流水号="S7", 姓名=""),  # 8 missing name
    row(**{"流水号": "S8", "就诊类型(门诊/住院)": "住院", "住院号": "Z8", "入院时间": "2026-03-02 10:00",
           "出院时间": "2026-03-09 11:00", "转归": "死亡", "就诊时间": ""}),  # 9 ok
    row(流水号="S1", 门诊号="M1"),  # 10 same 流水号 as line 2
]

EXPECTED_REJECTS = [
    (3, [("身份证号", "身份证号校验位错误")]),
    (4, [("就诊时间", "日期不存在")]),
    (5, [("就诊类型(门诊/住院)", "就诊类型无法识别（应为门诊或住院）")]),
    (6, [("出院时间", "出院时间早于入院时间")]),
    (7, [("住院号", "住院记录缺少住院号")]),
    (8, [("姓名", "缺少姓名")]),
    (10, [("流水号", "与第 2 行是同一条就诊记录（重复）")]),
]


def split(path: Path, **kw: object) -> tuple[list[VisitRow], list[RejectedRow], str]:
    vf = read_visit_file(path, **kw)  # type: ignore[arg-type]
    rows = list(vf.rows)
    return [r for r in rows if isinstance(r, VisitRow)], [r for r in rows if isinstance(r, RejectedRow)], vf.encoding


def test_a_gbk_file_with_chinese_headers_gives_typed_rows_and_exact_rejects(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "his.csv", HIS_ROWS, "gbk")
    good, bad, encoding = split(path)
    assert encoding == "gb18030"
    assert [r.line for r in good] == [2, 9]
    assert [(r.line, r.errors) for r in bad] == EXPECTED_REJECTS
    first, stay = good
    assert (first.source_id, first.kind, first.sex, first.visit_type, first.birth_date) == ("S1", "outpatient", "M", "first", None)
    assert first.visit_at == datetime(2026, 3, 1, 9, 30, tzinfo=SH)
    assert (stay.kind, stay.outcome, stay.inpatient_no) == ("inpatient", "died", "Z8")
    assert stay.discharged_at == datetime(2026, 3, 9, 11, 0, tzinfo=SH)


def test_every_column_lands_in_its_own_field(tmp_path: Path) -> None:
    """A row with a distinct value in every column (``parse_row`` builds the row positionally)."""
    filled = row(**{
        "流水号": "S9", "就诊类型(门诊/住院)": "住院", "门诊号": "M9", "住院号": "Z9", "姓名": "李四",
        "性别": "女", "出生日期": "1949-12-31", "身份证号": GOOD_ID, "手机号": "13900139000",
        "地址": "某区某路1号", "就诊时间": "2026-03-01 08:00", "入院时间": "2026-03-02 10:00",
        "出院时间": "2026-03-09 11:00", "科室": "心内科", "医生": "王医生", "诊断": "高血压",
        "初复诊": "复诊", "转归": "好转", "来源渠道": "网络",
    })
    (got,), bad, _encoding = split(write_csv(tmp_path / "one.csv", [STANDARD_HEADERS, filled], "utf-8"))
    assert bad == []
    assert got == VisitRow(
        line=2, source_id="S9", kind="inpatient", name="李四", serial_no="S9", outpatient_no="M9", inpatient_no="Z9", sex="F",
        birth_date=date(1949, 12, 31), id_number=GOOD_ID, mobile="13900139000", address="某区某路1号",
        visit_at=datetime(2026, 3, 1, 8, 0, tzinfo=SH), admitted_at=datetime(2026, 3, 2, 10, 0, tzinfo=SH),
        discharged_at=datetime(2026, 3, 9, 11, 0, tzinfo=SH), department="心内科", doctor="王医生", diagnosis="高血压",
        visit_type="return", outcome="improved", source_channel="网络")


def test_mobiles_are_cleaned_of_separators_width_and_country_code(tmp_path: Path) -> None:
    mobiles = ["13800138000", "138-0013-8000", "138 0013 8000", "１３８００１３８０００", "+86 13800138000", "",
               "1380013800", "2380013800０"]
    rows = [STANDARD_HEADERS] + [row(流水号=f"S{i}", 手机号=m) for i, m in enumerate(mobiles)]
    good, bad, _encoding = split(write_csv(tmp_path / "m.csv", rows, "utf-8"))
    assert [r.mobile for r in good] == ["13800138000"] * 5 + [""]
    assert [(r.line, r.errors) for r in bad] == [(line, [("手机号", "手机号格式错误（应为11位手机号）")]) for line in (8, 9)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_utf8_with_or_without_bom_and_gb18030_are_detected(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "f.csv", [STANDARD_HEADERS, row(流水号="A1", 地址="北京市𠀀路")], encoding)
    good, bad, detected = split(path)
    assert detected == ("gb18030" if encoding == "gb18030" else "utf-8-sig")
    assert not bad and good[0].address == "北京市𠀀路"


def test_english_aliases_and_the_short_visit_type_header_are_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "en.csv", [["serial_no", "visit_type", "name", "visit_at", "mobile"],
                                           ["E1", "outpatient", "Li Si", "2026/03/04", "139 0013 9000"]], "utf-8")
    good, bad, _enc = split(path)
    assert not bad and good[0].mobile == "13900139000" and good[0].visit_at == datetime(2026, 3, 4, tzinfo=SH)
    rows = [["流水号", "就诊类型", "姓名", "就诊时间"], ["X", "门诊", "王五", "20260304"]]
    path2 = write_csv(tmp_path / "short.csv", rows, "gbk")
    good2, bad2, _e = split(path2)
    assert not bad2 and good2[0].kind == "outpatient"


def test_a_column_mapping_reads_another_layout(tmp_path: Path) -> None:
    rows = [["就诊流水", "类别", "病人姓名", "挂号时间"], ["Q1", "门诊", "赵六", "2026-03-04 08:00"]]
    path = write_csv(tmp_path / "other.csv", rows, "gbk")
    with pytest.raises(FileLayoutError, match="姓名"):
        read_visit_file(path)
    mapping = {"流水号": "就诊流水", "就诊类型(门诊/住院)": "类别", "姓名": "病人姓名", "visit_at": "挂号时间"}
    good, bad, _e = split(path, mapping=mapping)
    assert not bad and (good[0].source_id, good[0].name) == ("Q1", "赵六")


def test_without_serial_number_the_key_is_record_number_and_time(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "n.csv", [["门诊号", "就诊类型", "姓名", "就诊时间"], ["M9", "门诊", "甲", "2026-03-04 08:00"],
                                          ["M9", "门诊", "甲", "2026-03-05 08:00"], ["", "门诊", "乙", "2026-03-05 08:00"]], "gbk")
    good, bad, _e = split(path)
    assert [g.source_id for g in good] == ["outpatient:M9:20260304080000", "outpatient:M9:20260305080000"]
    assert [(b.line, b.errors[0][1]) for b in bad] == [(4, "缺少流水号，也没有门诊号可以确定就诊记录")]


def test_an_xlsx_sheet_is_read_with_real_dates(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["流水号", "就诊类型(门诊/住院)", "姓名", "出生日期", "就诊时间", "身份证号"])
    ws.append(["X1", "门诊", "钱七", datetime(1980, 5, 6), datetime(2026, 3, 1, 8, 15), GOOD_ID])  # noqa: DTZ001 - Excel has no zones
    ws.append([12345, "门诊", "孙八", "1980-13-01", "2026-03-01", None])
    wb.save(tmp_path / "v.xlsx")
    good, bad, enc = split(tmp_path / "v.xlsx")
    assert enc == "xlsx"
    assert good[0].birth_date == date(1980, 5, 6) and good[0].visit_at == datetime(2026, 3, 1, 8, 15, tzinfo=SH)
    assert [(b.line, b.errors) for b in bad] == [(3, [("出生日期", "日期不存在")])]


def test_identity_numbers_are_checked_for_length_date_and_check_digit() -> None:
    assert check_id_number(GOOD_ID.lower()) == GOOD_ID
    for bad, reason in [("1101051949123100", "18位"), ("110105194902300020", "出生日期"), ("110105194912310021", "校验位")]:
        with pytest.raises(ValueError, match=reason):
            check_id_number(bad)


def test_the_rejects_file_keeps_the_columns_and_opens_in_excel(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "his.csv", HIS_ROWS, "gbk")
    vf = read_visit_file(path)
    writer = RejectsWriter(rejects_path_for(path), vf.header)
    for r in vf.rows:
        if isinstance(r, RejectedRow):
            writer.write(r)
    writer.close()
    raw = (tmp_path / "his.rejects.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert lines[0] == [*STANDARD_HEADERS, "行号", "列", "原因"]
    assert [(x[-3], x[-2], x[-1]) for x in lines[1:]] == [(str(n), e[0][0], e[0][1]) for n, e in EXPECTED_REJECTS]
    assert lines[1][STANDARD_HEADERS.index("流水号")] == "S2"


def test_a_birth_date_is_read_once_per_text_and_a_bad_one_rejected_on_every_row(tmp_path: Path) -> None:
    """Birth dates are parsed through a cache (a patient's rows repeat theirs); a failure is not
    cached, so every row with the impossible date is rejected, on its own line."""
    rows = [STANDARD_HEADERS, *(row(流水号=f"B{i}", 门诊号=f"M{i}", 出生日期="1980-02-30") for i in range(2)),
            *(row(流水号=f"G{i}", 门诊号=f"N{i}", 出生日期="1980-02-29 00:00") for i in range(2))]
    good, bad, _enc = split(write_csv(tmp_path / "b.csv", rows, "gbk"))
    assert [(b.line, b.errors) for b in bad] == [(2, [("出生日期", "日期不存在")]), (3, [("出生日期", "日期不存在")])]
    assert [g.birth_date for g in good] == [date(1980, 2, 29)] * 2


def test_short_rows_long_rows_and_blank_cells(tmp_path: Path) -> None:
    """A row shorter than the header has empty cells where it stops; cells past the header are
    ignored (and kept in the rejects file); cells of spaces are empty; a row of spaces is skipped."""
    full = row(流水号="L1", 科室=" 心内科 ", 来源渠道="网络")
    short = row(流水号="L2")[: STANDARD_HEADERS.index("就诊时间") + 1]
    longer = [*row(流水号="L3", 诊断="高血压"), "多余", "列"]
    spaces = row(流水号="L4", 医生="   ", 性别=" ")
    broken_short = row(流水号="L5", 姓名="")[:6]
    rows = [STANDARD_HEADERS, full, short, longer, [" "] * 5, spaces, broken_short]
    good, bad, _enc = split(write_csv(tmp_path / "s.csv", rows, "utf-8"))
    assert [(g.line, g.source_id, g.department, g.source_channel, g.diagnosis, g.doctor, g.sex) for g in good] == [
        (2, "L1", "心内科", "网络", "", "", ""), (3, "L2", "", "", "", "", ""), (4, "L3", "", "", "高血压", "", ""),
        (6, "L4", "", "", "", "", "")]
    assert [(b.line, b.values, b.errors) for b in bad] == [
        (7, broken_short, [("姓名", "缺少姓名"), ("就诊时间", "门诊记录缺少就诊时间")])]


_DIGITS = st.sampled_from("0123456789０１٣")  # ASCII digits, full-width ones, another script's


@st.composite
def _datetime_texts(draw: st.DrawFn) -> str:
    """Texts of the shapes ``parse_datetime`` reads fast (and near misses): numbers in or out of
    range, each digit now and then from another script, any of a few separators."""
    def number(width: int, low: int, high: int) -> str:
        text = str(draw(st.integers(low, high))).zfill(width)
        if draw(st.integers(0, 9)) == 0:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + draw(_DIGITS) + text[at + 1:]
        return text

    sep = st.sampled_from("-/:. T_+")
    text = (number(4, 0, 9999) + draw(st.sampled_from("-/-")) + number(2, 0, 13) + draw(st.sampled_from("-/-"))
            + number(2, 0, 32) + draw(st.sampled_from(" T- ")) + number(2, 0, 25) + draw(st.sampled_from("::.")) + number(2, 0, 61))
    if draw(st.booleans()):
        text += draw(sep) + number(2, 0, 61)
    return text


@hsettings(max_examples=2000, deadline=None)
@given(st.one_of(_datetime_texts(), st.text(st.sampled_from("0123456789-: T/０"), min_size=15, max_size=20)))
def test_the_fast_datetime_reading_agrees_with_the_expression(text: str) -> None:
    """The C parsers' fast path gives what the regular expression gives, value or reason."""
    def outcome(read: object, text: str) -> object:
        try:
            value = read(text, SH)  # type: ignore[operator]
        except ValueError as exc:
            return str(exc)
        return value, value.tzinfo

    assert outcome(parse_datetime, text) == outcome(_parse_datetime, text.strip())  # (the expression takes stripped texts)
