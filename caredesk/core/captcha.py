"""An offline arithmetic captcha for public pages, shown only after repeated use.

The first few uses from a client address in an hour need no captcha (a patient filing one complaint
is never bothered); after ``CAPTCHA_AFTER`` uses (default 5) the page asks for the answer to a small
sum drawn as a noisy PNG with Pillow. The answer is kept, hashed, in the session and is good for one
check. The image is returned as a ``data:`` URI, which the CSP allows for images, so no extra URL
or script is needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 3600


def threshold() -> int:
    return int(getattr(settings, "CAPTCHA_AFTER", 5))


def _client_key(scope: str, ip: str) -> str:
    digest = hashlib.sha256(f"{settings.SECRET_KEY}|captcha|{ip}".encode()).hexdigest()[:32]
    return f"captcha:{scope}:{digest}:h{int(time.time() // WINDOW_SECONDS)}"


def uses(scope: str, ip: str) -> int:
    return int(cache.get(_client_key(scope, ip), 0))


def note_use(scope: str, ip: str) -> int:
    """Count one use (a code requested, a form sent) from this address; returns the count."""
    key = _client_key(scope, ip)
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        return int(cache.incr(key))
    except ValueError:
        cache.set(key, 1, WINDOW_SECONDS)
        return 1


def required(scope: str, ip: str) -> bool:
    return uses(scope, ip) >= threshold()


def _hash(answer: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"captcha|{answer}".encode(), hashlib.sha256).hexdigest()


def new_challenge(session: Any, scope: str) -> str:
    """Make a new sum, remember its answer in the session, return the image as a data: URI."""
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    if secrets.randbelow(2) and a != b:
        a, b = max(a, b), min(a, b)
        question, answer = f"{a} - {b} = ?", a - b
    else:
        question, answer = f"{a} + {b} = ?", a + b
    session[f"captcha.{scope}"] = _hash(str(answer))
    return "data:image/png;base64," + base64.b64encode(render(question)).decode()


def check(session: Any, scope: str, answer: str) -> bool:
    """True if ``answer`` solves the session's current sum; the sum is used up either way."""
    expected = session.pop(f"captcha.{scope}", None)
    given = (answer or "").strip()
    return bool(expected) and given.lstrip("-").isdigit() and hmac.compare_digest(expected, _hash(str(int(given))))


def render(text: str, width: int = 180, height: int = 60) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height), (246, 248, 250))
    draw = ImageDraw.Draw(image)
    for _ in range(6):  # noise lines
        points = [(secrets.randbelow(width), secrets.randbelow(height)) for _ in range(2)]
        draw.line(points, fill=(150 + secrets.randbelow(80), 150 + secrets.randbelow(80), 200), width=2)
    font = ImageFont.load_default(size=34)
    x = 10
    for ch in text:
        offset = secrets.randbelow(10) - 5
        draw.text((x, 10 + offset), ch, font=font, fill=(20 + secrets.randbelow(60), 40, 90))
        x += 20 if ch != " " else 8
    for _ in range(120):  # noise dots
        draw.point((secrets.randbelow(width), secrets.randbelow(height)), fill=(120, 120, 120))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
