import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/audit/", "/accounts/password/", "/accounts/otp/"])
def test_anonymous_staff_pages_redirect_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_is_chinese_by_default(client):
    body = client.get("/accounts/login/").content.decode()
    assert "员工登录" in body and 'lang="zh-hans"' in body


def test_home_shows_navigation_in_chinese_and_english(client, agent):
    client.force_login(agent)
    body = client.get("/").content.decode()
    assert "患者档案" in body and "回访随访" in body and "审计日志" not in body  # audit is not for agents
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    body = client.get("/").content.decode()
    assert 'lang="en"' in body and "Patient archive" in body


def test_not_found_page_has_support_id(client, agent):
    client.force_login(agent)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "支持编号" in response.content.decode()
    assert response["X-Request-ID"] in response.content.decode()


def test_server_error_page_has_support_id(rf):
    from caredesk.core.views import error_500

    request = rf.get("/")
    request.request_id = "abc123def456"
    response = error_500(request)
    assert response.status_code == 500 and "abc123def456" in response.content.decode()


def test_pages_send_content_security_policy_and_no_external_assets(client, agent):
    client.force_login(agent)
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    body = response.content.decode()
    assert "http://" not in body.replace("http://testserver", "") and "https://" not in body


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    data = response.json()
    assert data["database"] == "ok"
    assert "broker" in data
    assert response.status_code == (200 if data["broker"] == "ok" else 503)


def test_static_assets_are_served_locally(client):
    for path in ("/static/vendor/htmx.min.js", "/static/css/caredesk.css", "/static/js/caredesk.js"):
        response = client.get(path)
        assert response.status_code == 200, path


def test_reveal_view_asks_for_purpose_then_audits(client, supervisor, agent):
    from caredesk.core.models import AuditEvent
    from caredesk.core.views import _revealable  # noqa: F401 - the registry is model-driven

    # Staff usernames are not revealable: unknown fields are a 404, never a leak.
    client.force_login(supervisor)
    assert client.get(f"/pii/reveal/accounts.user/{agent.pk}/username/").status_code == 404
    assert not AuditEvent.objects.filter(verb="pii.reveal").exists()
