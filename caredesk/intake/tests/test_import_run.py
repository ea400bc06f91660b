"""The import run around the archive: batches, counts, rejects file and records, audit, command, upload page.
The archive itself is replaced by an in-memory applier here (the archive's own tests are in
test_import_archive.py)."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from caredesk.core.models import AuditEvent
from caredesk.intake import actions
from caredesk.intake.models import ColumnMapping, ImportReject, ImportRun
from caredesk.intake.tests.test_visit_file import EXPECTED_REJECTS, HIS_ROWS, write_csv
from caredesk.intake.visit_file import VisitRow


class MemoryArchive:
    def __init__(self) -> None:
        self.store: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[int] = []

    def __call__(self, rows: list[VisitRow], *, source_system: str, acting_user: Any) -> list[str]:
        self.calls.append(len(rows))
        out = []
        for r in rows:
            key, value = (source_system, r.source_id), {k: v for k, v in dataclasses.asdict(r).items() if k != "line"}
            old = self.store.get(key)
            out.append("created" if old is None else "unchanged" if old == value else "updated")
            self.store[key] = value
        return out


@pytest.fixture
def archive(monkeypatch: pytest.MonkeyPatch) -> MemoryArchive:
    mem = MemoryArchive()
    monkeypatch.setattr(actions, "default_applier", lambda: mem)
    return mem


def run_command(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_visits", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_the_command_prints_counts_writes_rejects_and_a_rerun_changes_nothing(db: Any, tmp_path: Path, archive: MemoryArchive) -> None:
    path = write_csv(tmp_path / "his.csv", HIS_ROWS, "gbk")
    assert run_command(str(path)) == "imported=2 updated=0 unchanged=0 rejected=7"
    run = ImportRun.objects.get()
    assert (run.status, run.encoding, run.total_rows) == ("done", "gb18030", 9)
    assert [(r.line, r.column, r.reason) for r in ImportReject.objects.filter(run=run)] == [
        (n, e[0][0], e[0][1]) for n, e in EXPECTED_REJECTS]
    rejects = list(csv.reader((tmp_path / "his.rejects.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [x[-3] for x in rejects[1:]] == [str(n) for n, _e in EXPECTED_REJECTS]
    assert run_command(str(path)) == "imported=0 updated=0 unchanged=2 rejected=7"
    events = AuditEvent.objects.filter(verb="intake.import_visits").order_by("id")
    assert events.count() == 2 and events.last().details["unchanged"] == 2  # type: ignore[union-attr]
    assert AuditEvent.objects.count() == 2  # one per run, never one per row


def test_small_and_big_batches_give_the_same_result(db: Any, tmp_path: Path, archive: MemoryArchive) -> None:
    path = write_csv(tmp_path / "his.csv", HIS_ROWS, "gbk")
    one = actions.import_visits(path, batch_size=1)
    assert archive.calls == [1, 1]
    other = MemoryArchive()
    many = actions.import_visits(path, batch_size=5000, applier=other)
    assert other.calls == [2]
    assert (one.imported, one.rejected) == (many.imported, many.rejected) == (2, 7)
    assert other.store == archive.store


@pytest.mark.django_db(transaction=True)
def test_batches_commit_together_every_commit_rows_rows(tmp_path: Path) -> None:
    """Batches of 2 rows, a commit every 4 rows: the commits come after rows 4, 8 and at the end
    (on_commit callbacks run when the outermost transaction really commits)."""
    from django.db import transaction

    from caredesk.intake.tests.test_import_staged import random_rows

    mem = MemoryArchive()
    seen: list[int] = []
    commits: list[int] = []

    def applier(rows: list[VisitRow], **kw: Any) -> list[str]:
        seen.extend(r.line for r in rows)
        transaction.on_commit(lambda: commits.append(len(seen)))
        return mem(rows, **kw)

    run = actions.import_visits(write_csv(tmp_path / "v.csv", random_rows(10, 5), "gbk"), applier=applier, batch_size=2,
                                commit_rows=4)
    assert (run.imported, mem.calls) == (10, [2, 2, 2, 2, 2])
    assert commits == [4, 4, 8, 8, 10]  # each batch's callback runs at its group's commit


def test_a_batch_that_fails_is_retried_row_by_row_so_good_rows_still_go_in(db: Any, tmp_path: Path) -> None:
    mem = MemoryArchive()

    def flaky(rows: list[VisitRow], **kw: Any) -> list[str]:
        if any(r.source_id == "S8" for r in rows):
            raise RuntimeError("constraint")
        return mem(rows, **kw)

    run = actions.import_visits(write_csv(tmp_path / "his.csv", HIS_ROWS, "gbk"), applier=flaky)
    assert (run.imported, run.rejected) == (1, 8)
    assert ImportReject.objects.filter(run=run, line=9).get().reason.startswith("保存失败")


def test_a_file_without_the_required_columns_fails_with_a_chinese_reason(db: Any, tmp_path: Path, archive: MemoryArchive) -> None:
    path = write_csv(tmp_path / "x.csv", [["a", "b"], ["1", "2"]], "utf-8")
    with pytest.raises(CommandError, match="缺少必需的列：就诊类型"):
        run_command(str(path))
    assert ImportRun.objects.get().status == "failed"


def test_a_mapping_saved_by_the_command_reads_another_layout(db: Any, tmp_path: Path, archive: MemoryArchive) -> None:
    path = write_csv(tmp_path / "o.csv", [["就诊流水", "类别", "病人姓名", "挂号时间"], ["Q1", "门诊", "赵六", "2026-03-04 08:00"]], "gbk")
    run_command("--save-mapping", "某院门诊日志", "--map", "流水号=就诊流水", "--map", "就诊类型=类别", "--map", "姓名=病人姓名",
                "--map", "就诊时间=挂号时间")
    assert ColumnMapping.objects.get().columns["姓名"] == "病人姓名"
    assert run_command(str(path), "--mapping", "某院门诊日志", "--source-system", "HIS2") == "imported=1 updated=0 unchanged=0 rejected=0"
    assert ("HIS2", "Q1") in archive.store
    assert not (tmp_path / "o.rejects.csv").exists()


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT  # type: ignore[no-any-return]


def test_the_intake_home_lists_recent_runs_for_importers(client: Any, login: Any, supervisor: Any, agent: Any,
                                                          archive: MemoryArchive, tmp_path: Path,
                                                          django_assert_max_num_queries: Any) -> None:
    for i in range(3):
        actions.import_visits(write_csv(tmp_path / f"f{i}.csv", HIS_ROWS, "gbk"), acting_user=supervisor)
    login(supervisor)
    with django_assert_max_num_queries(12):
        body = client.get(reverse("intake:home")).content.decode()
    assert body.count("f1.csv") == 1 and reverse("intake:import") in body
    login(agent)
    body = client.get(reverse("intake:home")).content.decode()
    assert "f1.csv" not in body
    assert client.get(reverse("intake:import")).status_code == 403


def test_anonymous_users_are_sent_to_login(client: Any, db: Any) -> None:
    for name in ("intake:home", "intake:import", "intake:mapping_new"):
        assert client.get(reverse(name)).status_code == 302


def test_uploading_a_file_shows_the_counts_and_every_reject(client: Any, login: Any, admin_user: Any, media: Path,
                                                             archive: MemoryArchive, tmp_path: Path) -> None:
    login(admin_user)
    path = write_csv(tmp_path / "门诊日志.csv", HIS_ROWS, "gbk")
    with path.open("rb") as fh:
        resp = client.post(reverse("intake:import"), {"file": fh, "source_system": "HIS"})
    run = ImportRun.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("intake:import_run", args=[run.pk])
    body = client.get(resp["Location"]).content.decode()
    assert "imported=2 updated=0 unchanged=0 rejected=7" in body
    for line, errors in EXPECTED_REJECTS:
        assert f"<td>{line}</td><td>{errors[0][0]}</td><td>{errors[0][1]}</td>" in body
    assert run.file_name == "门诊日志.csv" and Path(run.rejects_path).is_relative_to(media)
    download = client.get(reverse("intake:import_rejects_csv", args=[run.pk]))
    assert b"".join(download.streaming_content).startswith(b"\xef\xbb\xbf")
    assert AuditEvent.objects.get(verb="intake.import_visits").actor == admin_user


def test_a_wrong_file_type_is_refused_in_chinese(client: Any, login: Any, supervisor: Any, media: Path) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(supervisor)
    resp = client.post(reverse("intake:import"), {"file": SimpleUploadedFile("a.pdf", b"%PDF"), "source_system": "HIS"})
    assert "只支持 CSV 或 xlsx 文件。" in resp.content.decode()
    assert not ImportRun.objects.exists()


def test_the_mapping_page_saves_a_layout(client: Any, login: Any, supervisor: Any) -> None:
    login(supervisor)
    resp = client.post(reverse("intake:mapping_new"), {"name": "二院", "col_name": "病人姓名"})
    assert resp.status_code == 302
    assert ColumnMapping.objects.get(name="二院").columns == {"姓名": "病人姓名"}
    resp = client.post(reverse("intake:mapping_new"), {"name": "空"})
    assert "请至少填写一列的对应表头。" in resp.content.decode()


def test_sqlite_gets_a_larger_cache_and_fewer_checkpoints_only_while_importing(db: Any) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite connection settings")

    def pragmas() -> tuple[int, int]:
        with connection.cursor() as cur:
            cur.execute("PRAGMA cache_size")
            (cache,) = cur.fetchone()
            cur.execute("PRAGMA wal_autocheckpoint")
            (checkpoint,) = cur.fetchone()
        return cache, checkpoint

    before = pragmas()
    with actions._bulk_session():
        assert pragmas() == (-actions.SQLITE_IMPORT_CACHE_KIB, actions.SQLITE_IMPORT_CHECKPOINT_PAGES)
    assert pragmas() == before


@pytest.mark.django_db
def test_the_import_session_has_its_planner_settings_on_postgresql_and_gives_them_back() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL planner settings")

    def current() -> dict[str, str]:
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('random_page_cost'), current_setting('max_parallel_workers_per_gather')")
            return dict(zip(("random_page_cost", "max_parallel_workers_per_gather"), cur.fetchone(), strict=True))

    with connection.cursor() as cur:
        cur.execute("SET random_page_cost = 3.5")  # whatever the connection had is what comes back
        cur.execute("SET max_parallel_workers_per_gather = 3")
    with actions._bulk_session():
        assert current() == actions.POSTGRES_IMPORT_SETTINGS
    assert current() == {"random_page_cost": "3.5", "max_parallel_workers_per_gather": "3"}
