"""Writes of the intake app. ``import_visits`` runs one visit file through the archive in batches."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caredesk.core import audit, forkpipe, gcpause
from caredesk.core.models import AuditEvent

from .models import ColumnMapping, ImportReject, ImportRun
from .visit_file import (
    FileLayoutError,
    RejectedRow,
    RejectsWriter,
    VisitRow,
    read_visit_file,
    rejects_path_for,
)

if TYPE_CHECKING:
    from .visit_stage import RunState  # the staged applier imports the patient archive, which may be absent

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
# Rows applied per transaction: several batches commit together. Each commit writes every index page
# the batches touched (SQLite: to the WAL, then again at the checkpoint), and the keys are random, so
# pages are shared by rows of many batches: committing every 20,000 rows instead of every 2,000 wrote
# ~7x fewer bytes at 100k rows (docs/benchmarks.md). A crash loses at most this many rows' work; a
# re-run applies them again without duplicating anything.
COMMIT_ROWS = 20000
# Files from this size on are read and checked in a child process (see ``import_visits``).
PARALLEL_MIN_BYTES = 4 << 20
# A first load (no patient in the archive yet) of a file at least this big builds the search
# indexes after its rows instead of row by row (``patients.bulkload``; see ``import_visits``).
DEFER_INDEXES_MIN_BYTES = 4 << 20
# SQLite page cache for the importing connection (default 2 MB): the indexes the import writes
# then stay in memory between batches of one transaction instead of being spilled and re-read.
# 128 MB: 1,000,000 rows took 166 s instead of 178 s with 64 MB, and the importer's peak RSS went
# from 354 MB to 416 MB (the limit is 500 MB; docs/benchmarks.md).
SQLITE_IMPORT_CACHE_KIB = 131072
# SQLite WAL pages between automatic checkpoints while importing (default 1,000 pages, 4 MB): a
# 20,000-row commit writes far more than that, so every commit was followed by a checkpoint that
# copied the same hot index pages into the database file again and synced it. 1,000,000 rows took
# 191.6 s instead of 204.0 s with 65,536 pages (≤ 256 MB of WAL until the next commit after it).
SQLITE_IMPORT_CHECKPOINT_PAGES = 65536
# PostgreSQL planner settings for the importing connection (restored after). Each batch looks its
# patients up with one ``= ANY(…)`` array of a few thousand keys per column. With the stock random
# page cost (4, a disk's) the planner priced those probes above a scan of the whole table while the
# archive was still small, and chose parallel sequential scans that grew with every batch: 30–90 ms
# instead of 7–15 ms per look-up (a sixth of the import's time at 300,000 rows, docs/benchmarks.md).
# The pages an import reads are the ones it just wrote, in memory, where a random read costs about
# what a sequential one does (1.1 is the usual value for SSDs). No parallel workers either: the
# import's reader and planning processes already keep both cores busy.
POSTGRES_IMPORT_SETTINGS = {"random_page_cost": "1.1", "max_parallel_workers_per_gather": "0"}
# With the file read in a child process, on PostgreSQL: follow-up and survey planning too, in a
# second child with its own connection, a committed transaction at a time (``hooks.PlanningProcess``).
PLAN_IN_CHILD = True
# niceness added for the reading and planning processes: their work is off the import's critical path
# (this process and the database server, which wait on each other), so they mostly yield a core they
# compete for with those two (the machine was idle 2.3-3.6 s less a million rows, docs/benchmarks.md)
CHILD_NICE = 10
# ... and, on Linux, the idle scheduling class for them (``forkpipe``: this process and the server
# take a core from them at once when they wake up). Niced only, this process and its server backend
# waited 12-14 s each for a core in a million rows; in the idle class 5-7 s (docs/benchmarks.md)
CHILD_IDLE = True
STATUSES = ("created", "updated", "unchanged")


class VisitApplier(Protocol):
    """Applies a batch of checked rows to the archive inside the caller's transaction and returns one
    status per row: "created" | "updated" | "unchanged" (same order as ``rows``)."""

    def __call__(self, rows: list[VisitRow], *, source_system: str, acting_user: Any) -> list[str]: ...


METHODS = ("staged", "batch")


def default_applier(method: str = "staged") -> VisitApplier:
    """``staged`` (default): the batch goes through a temporary table and set-based SQL (COPY on
    PostgreSQL), ``visit_stage``; ``batch``: the row-by-row reference path, ``visit_apply``. Both
    give the same archive (a test compares them)."""
    from django.apps import apps

    if not apps.is_installed("caredesk.patients"):
        raise ImportError("caredesk.patients is not installed")
    if method not in METHODS:
        raise ValueError(f"unknown import method {method!r}")
    if method == "batch":
        from .visit_apply import apply_visit_rows

        return apply_visit_rows
    from .visit_stage import apply_visit_rows_staged

    return apply_visit_rows_staged


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@transaction.atomic
def save_column_mapping(*, name: str, columns: dict[str, str], acting_user: Any) -> ColumnMapping:
    mapping, created = ColumnMapping.objects.update_or_create(name=name, defaults={"columns": columns})
    audit.record(actor=acting_user, verb="intake.mapping_saved", target=mapping, created=created)
    return mapping


@gcpause.fewer_collections()  # a sixth of the importer's CPU time went to the collector (docs/benchmarks.md)
def import_visits(
    path: Path | str,
    *,
    source_system: str = "HIS",
    mapping: ColumnMapping | None = None,
    acting_user: Any = None,
    file_name: str = "",
    rejects_path: Path | None = None,
    applier: VisitApplier | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[ImportRun], None] | None = None,
    method: str = "staged",
    commit_rows: int = COMMIT_ROWS,
    parallel: bool | None = None,
    defer_indexes: bool | None = None,
) -> ImportRun:
    """Import one visit file. Batches of ``batch_size`` rows are applied, and committed every
    ``commit_rows`` rows (a crash keeps what was committed; a re-run changes nothing for rows already
    in). A batch that fails as a whole is rolled back to its savepoint and retried row by row, so one
    bad row is rejected and the others still go in. Audit: one event for the run, with counts.
    ``progress``: called after each batch with the run and its counts so far (they are saved with
    each commit, where others can see them).

    ``parallel``: read and check the file in a forked child process while this one writes (the
    rows come over a pipe in file order, so the result is the same). None: when the file is at least
    ``PARALLEL_MIN_BYTES`` and a child can be forked here (``forkpipe.available``: not from a
    threaded web server or a daemonic worker); True: whenever a child can be forked.

    ``defer_indexes``: drop the indexes only searches use while the rows go in and build them once
    at the end (``patients.bulkload``; the archive's own applier only). None: for a first load,
    when the archive holds no patient yet and the file is at least ``DEFER_INDEXES_MIN_BYTES``.
    The statements that rebuild them are stored on the run first; a run that dies before it
    rebuilds them is repaired by the next import or ``migrate`` (``restore_deferred_indexes``)."""
    path = Path(path)
    source_system = (source_system or "HIS").strip()
    run = ImportRun.objects.create(
        file_name=file_name or path.name, file_sha256=file_sha256(path), source_system=source_system,
        mapping=mapping, started_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    log.info("import run %s started", run.pk)
    try:
        # the default path is asked for without an argument (tests replace default_applier with a factory)
        apply = applier or (default_applier() if method == "staged" else default_applier(method))
    except ImportError:
        return _finish(run, acting_user, error=_("患者档案模块尚未安装，无法导入。"))
    apply, look_ahead = _with_run_start(apply, source_system)
    try:
        vf = read_visit_file(path, source_system=source_system, mapping=mapping.columns if mapping else None)
    except (FileLayoutError, UnicodeDecodeError, OSError) as exc:
        return _finish(run, acting_user, error=str(exc) if isinstance(exc, FileLayoutError) else _("文件无法读取"))
    except Exception:  # openpyxl raises several types on a broken workbook
        log.exception("import run %s: file could not be opened", run.pk)
        return _finish(run, acting_user, error=_("文件无法读取（不是有效的 CSV 或 xlsx 文件）"))
    run.encoding = vf.encoding
    restore_deferred_indexes()  # of a run that died with them deferred
    run.rejects_path = str(rejects_path or rejects_path_for(path))
    writer = RejectsWriter(Path(run.rejects_path), vf.header)
    counts = dict.fromkeys(STATUSES, 0)
    rejected = 0
    unsaved: list[ImportReject] = []  # the commit group's rejects, saved with its counts

    def flush(batch: list[VisitRow], rejects: list[RejectedRow]) -> None:
        nonlocal rejected
        if batch:
            rejects = rejects + _apply_batch(apply, batch, source_system, acting_user, counts, run.pk)
        if rejects:
            rejects.sort(key=lambda r: r.line)
            for r in rejects:
                writer.write(r)
            unsaved.extend(ImportReject(run=run, line=r.line, column=c[:64], reason=why[:300]) for r in rejects for c, why in r.errors)
            rejected += len(rejects)
        run.imported, run.updated, run.unchanged, run.rejected = counts["created"], counts["updated"], counts["unchanged"], rejected
        run.total_rows = run.imported + run.updated + run.unchanged + run.rejected
        if progress:
            progress(run)

    def save_progress() -> None:
        """The run's counts and rejects so far, written in the commit group's transaction (others see
        them when it commits, not before: writing them per batch cost two round trips a batch)."""
        ImportReject.objects.bulk_create(unsaved)
        unsaved.clear()
        run.save(update_fields=["encoding", "rejects_path", "imported", "updated", "unchanged", "rejected", "total_rows"])

    items: Generator[VisitRow | RejectedRow, None, None] = vf.rows
    if parallel is None:
        parallel = path.stat().st_size >= PARALLEL_MIN_BYTES
    planning = None
    if parallel and forkpipe.available():
        if applier is None and _planning_in_child():
            planning = _start_planning()
        items = forkpipe.iterate_in_child(functools.partial(
            _read_and_prepare, path, source_system, mapping.columns if mapping else None, applier is None),
            pack=_pack_rows, unpack=_unpack_rows, nice=CHILD_NICE, idle=CHILD_IDLE)
    try:
        if applier is None and (defer_indexes or (defer_indexes is None and _first_load(path))):
            _defer_indexes(run)
        with _bulk_session(), closing(items):  # closing: a reader process stops with the import
            groups = _groups(items, batch_size)
            current: tuple[list[VisitRow], list[RejectedRow]] | None = next(groups)
            analysed_at = commit_rows  # rows applied when the planner statistics were last refreshed
            while current is not None:
                if applier is None and sum(counts.values()) >= 2 * analysed_at:
                    from .visit_stage import refresh_statistics

                    refresh_statistics()
                    analysed_at = sum(counts.values())
                with transaction.atomic():  # one commit per ``commit_rows`` rows
                    applied = 0
                    while current is not None and applied < commit_rows:
                        following = next(groups, None)  # read ahead: the applier prepares it meanwhile
                        if look_ahead is not None:
                            look_ahead.upcoming = following[0] if following is not None and following[0] else None
                        flush(*current)
                        applied += len(current[0])
                        current = following
                    save_progress()
                if planning is not None:  # committed: the child may plan it now
                    planning.committed()
    except Exception as exc:
        log.exception("import run %s failed", run.pk)
        writer.close()
        return _finish(run, acting_user, error=_("导入中断：%(err)s") % {"err": type(exc).__name__})
    finally:
        if planning is not None:
            _finish_planning(planning, run.pk)
        if run.deferred_indexes is not None:
            with _bulk_session():  # SQLite sorts the new indexes within its page cache: the larger one
                _restore_indexes(run)
    writer.close()
    if not rejected:
        Path(run.rejects_path).unlink(missing_ok=True)
        run.rejects_path = ""
    return _finish(run, acting_user)


def _groups(items: Iterator[VisitRow | RejectedRow], batch_size: int) -> Iterator[tuple[list[VisitRow], list[RejectedRow]]]:
    """The file's items as (good rows, rejected rows) groups of ``batch_size`` good rows (or as many
    rejects), in file order; at least one group, maybe empty."""
    batch: list[VisitRow] = []
    rejects: list[RejectedRow] = []
    for item in items:
        if isinstance(item, VisitRow):
            batch.append(item)
        else:
            rejects.append(item)
        if len(batch) >= batch_size or len(rejects) >= batch_size:
            yield batch, rejects
            batch, rejects = [], []
    yield batch, rejects


def _with_run_start(apply: VisitApplier, source_system: str) -> tuple[VisitApplier, RunState | None]:
    """The staged applier, told what the archive held when the run started (``visit_stage.RunState``):
    which patients this run creates (ids above the highest one now: it adds a batch's new encounters
    to their visit figures instead of recounting them) and whether any encounter of this source
    system could be found again. With it, the run state, through which the import hands the applier
    the next batch (``RunState.upcoming``); None for another applier."""
    from caredesk.patients.models import Encounter, Patient

    from .visit_stage import RunState, apply_visit_rows_staged

    if apply is not apply_visit_rows_staged:
        return apply, None
    last = Patient.objects.order_by("-id").values_list("id", flat=True).first() or 0
    before = Encounter.objects.filter(source_system=source_system).exists()
    state = RunState(created_after=last, encounters_before=before)
    return functools.partial(apply_visit_rows_staged, run=state), state


def _planning_in_child() -> bool:
    from caredesk.patients.hooks import PlanningProcess

    return PLAN_IN_CHILD and PlanningProcess.possible()


def _start_planning() -> Any:
    from caredesk.patients.hooks import PlanningProcess

    return PlanningProcess(nice=CHILD_NICE, idle=CHILD_IDLE)


def _finish_planning(planning: Any, run_id: int) -> None:
    try:
        planned = planning.finish()
    except Exception:  # the sweeps plan what was missed; the rows themselves are in
        log.exception("import run %s: planning in the child process failed", run_id)
    else:
        log.info("import run %s: %s encounters planned by the planning process", run_id, planned)


def _first_load(path: Path) -> bool:
    from caredesk.patients.models import Patient

    return path.stat().st_size >= DEFER_INDEXES_MIN_BYTES and not Patient.objects.exists()


def _defer_indexes(run: ImportRun) -> None:
    from caredesk.patients import bulkload

    run.deferred_indexes = bulkload.plan()
    run.save(update_fields=["deferred_indexes"])  # stored (committed) before anything is dropped
    bulkload.defer(run.deferred_indexes)


def _restore_indexes(run: ImportRun) -> None:
    from caredesk.patients import bulkload

    if run.deferred_indexes is None:
        return
    fresh = not connection.in_atomic_block  # nothing written before in this transaction (bulkload.restore)
    try:
        with transaction.atomic():
            bulkload.restore(run.deferred_indexes, parallel=fresh)
            run.deferred_indexes = None
            run.save(update_fields=["deferred_indexes"])
    except Exception:  # kept on the run: the next import or migrate tries again
        log.exception("import run %s: the deferred search indexes could not be rebuilt", run.pk)
    else:
        log.info("import run %s: search indexes rebuilt", run.pk)


def restore_deferred_indexes() -> int:
    """Rebuild the search indexes of every run that left them deferred (it died, or its rebuild
    failed); the number of runs repaired. Idempotent: an index that exists is left alone."""
    runs = list(ImportRun.objects.filter(deferred_indexes__isnull=False).order_by("id"))
    for run in runs:
        _restore_indexes(run)
    return len(runs)


def _read_and_prepare(path: Path, source_system: str, columns: dict[str, str] | None, prepare: bool
                      ) -> Iterator[VisitRow | RejectedRow]:
    """The file's rows as ``read_visit_file`` gives them, each good row with its ``Prepared``
    values when the archive's own applier will take them (runs in the child process)."""
    from .visit_apply import prepare as prepare_row

    for item in read_visit_file(path, source_system=source_system, mapping=columns).rows:
        if prepare and isinstance(item, VisitRow):
            item.prepared = prepare_row(item)
        yield item


# a good row travels from the reading process as a tuple: its fields, then its ``Prepared`` values
# or None (pickling the objects, two ``__reduce__`` calls a row, cost the reader a fifth of its time)
_FIELDS = len(VisitRow.__dataclass_fields__) - 1  # every field but ``prepared``
_row_fields = attrgetter(*list(VisitRow.__dataclass_fields__)[:_FIELDS])  # (one C call)


def _pack_rows(items: list[VisitRow | RejectedRow]) -> list[Any]:
    packed: list[Any] = []
    for item in items:
        if isinstance(item, VisitRow):
            p = item.prepared
            packed.append(_row_fields(item) + ((None,) if p is None else (p.values, p.id_number_bidx, p.mobile_bidx, p.pinyin)))
        else:
            packed.append(item)
    return packed


def _unpack_rows(packed: list[Any]) -> list[VisitRow | RejectedRow]:
    from .visit_apply import Prepared

    items: list[VisitRow | RejectedRow] = []
    for item in packed:
        if isinstance(item, tuple):
            row = VisitRow(*item[:_FIELDS])
            if item[_FIELDS] is not None:
                row.prepared = Prepared(*item[_FIELDS:])
            item = row
        items.append(item)
    return items


@contextmanager
def _bulk_session() -> Iterator[None]:
    """Connection settings for the import while it runs, restored after: on SQLite a larger page
    cache and fewer WAL checkpoints, on PostgreSQL the planner settings above."""
    if connection.vendor == "postgresql":
        with _postgres_settings(POSTGRES_IMPORT_SETTINGS):
            yield
        return
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        (before,) = cur.fetchone()
        cur.execute("PRAGMA wal_autocheckpoint")
        (checkpoint,) = cur.fetchone()
        cur.execute(f"PRAGMA cache_size = -{int(SQLITE_IMPORT_CACHE_KIB)}")
        cur.execute(f"PRAGMA wal_autocheckpoint = {int(SQLITE_IMPORT_CHECKPOINT_PAGES)}")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA cache_size = {int(before)}")
            cur.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")  # the next commit checkpoints


@contextmanager
def _postgres_settings(values: dict[str, str]) -> Iterator[None]:
    names = list(values)
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), names)
        before = cur.fetchone()
        cur.execute("SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(names)),
                    [v for name in names for v in (name, values[name])])
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(names)),
                        [v for name, value in zip(names, before, strict=True) for v in (name, value)])


def _apply_batch(apply: VisitApplier, batch: list[VisitRow], source_system: str, acting_user: Any,
                 counts: dict[str, int], run_id: int) -> list[RejectedRow]:
    try:
        with transaction.atomic():
            statuses = apply(list(batch), source_system=source_system, acting_user=acting_user)
    except Exception:
        log.warning("import run %s: a batch failed, retrying its %s rows one by one", run_id, len(batch), exc_info=True)
    else:
        for s in statuses:
            counts[s] += 1
        return []
    late: list[RejectedRow] = []
    for row in batch:
        try:
            with transaction.atomic():
                (status,) = apply([row], source_system=source_system, acting_user=acting_user)
            counts[status] += 1
        except Exception:
            log.warning("import run %s: line %s could not be saved", run_id, row.line, exc_info=True)
            late.append(RejectedRow(row.line, [], [("", _("保存失败（数据与已有档案冲突），请联系管理员"))]))
    return late


@transaction.atomic
def _finish(run: ImportRun, acting_user: Any, *, error: str = "") -> ImportRun:
    run.status = ImportRun.Status.FAILED if error else ImportRun.Status.DONE
    run.error = error
    run.finished_at = timezone.now()
    run.save()
    audit.record(
        actor=acting_user, verb="intake.import_visits", target=run, result=AuditEvent.Result.FAILED if error else AuditEvent.Result.OK,
        imported=run.imported, updated=run.updated, unchanged=run.unchanged, rejected=run.rejected,
        encoding=run.encoding, source_system=run.source_system,
    )
    log.info("import run %s %s imported=%s updated=%s unchanged=%s rejected=%s", run.pk, run.status,
             run.imported, run.updated, run.unchanged, run.rejected)
    return run
