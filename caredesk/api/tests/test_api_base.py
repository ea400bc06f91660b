import pytest
from django.core.management import call_command

from caredesk.accounts.models import APIToken

pytestmark = pytest.mark.django_db


def test_anonymous_api_call_gets_401_json(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_openapi_schema_is_published(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/me" in response.json()["paths"]


def test_session_auth_for_the_browser(client, agent):
    client.force_login(agent)
    data = client.get("/api/v1/me").json()
    assert data["username"] == "xiaowang" and data["roles"] == ["agent"] and data["departments"] == ["KFZX-HF"]


def test_bearer_token_from_command_is_stored_hashed_and_revocable(client, agent, capsys):
    call_command("issue_api_token", "xiaowang", "--name", "12345 hotline")
    raw = capsys.readouterr().out.strip()
    token = APIToken.objects.get()
    assert raw.startswith("cdk_") and raw not in (token.token_hash, token.prefix)
    ok = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ok.status_code == 200 and ok.json()["username"] == "xiaowang"
    call_command("issue_api_token", "xiaowang", "--revoke", raw[:12])
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer cdk_made_up").status_code == 401


def test_validation_errors_use_the_one_error_shape(client, agent):
    client.force_login(agent)
    response = client.get("/api/v1/departments", {"kind": "no-such-kind"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["field"] == "kind"


def test_department_list_query_count_is_constant(client, agent, org, django_assert_max_num_queries):
    client.force_login(agent)
    with django_assert_max_num_queries(6):
        data = client.get("/api/v1/departments").json()
    assert {"code": "WK-GK", "parent_code": "WK"}.items() <= next(d for d in data if d["code"] == "WK-GK").items()


def test_unknown_api_path_is_json_404(client, agent):
    client.force_login(agent)
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
