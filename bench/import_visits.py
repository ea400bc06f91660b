"""Benchmark of the visit file import (issue 3, Performance).

    .venv/bin/python bench/import_visits.py --rows 100000 [--db sqlite|postgres|both] [--parse-only] [--keep FILE]
        [--method staged|batch] [--no-rerun] [--batch-size N] [--commit-rows N]
        [--no-defer-indexes]

Generates a realistic GBK CSV with the standard Chinese headers (valid identity numbers, mobiles,
outpatient visits and inpatient stays, ~0.5% broken rows, about 3 visits per patient), imports it
into a fresh database and prints rows/s, peak RSS and the ratio to a plain bulk load of the same file
(PostgreSQL: COPY into an empty table; SQLite: executemany INSERT into an empty table).
PostgreSQL is used when DATABASE_URL is set: it must name an empty database, which the run migrates and fills
(create it beforehand, drop it afterwards).
"""

from __future__ import annotations

import argparse
import base64
import csv
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石"
            "廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌浩宇欣怡子涵梓轩雨萱佳琪思远晨曦"
DEPTS = ["心内科", "呼吸内科", "消化内科", "神经内科", "内分泌科", "普外科", "骨科", "泌尿外科", "妇科", "产科", "儿科", "眼科",
         "耳鼻喉科", "口腔科", "皮肤科", "中医科", "肿瘤科", "康复科"]
DIAG = ["高血压", "2型糖尿病", "冠心病", "社区获得性肺炎", "慢性胃炎", "腰椎间盘突出", "上呼吸道感染", "胆囊结石", "子宫肌瘤",
        "白内障", "慢性鼻窦炎", "湿疹", "脑梗死", "骨折"]
CHANNELS = ["", "", "", "网络", "电视", "朋友介绍", "社区义诊", "114"]
OUTCOMES = ["治愈", "好转", "好转", "未愈", "转院", "其他"]
HEADER = ["流水号", "就诊类型(门诊/住院)", "门诊号", "住院号", "姓名", "性别", "出生日期", "身份证号", "手机号", "地址", "就诊时间",
          "入院时间",           "出院时间", "科室", "医生", "诊断", "初复诊", "转归", "来源渠道"]
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(p: int, birth: datetime, sex: str) -> str:
    """Unique per generated patient: birth date and the sequence digits both come from ``p``."""
    region = ["110105", "310104", "440106", "320102", "510107"][p % 5]
    body = f"{region}{birth:%Y%m%d}{(p // 32000) % 100:02d}" + str((p // 3200000) * 2 % 10 + (1 if sex == "男" else 0))
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W, strict=True)) % 11]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    patients = max(1, rows // 3)
    start = datetime(2024, 1, 1)  # noqa: DTZ001 - wall-clock times as a HIS exports them
    with path.open("w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            p = rng.randrange(patients)
            prng = random.Random(p)
            sex = prng.choice("男女")
            birth = datetime(1930, 1, 1) + timedelta(days=p % 32000)  # noqa: DTZ001
            name = prng.choice(SURNAMES) + prng.choice(GIVEN) + (prng.choice(GIVEN) if prng.random() < .7 else "")
            idn = id_number(p, birth, sex)
            mobile = f"1{prng.choice('3456789')}{prng.randrange(10**9):09d}"
            at = start + timedelta(minutes=rng.randrange(60 * 24 * 900))
            inpatient = rng.random() < 0.15
            row = [f"LS{i:09d}", "住院" if inpatient else "门诊", f"MZ{p:08d}", f"ZY{p:08d}" if inpatient else "", name, sex,
                   f"{birth:%Y-%m-%d}", idn, mobile, f"某市某区{prng.randrange(1, 300)}号", "" if inpatient else f"{at:%Y-%m-%d %H:%M}",
                   f"{at:%Y-%m-%d %H:%M}" if inpatient else "",
                   f"{at + timedelta(days=rng.randint(2, 15)):%Y-%m-%d %H:%M}" if inpatient and rng.random() < .9 else "",
                   rng.choice(DEPTS), prng.choice(SURNAMES) + "医生", rng.choice(DIAG), rng.choice(["初诊", "复诊"]),
                   rng.choice(OUTCOMES) if inpatient else "", prng.choice(CHANNELS)]
            r = rng.random()
            if r < 0.002:
                row[7] = row[7][:-1] + ("0" if row[7][-1] != "0" else "1")  # bad check digit
            elif r < 0.004:
                row[10 if not inpatient else 11] = "2026-02-30 08:00"
            elif r < 0.005:
                row[1] = "急救室"
            w.writerow(row)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_rss_mb() -> float:
    """Peak RSS of the process that read and checked the file (forked by the import), once ended."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def machine_cpu() -> tuple[float, float] | None:
    """(busy, idle) CPU seconds of the whole machine so far, all cores (Linux: /proc/stat); None elsewhere.
    Over an import, busy counts what the per-process figures leave out: the planning process's
    database backend, the server's WAL writer and checkpointer, the kernel's work for them all."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:7]) - idle) / hz, idle / hz  # user … softirq; not the time a hypervisor stole


def server_cpu() -> float | None:
    """CPU seconds of this connection's PostgreSQL backend so far, when the server runs on this
    machine (read from /proc); None elsewhere or on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (pid,) = cur.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def baseline_sqlite(path: Path) -> float:
    with tempfile.TemporaryDirectory() as d:
        con = sqlite3.connect(Path(d) / "b.db")
        con.execute(f"CREATE TABLE t ({', '.join(f'c{i} text' for i in range(len(HEADER)))})")
        t = time.perf_counter()
        with path.open(encoding="gb18030", newline="") as fh:
            r = csv.reader(fh)
            next(r)
            con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(HEADER))})", r)  # noqa: S608 - constant
        con.commit()
        return time.perf_counter() - t


def baseline_postgres(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy")
        cur.execute(f"CREATE UNLOGGED TABLE bench_copy ({', '.join(f'c{i} text' for i in range(len(HEADER)))})")
        t = time.perf_counter()
        raw = cur.connection.cursor() if hasattr(cur, "connection") else cur
        with path.open("rb") as fh, raw.copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true, ENCODING 'GB18030')") as cp:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
        elapsed = time.perf_counter() - t
        cur.execute("DROP TABLE bench_copy")
    return elapsed


HOOK_TIME = {"wall": 0.0, "cpu": 0.0}


def time_hooks() -> None:
    """Wrap the batched domain hooks the import calls with a wall/CPU stopwatch (the share of the
    import spent in follow-up planning and survey invitations)."""
    from caredesk.patients import hooks

    def timed(fn):  # type: ignore[no-untyped-def]
        def wrapper(*items):  # type: ignore[no-untyped-def]
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*items)
            finally:
                HOOK_TIME["wall"] += time.perf_counter() - t
                HOOK_TIME["cpu"] += time.process_time() - c
        return wrapper

    for name in ("encounters_recorded", "patients_deceased"):
        setattr(hooks, name, timed(getattr(hooks, name)))


LIMITS = {"sqlite": 180.0, "postgresql": 60.0}


def run_import(path: Path, vendor: str, method: str, rerun: bool, batch_size: int, commit_rows: int,
               defer_indexes: bool | None) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from caredesk.intake.actions import import_visits

    call_command("migrate", verbosity=0)
    time_hooks()
    rows = sum(1 for _ in path.open("rb")) - 1
    load0 = os.getloadavg()[0]
    server0 = server_cpu()
    machine0 = machine_cpu()
    t, cpu = time.perf_counter(), time.process_time()
    run = import_visits(path, source_system="HIS", method=method, batch_size=batch_size, commit_rows=commit_rows,
                        defer_indexes=defer_indexes)
    elapsed = time.perf_counter() - t
    cpu = time.process_time() - cpu
    load1 = os.getloadavg()[0]
    machine1 = machine_cpu()
    server1 = server_cpu()
    server_used = server1 - server0 if server0 is not None and server1 is not None else None
    server = f" server_backend: cpu={server_used:.1f}s" if server_used is not None else ""
    base = baseline_postgres(path) if connection.vendor == "postgresql" else baseline_sqlite(path)
    limit = LIMITS.get(connection.vendor, 180.0)
    print(f"[{vendor}/{method}] rows={rows} imported={run.imported} updated={run.updated} unchanged={run.unchanged} "
          f"rejected={run.rejected} wall={elapsed:.1f}s cpu={cpu:.1f}s (this process; the database server's CPU is not counted) "
          f"rows/s wall={rows / elapsed:,.0f} rows/s cpu={rows / cpu:,.0f} peak_rss={peak_rss_mb():.0f}MB "
          f"reader_process: cpu={child_cpu():.1f}s peak_rss={child_rss_mb():.0f}MB "
          f"load_avg={load0:.1f}->{load1:.1f}{server}")
    print(f"[{vendor}/{method}] hooks: wall={HOOK_TIME['wall']:.1f}s ({HOOK_TIME['wall'] / elapsed:.0%}) "
          f"cpu={HOOK_TIME['cpu']:.1f}s ({HOOK_TIME['cpu'] / cpu:.0%})")
    print(f"[{vendor}/{method}] limit {limit:.0f}s: ratio wall={elapsed / limit:.2f} cpu={cpu / limit:.2f}; "
          f"baseline({'COPY' if connection.vendor == 'postgresql' else 'executemany'})={base:.1f}s ratio={elapsed / base:.1f}x")
    # the CPU of every process the import ran on (this one, its children, the server's backend), spread over the
    # cores: the least wall time the run could take here. Steadier between runs than the wall time on a shared machine.
    total = cpu + child_cpu() + (server_used or 0.0)
    cores = os.cpu_count() or 1
    print(f"[{vendor}/{method}] cpu of all processes={total:.1f}s on {cores} cores: floor={total / cores:.1f}s "
          f"(ratio {total / cores / limit:.2f}; wall / floor={elapsed * cores / total:.2f})")
    if machine0 is not None and machine1 is not None:
        busy, idle = machine1[0] - machine0[0], machine1[1] - machine0[1]
        print(f"[{vendor}/{method}] whole machine during the import: busy={busy:.1f}s idle={idle:.1f}s "
              f"(busy / cores={busy / cores:.1f}s, ratio {busy / cores / limit:.2f}; not counted above: "
              f"{busy - total:.1f}s)")
    if not rerun:
        return
    t, cpu = time.perf_counter(), time.process_time()
    run2 = import_visits(path, source_system="HIS", method=method, batch_size=batch_size, commit_rows=commit_rows)
    print(f"[{vendor}/{method}] re-run: imported={run2.imported} updated={run2.updated} unchanged={run2.unchanged} "
          f"rejected={run2.rejected} wall={time.perf_counter() - t:.1f}s cpu={time.process_time() - cpu:.1f}s "
          f"load_avg={os.getloadavg()[0]:.1f}")


def parse_only(path: Path) -> None:
    import django

    django.setup()
    from caredesk.intake.visit_file import VisitRow, read_visit_file

    t = time.perf_counter()
    vf = read_visit_file(path)
    good = sum(1 for r in vf.rows if isinstance(r, VisitRow))
    elapsed = time.perf_counter() - t
    print(f"[parse] good={good} time={elapsed:.1f}s peak_rss={peak_rss_mb():.0f}MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--parse-only", action="store_true")
    ap.add_argument("--keep", help="write the generated file here and keep it")
    ap.add_argument("--method", choices=["staged", "batch"], default="staged")
    ap.add_argument("--no-rerun", action="store_true", help="skip the second (idempotent) import")
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--commit-rows", type=int, default=20000, help="rows per transaction (several batches)")
    ap.add_argument("--no-defer-indexes", action="store_true",
                    help="keep the search indexes during the load (as an import into a non-empty archive does)")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    path = Path(args.keep) if args.keep else workdir / "visits.csv"
    t = time.perf_counter()
    if not path.exists():
        generate(path, args.rows)
    print(f"generated {args.rows} rows ({path.stat().st_size / 1e6:.0f} MB GBK) in {time.perf_counter() - t:.1f}s; "
          f"machine: {os.cpu_count()} cores")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Production settings (DEBUG on logs every SQL statement) with throw-away keys.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", base64.b64encode(os.urandom(40)).decode())
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.parse_only:
        parse_only(path)
        return
    # each database in its own process so peak RSS is per run
    import subprocess

    targets = []
    if args.db in ("sqlite", "both"):
        targets.append(("sqlite", {"DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}"}))
    if args.db in ("postgres", "both") and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        targets.append(("postgres", {"DATABASE_URL": os.environ["DATABASE_URL"]}))
    for vendor, env in targets:
        child = [sys.executable, __file__, "--child", vendor, str(path), args.method, "0" if args.no_rerun else "1",
                 str(args.batch_size), str(args.commit_rows),
                 "no" if args.no_defer_indexes else "auto"]
        subprocess.run(child, env={**os.environ, **env}, check=True)  # noqa: S603 - our own script


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        run_import(Path(sys.argv[3]), sys.argv[2], sys.argv[4], sys.argv[5] == "1", int(sys.argv[6]), int(sys.argv[7]),
                   False if sys.argv[8] == "no" else None)
    else:
        main()
