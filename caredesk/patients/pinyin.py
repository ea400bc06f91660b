"""Pinyin of names for search (全拼 and initials: ``zs`` finds 张三). A pure module: pypinyin and its
dictionaries (~66 MB) are imported on first use, not at start-up."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

# Surnames whose reading differs from the character's most common reading.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "查": "zha",
    "朴": "piao",
    "尉": "yu",
    "覃": "qin",
    "乐": "yue",
    "缪": "miao",
    "翟": "zhai",
    "盖": "ge",
    "员": "yun",
    "长": "chang",
    "重": "chong",
    "召": "shao",
    "繁": "po",
    "种": "chong",
    "秘": "bi",
    "万": "wan",
    "沈": "shen",
    "任": "ren",
    "华": "hua",
    "燕": "yan",
    "葛": "ge",
    "藏": "zang",
    "尉迟": "yuchi",
    "朝": "chao",
    "宁": "ning",
    "纪": "ji",
    "折": "she",
    "能": "nai",
    "黑": "he",
    "都": "du",
}
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙")


@lru_cache(maxsize=16384)
def _char_pinyin(char: str) -> str | None:
    """pypinyin's reading of one Chinese character on its own (None: not a character it knows)."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.constants import PINYIN_DICT

    if len(char) != 1 or ord(char) not in PINYIN_DICT:
        return None
    syllables = lazy_pinyin(char, style=Style.NORMAL, errors="default")
    return syllables[0] if len(syllables) == 1 else None


def preload() -> None:
    """Load pypinyin's dictionaries now rather than with the first name (~0.3 s, ~66 MB): for a
    process that indexes names all day, such as the HL7 listener, whose first message would
    otherwise wait for them."""
    _phrases()
    _char_pinyin("张")


@lru_cache(maxsize=1)
def _phrases() -> Collection[str]:
    """pypinyin's phrase dictionary (imported on first use: its dictionaries take ~66 MB)."""
    from pypinyin.constants import PHRASES_DICT

    return PHRASES_DICT


def _lazy_pinyin(text: str) -> list[str]:
    """``lazy_pinyin(text, style=NORMAL)``. pypinyin reads a string word by word: a word in its phrase
    dictionary gets the phrase's readings, every other character its own reading. So when no part
    of ``text`` is in that dictionary and every character is one it knows, the result is each
    character's own reading, taken from a cache: about 2 µs instead of 28 µs for a given name, which
    bulk imports of new names pay for each name (a test compares both on many names)."""
    syllables = [_char_pinyin(c) for c in text]
    n = len(text)
    if n < 2:
        phrase = False
    elif n == 2:  # most names have two or three characters: their parts spelt out (1.6 against 0.3 µs)
        phrase = text in _phrases()
    elif n == 3:
        phrases = _phrases()
        phrase = text in phrases or text[:2] in phrases or text[1:] in phrases
    else:
        phrases = _phrases()
        phrase = any(text[i:j] in phrases for i in range(n - 1) for j in range(i + 2, n + 1))
    if phrase or None in syllables:
        from pypinyin import Style, lazy_pinyin

        return lazy_pinyin(text, style=Style.NORMAL, errors="default")
    return syllables  # type: ignore[return-value]  # no None: checked above


_COMPOUND_SURNAMES = frozenset(COMPOUND_SURNAMES)  # each of two characters (a test checks)
_WHITESPACE = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def _clean_syllable(syllable: str) -> str:
    """Lower case, only ASCII letters and digits."""
    syllable = syllable.lower()
    return syllable if syllable.isascii() and syllable.isalnum() else _NOT_ALNUM.sub("", syllable)


@lru_cache(maxsize=65536)
def name_to_pinyin(name: str) -> tuple[str, str]:
    """(full pinyin, initials), lower case without spaces; surnames use their surname reading.
    Cached: names repeat a lot in bulk imports. (The regular expressions and the search for a
    compound surname are skipped when they cannot change anything: a bulk import of new names
    pays this for each name.)"""
    if name and not name.isalnum():  # letters only (Chinese ones too) hold no whitespace
        name = _WHITESPACE.sub("", name)
    if not name:
        return "", ""
    surname = name[:2] if name[:2] in _COMPOUND_SURNAMES else name[0]
    reading = SURNAME_READINGS.get(surname)
    syllables = _lazy_pinyin(name) if reading is None else [reading, *_lazy_pinyin(name[len(surname):])]
    parts = [p for p in map(_clean_syllable, syllables) if p]
    return "".join(parts), "".join(p[0] for p in parts)
