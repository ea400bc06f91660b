from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from caredesk.complaints.models import Complaint
from caredesk.complaints.models_extra import Praise
from caredesk.core.models import AuditEvent
from caredesk.messaging.models import OutboxMessage

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _code() -> str:
    return OutboxMessage.objects.filter(template="smscode").latest("pk").params["code"]


def _complaint_form(org, **kw):
    return {"phone": PHONE, "relation": "self", "department": org["gk"].pk, "content": "挂号窗口排队一个多小时，没有人引导。",
            "action": "submit", **kw}


def test_home_page_needs_no_login_and_links_the_three_services(client):
    page = client.get(reverse("complaints:h5_home")).content.decode()
    for name in ["h5_complaint", "h5_praise", "h5_status"]:
        assert reverse(f"complaints:{name}") in page
    assert "<script>" not in page and "onclick" not in page


def test_patient_files_a_complaint_with_a_verified_phone(client, org):
    response = client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org), "action": "send"})
    assert response.status_code == 200 and "验证码已发送" in response.content.decode()
    assert "挂号窗口排队" in response.content.decode()  # what was typed is kept
    response = client.post(reverse("complaints:h5_complaint"), _complaint_form(org, code=_code()))
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.channel == "online" and complaint.complainant_phone == PHONE and complaint.department == org["gk"]
    assert complaint.registered_by is None
    done = client.get(response.url).content.decode()
    assert complaint.case_no in done and "前答复您" in done
    assert OutboxMessage.objects.filter(template="complaints.received").count() == 1


def test_a_wrong_code_is_refused_and_nothing_is_filed(client, org):
    client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org), "action": "send"})
    wrong = "000000" if _code() != "000000" else "111111"
    response = client.post(reverse("complaints:h5_complaint"), _complaint_form(org, code=wrong))
    assert response.status_code == 422 and "验证码不正确" in response.content.decode()
    assert not Complaint.objects.exists()


def test_form_errors_are_in_chinese(client, org):
    response = client.post(reverse("complaints:h5_complaint"), _complaint_form(org, content="", phone="123"))
    body = response.content.decode()
    assert response.status_code == 422 and "请描述您遇到的问题" in body


def test_invalid_phone_gets_no_code(client, org):
    response = client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org, phone="12345"), "action": "send"})
    assert response.status_code == 422 and "11位手机号码" in response.content.decode()
    assert not OutboxMessage.objects.exists()


def test_sending_codes_too_often_is_rate_limited(client, org):
    client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org), "action": "send"})
    response = client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org), "action": "send"})
    assert response.status_code == 429 and "发送太频繁" in response.content.decode()


def test_captcha_appears_after_repeated_use_and_guards_code_sending(client, org, settings):
    settings.CAPTCHA_AFTER = 1
    assert "data:image/png;base64" not in client.get(reverse("complaints:h5_complaint")).content.decode()
    client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org), "action": "send"})
    page = client.get(reverse("complaints:h5_complaint")).content.decode()
    assert "data:image/png;base64" in page and "请计算图中算式的结果" in page
    response = client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org, phone="13912345679"), "action": "send",
                                                                "captcha": "99"})
    assert response.status_code == 422 and "算式结果不正确" in response.content.decode()
    assert OutboxMessage.objects.filter(template="smscode").count() == 1


def test_patient_sends_praise(client, org):
    client.post(reverse("complaints:h5_praise"), {"phone": PHONE, "action": "send"})
    response = client.post(reverse("complaints:h5_praise"), {
        "phone": PHONE, "code": _code(), "department": org["nk"].pk, "staff_name": "陈护士", "content": "夜班护士很耐心",
        "action": "submit",
    })
    assert response.status_code == 302
    praise = Praise.objects.get()
    assert (praise.channel, praise.kind, praise.staff_name) == ("online", "online", "陈护士")
    assert praise.ref_no in client.get(response.url).content.decode()


def test_status_lookup_shows_only_status_and_dates(client, org):
    client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org), "action": "send"})
    client.post(reverse("complaints:h5_complaint"), _complaint_form(org, code=_code(), complainant_name="王小明"))
    complaint = Complaint.objects.get()
    # the phone is still verified in this session: no new code needed
    response = client.post(reverse("complaints:h5_status"), {"case_no": complaint.case_no.lower(), "phone": PHONE, "action": "submit"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "已登记，等待受理" in body and "预计答复日期" in body
    assert "挂号窗口排队" not in body and "王小明" not in body and "骨科" not in body
    assert AuditEvent.objects.filter(verb="complaint.h5_status_viewed", object_id=str(complaint.pk)).exists()


def test_status_lookup_with_another_phone_finds_nothing(client, org, settings):
    settings.CAPTCHA_AFTER = 10
    client.post(reverse("complaints:h5_complaint"), {**_complaint_form(org), "action": "send"})
    client.post(reverse("complaints:h5_complaint"), _complaint_form(org, code=_code()))
    complaint = Complaint.objects.get()
    other = client_class_client()
    other.post(reverse("complaints:h5_status"), {"case_no": complaint.case_no, "phone": "13700000000", "action": "send"})
    response = other.post(reverse("complaints:h5_status"), {"case_no": complaint.case_no, "phone": "13700000000",
                                                            "code": _code(), "action": "submit"})
    assert response.status_code == 404 and "未找到" in response.content.decode()
    assert "已登记" not in response.content.decode()


def test_status_lookup_needs_a_code_for_an_unverified_phone(client, org):
    response = client.post(reverse("complaints:h5_status"), {"case_no": "TS2026110001", "phone": PHONE, "action": "submit"})
    assert response.status_code == 422 and "请输入短信验证码" in response.content.decode()


def client_class_client():
    from django.test import Client

    return Client()
