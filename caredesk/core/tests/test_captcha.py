import base64
import io

import pytest
from django.core.cache import cache
from PIL import Image

from caredesk.core import captcha


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_captcha_is_required_only_after_repeated_use(settings):
    settings.CAPTCHA_AFTER = 2
    assert not captcha.required("h5", "10.0.0.1")
    captcha.note_use("h5", "10.0.0.1")
    assert not captcha.required("h5", "10.0.0.1")
    captcha.note_use("h5", "10.0.0.1")
    assert captcha.required("h5", "10.0.0.1")
    assert not captcha.required("h5", "10.0.0.2")
    assert not captcha.required("other", "10.0.0.1")


def test_challenge_is_a_png_data_uri_and_its_answer_checks_once(monkeypatch):
    monkeypatch.setattr(captcha, "render", lambda text, **kw: text.encode())
    session: dict = {}
    uri = captcha.new_challenge(session, "h5")
    assert uri.startswith("data:image/png;base64,")
    question = base64.b64decode(uri.split(",", 1)[1]).decode()
    a, op, b = question.split()[:3]
    answer = int(a) + int(b) if op == "+" else int(a) - int(b)
    assert answer >= 0
    assert captcha.check(session, "h5", f" {answer} ")
    assert not captcha.check(session, "h5", str(answer))  # used up


def test_a_wrong_answer_fails_and_uses_up_the_challenge():
    session: dict = {}
    captcha.new_challenge(session, "h5")
    assert not captcha.check(session, "h5", "99")
    assert not captcha.check(session, "h5", "abc")
    assert not captcha.check({}, "h5", "1")


def test_render_draws_a_real_png():
    image = Image.open(io.BytesIO(captcha.render("3 + 4 = ?")))
    assert image.format == "PNG" and image.size == (180, 60)
    assert len(image.convert("RGB").getcolors(maxcolors=100_000)) > 10  # text and noise, not a blank image
