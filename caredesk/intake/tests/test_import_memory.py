"""Memory of the visit import is flat in the number of rows (issue 3: 1M rows under 500 MB).

Deterministic checks, no timing: the reader's state across rows is on disk, every in-process
container it keeps is bounded by the chunk size however many rows go through, and the caches the
import fills are bounded."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from caredesk.intake import visit_file
from caredesk.intake.visit_file import STANDARD_HEADERS, RejectedRow, SeenKeys, VisitRow, read_visit_file


def _write(path: Path, n: int, *, repeat_every: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(STANDARD_HEADERS)
        for i in range(n):
            serial = f"S{i - repeat_every + 1}" if repeat_every and i and i % repeat_every == 0 else f"S{i}"
            values = dict.fromkeys(STANDARD_HEADERS, "")
            values.update({"流水号": serial, "就诊类型(门诊/住院)": "门诊", "姓名": "张三", "就诊时间": "2026-03-01 09:30"})
            w.writerow([values[h] for h in STANDARD_HEADERS])
    return path


def _containers(frame_locals: dict[str, object]) -> dict[str, int]:
    return {k: len(v) for k, v in frame_locals.items() if isinstance(v, list | dict | set | tuple)}


@pytest.mark.parametrize("rows", [300, 3000])
def test_the_reader_keeps_no_per_row_state_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    monkeypatch.setattr(visit_file, "SEEN_CHUNK", 50)
    vf = read_visit_file(_write(tmp_path / "v.csv", rows))
    gen = vf.rows
    biggest = 0
    n = 0
    for n, _item in enumerate(gen, start=1):  # noqa: B007
        frame = gen.gi_frame  # type: ignore[attr-defined]
        if frame is not None:
            sizes = _containers(frame.f_locals)
            biggest = max(biggest, *sizes.values(), 0)
            seen = frame.f_locals["seen"]
            assert not [v for v in vars(seen).values() if isinstance(v, list | dict | set)]
    assert n == rows
    assert biggest <= 50 + 19  # one chunk (and a row's cells), whatever the number of rows


def test_repeats_are_found_across_chunks_with_the_first_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visit_file, "SEEN_CHUNK", 7)
    items = list(read_visit_file(_write(tmp_path / "v.csv", 100, repeat_every=10)).rows)
    rejects = [r for r in items if isinstance(r, RejectedRow)]
    # row i (line i + 2) repeats serial S{i-9}, first seen on line i - 7
    assert [(r.line, r.errors[0][1]) for r in rejects] == [
        (i + 2, f"与第 {i - 7} 行是同一条就诊记录（重复）") for i in range(10, 100, 10)]
    assert [r.line for r in items] == list(range(2, 102))
    assert sum(isinstance(r, VisitRow) for r in items) == 91


def test_seen_keys_live_on_disk_and_within_one_call() -> None:
    seen = SeenKeys()
    try:
        assert seen.first_lines([("a", 2), ("b", 3), ("a", 4)]) == [None, None, 2]
        assert seen.first_lines([("b", 5), ("c", 6)]) == [3, None]
        assert seen.count == 3
        assert sys.getsizeof(vars(seen)) < 1000 and not any(isinstance(v, dict | set | list) for v in vars(seen).values())
    finally:
        seen.close()


def test_the_caches_the_import_fills_are_bounded() -> None:
    from caredesk.intake.visit_apply import _id_facts
    from caredesk.patients.pinyin import name_to_pinyin

    for cached in (_id_facts, name_to_pinyin):
        maxsize = cached.cache_info().maxsize
        assert maxsize is not None and maxsize <= 65536
