"""The monthly bulletin draws its charts with the vendored Chart.js under the CSP, and its export
links download. Screenshot in var/screenshots/."""

import pytest

from caredesk.complaints.tests.test_bulletin import month  # noqa: F401  (the October fixture)
from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bulletin_draws_its_charts_and_exports(live_server, page, shot, supervisor, month):  # noqa: F811
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "lizhuguan")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/complaints/bulletin/?month=2026-10")
    page.wait_for_function("document.getElementById('chart-steps').width > 0")
    drawn = page.evaluate(
        "['chart-department','chart-category','chart-channel','chart-steps','chart-praise']"
        ".every(id => window.Chart && Chart.getChart(document.getElementById(id)))"
    )
    assert drawn, "Chart.js did not draw every chart"
    assert page.locator("#fig-total").inner_text() == "4"
    shot(page, "complaints-bulletin")
    with page.expect_download() as pdf:
        page.click("#export-pdf")
    assert pdf.value.suggested_filename.endswith(".pdf")
    with page.expect_download() as xlsx:
        page.click("#export-xlsx")
    assert xlsx.value.suggested_filename.endswith(".xlsx")
    assert not errors, errors
