import pytest
from playwright.sync_api import expect

from caredesk.intake import actions
from caredesk.intake.tests.test_import_run import MemoryArchive
from caredesk.intake.tests.test_visit_file import EXPECTED_REJECTS, HIS_ROWS, write_csv
from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_uploads_a_gbk_file_and_reads_every_reject(live_server, page, shot, supervisor, settings, tmp_path,
                                                                monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(actions, "default_applier", MemoryArchive)
    path = write_csv(tmp_path / "门诊日志.csv", HIS_ROWS, "gbk")
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", supervisor.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.click("nav.mainnav >> text=数据接入")
    page.click("#go-import")
    page.click("#import-form button[type=submit]")  # nothing chosen: the form says so in Chinese
    assert page.locator(".has-error .error").first.inner_text() == "这个字段是必填项。"
    page.set_input_files("#id_file", str(path))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#rejects")
    assert "imported=2 updated=0 unchanged=0 rejected=7" in page.inner_text("#run-summary")
    rows = page.locator("#rejects tbody tr")
    assert rows.count() == len(EXPECTED_REJECTS)
    assert rows.nth(0).inner_text().split("\t") == ["3", "身份证号", "身份证号校验位错误"]
    shot(page, "import-run")
    page.click("nav.mainnav >> text=数据接入")
    page.wait_for_url(f"{base}/intake/")
    expect(page.locator("#import-runs tbody tr")).to_have_count(1)
    shot(page, "intake-home")
