"""Suite-wide fixtures: named personas, and the patient-data log scan.

Every log record emitted anywhere in the suite (all xdist workers) is written, unredacted, to a
scan directory; at the end the controller scans it for ID-card and mobile-number patterns and
fails the run on any hit. Code must log ids, never patient data.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from caredesk.core.logging import ID_NUMBER_RE, MOBILE_RE

PASSWORD = "Persona-pass-2026!"  # noqa: S105 - test personas only


# --- log scan -------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        config._pii_scan_dir = tempfile.mkdtemp(prefix="caredesk-logscan-")  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # xdist hook: hand the directory to each worker
    node.workerinput["pii_scan_dir"] = node.config._pii_scan_dir


class _ScanHandler(logging.FileHandler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(f"{record.name}\t{record.getMessage()}\n")
            self.stream.flush()
        except Exception:
            self.handleError(record)


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    scan_dir = config.workerinput["pii_scan_dir"] if hasattr(config, "workerinput") else config._pii_scan_dir  # type: ignore[attr-defined]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    handler = _ScanHandler(Path(scan_dir) / f"{worker}.log", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)


def scan_for_pii(directory: Path) -> list[str]:
    hits = []
    for path in sorted(directory.glob("*.log")):
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if ID_NUMBER_RE.search(line) or MOBILE_RE.search(line):
                hits.append(f"{path.name}:{n}: {line[:200]}")
    return hits


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return
    hits = scan_for_pii(Path(config._pii_scan_dir))  # type: ignore[attr-defined]
    if hits:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"PATIENT DATA IN LOGS: {len(hits)} line(s) look like ID or mobile numbers:", red=True)
            for hit in hits[:20]:
                reporter.write_line("  " + hit, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- personas ---------------------------------------------------------------------------------------


@pytest.fixture
def org(db: Any) -> dict[str, Any]:
    from caredesk.accounts.models import Department

    tree: dict[str, Any] = {}
    tree["kfzx"] = Department.objects.create(code="KFZX", name="客户服务中心", kind="service")
    tree["hf"] = Department.objects.create(code="KFZX-HF", name="回访组", kind="service", parent=tree["kfzx"])
    tree["wk"] = Department.objects.create(code="WK", name="外科")
    tree["gk"] = Department.objects.create(code="WK-GK", name="骨科", parent=tree["wk"])
    tree["nk"] = Department.objects.create(code="NK", name="内科")
    tree["yw"] = Department.objects.create(code="YW", name="医务科", kind="admin")
    return tree


def make_user(username: str, display: str, roles: list[str], departments: list[Any]) -> Any:
    from caredesk.accounts.actions import create_staff

    return create_staff(
        username=username, password=PASSWORD, display_name=display, roles=roles,
        departments=departments, acting_user=None,
    )


@pytest.fixture
def agent(org: dict[str, Any]) -> Any:
    """小王, a follow-up agent in the service centre."""
    return make_user("xiaowang", "小王", ["agent"], [org["hf"]])


@pytest.fixture
def supervisor(org: dict[str, Any]) -> Any:
    """李主管, the service-centre supervisor: sees every department."""
    return make_user("lizhuguan", "李主管", ["supervisor"], [org["kfzx"]])


@pytest.fixture
def dept_head(org: dict[str, Any]) -> Any:
    """赵主任, head of 外科 (and so of 骨科 below it)."""
    return make_user("zhaozhuren", "赵主任", ["dept_head"], [org["wk"]])


@pytest.fixture
def quality(org: dict[str, Any]) -> Any:
    """孙质控, quality office: audit viewer and medical-quality complaints."""
    return make_user("sunzhikong", "孙质控", ["quality"], [org["yw"]])


@pytest.fixture
def admin_user(org: dict[str, Any]) -> Any:
    return make_user("sysadmin", "管理员", ["admin"], [org["kfzx"]])


@pytest.fixture
def outsider(org: dict[str, Any]) -> Any:
    """A staff member of 内科 with no role: sees nothing beyond 内科."""
    return make_user("outsider", "局外人", [], [org["nk"]])


@pytest.fixture
def login(client: Any) -> Any:
    def _login(user: Any) -> Any:
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Any:
    """The working calendar keeps the override table per process; a rolled-back test must not
    leave its overrides cached for the next one."""
    from caredesk.core import workcalendar

    workcalendar.clear_cache()
    yield
    workcalendar.clear_cache()
