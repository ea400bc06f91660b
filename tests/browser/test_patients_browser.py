import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def archive(org):
    from datetime import UTC, datetime

    from caredesk.patients import actions
    from caredesk.patients.data import EncounterData, PatientData
    from caredesk.patients.tests.factories import make_id_number

    zhang, _ = actions.upsert_patient(
        PatientData(name="张三", id_number=make_id_number(), mobile="13812345678", outpatient_no="MZ1001",
                    address="北京市东城区东华门大街1号"),
        source="test",
    )
    actions.record_encounter(zhang, EncounterData("outpatient", "HIS", "V1", department="WK-GK", doctor="刘医生",
                                                  diagnosis_text="腰椎间盘突出症", visit_at=datetime(2026, 3, 1, 2, tzinfo=UTC)))
    actions.record_encounter(zhang, EncounterData("inpatient", "HIS", "Z1", department="WK", diagnosis_text="胆囊结石",
                                                  admitted_at=datetime(2026, 4, 1, 2, tzinfo=UTC),
                                                  discharged_at=datetime(2026, 4, 8, 2, tzinfo=UTC), outcome="improved"))
    actions.upsert_patient(PatientData(name="李四", mobile="13900005678"), source="test")
    return zhang


def _login(page, url):
    page.goto(f"{url}/accounts/login/?next=/patients/")
    page.fill("#id_username", "lizhuguan")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/patients/")


def test_search_by_initials_then_open_the_patient_page(live_server, page, shot, supervisor, archive):
    _login(page, live_server.url)
    shot(page, "patients-list")
    page.fill("#patient-q", "zs")
    expect(page.locator("#patient-results").get_by_text("李*")).to_have_count(0)
    results = page.locator("#patient-results")
    assert "张*" in results.inner_text() and "138****5678" in results.inner_text()
    assert "13812345678" not in page.content()
    shot(page, "patients-search-zs")
    page.click("#patient-results a:has-text('张*')")
    page.wait_for_url(f"{live_server.url}/patients/{archive.pk}/")
    assert "腰椎间盘突出症" in page.content() and "13812345678" not in page.content()
    shot(page, "patient-page")
    page.locator("dd:has-text('138****5678') button").click()
    page.fill("input[name=purpose]", "电话回访核对身份")
    page.click("form.inline button[type=submit]")
    page.wait_for_selector(".revealed")
    assert page.locator(".revealed").inner_text() == "13812345678"
    shot(page, "patient-page-revealed")


def test_search_by_a_character_in_the_middle_of_the_name_and_a_capped_search(live_server, page, shot, supervisor, archive,
                                                                              monkeypatch):
    from caredesk.patients import models
    from caredesk.patients.tests.factories import make_patient

    for i in range(4):
        make_patient(f"王三{i}", mobile=f"1370000000{i}")
    _login(page, live_server.url)
    page.fill("#patient-q", "三")  # the end of 张三 and the middle of 王三0..王三3
    results = page.locator("#patient-results")
    expect(results.locator(".search-count")).to_have_text("找到 5 位患者")
    assert "张*" in results.inner_text() and "王*" in results.inner_text() and "李*" not in results.inner_text()
    assert "张三" not in page.content()
    shot(page, "patients-search-middle-character")
    monkeypatch.setattr(models, "SEARCH_CAP", 3)  # the live server runs in this process
    page.fill("#patient-q", "王")
    expect(results.locator(".search-count")).to_contain_text("匹配的患者很多")
    shot(page, "patients-search-capped")


def test_patient_pages_on_a_phone(live_server, browser, shot, supervisor, archive):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server.url)
    page.fill("#patient-q", "zhang")
    expect(page.locator("#patient-results").get_by_text("李*")).to_have_count(0)
    shot(page, "patients-search-phone")
    assert page.locator("html").evaluate("el => el.scrollWidth") <= 390
    page.goto(f"{live_server.url}/patients/{archive.pk}/")
    shot(page, "patient-page-phone")
    assert page.locator("html").evaluate("el => el.scrollWidth") <= 390
    context.close()
