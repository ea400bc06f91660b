"""The pinyin of names: the per-character shortcut gives exactly what pypinyin gives."""

from __future__ import annotations

import random

from pypinyin import Style, lazy_pinyin

from caredesk.patients.pinyin import _lazy_pinyin, name_to_pinyin

# common name characters, many of them read differently inside a word (长, 乐, 行, 重, 朝, 曾, 单 …)
CHARS = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
         "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌浩宇欣怡子涵梓轩雨萱佳琪思远晨曦"
         "长乐行重朝单解仇区查朴尉覃缪翟盖员召繁种秘万藏宁纪折能黑都和大小银发了的地得着还好家天")


def test_the_shortcut_gives_what_pypinyin_gives_for_many_names() -> None:
    rng = random.Random(3)
    names = [a + b for a in CHARS[:60] for b in CHARS[60:120]]
    names += ["".join(rng.choice(CHARS) for _ in range(rng.randint(3, 4))) for _ in range(4000)]
    names += ["长孙无忌", "曾国藩", "王子涵", "银行家", "重庆人", "阿卜杜·热合曼", "Tom李", "李2号", "〇一", "张三 丰", "𠀀字"]
    differ = [n for n in names if _lazy_pinyin(n) != lazy_pinyin(n, style=Style.NORMAL, errors="default")]
    assert differ == []
    # the check can fail: names made of phrases are read as pypinyin reads the phrase
    assert _lazy_pinyin("银行") == ["yin", "hang"] and _lazy_pinyin("行人") == ["xing", "ren"]


def test_name_to_pinyin_uses_the_surname_reading() -> None:
    assert name_to_pinyin("曾乐行") == ("zenglexing", "zlx")
    assert name_to_pinyin("单雄信") == ("shanxiongxin", "sxx")


def _reference_name_to_pinyin(name: str) -> tuple[str, str]:
    """The rule, written plainly: the surname's own reading (a compound surname first), pypinyin's
    reading of the rest, each syllable lower case with only ASCII letters and digits."""
    import re

    from caredesk.patients.pinyin import COMPOUND_SURNAMES, SURNAME_READINGS

    name = re.sub(r"\s+", "", name or "")
    if not name:
        return "", ""
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s)), name[0])
    syllables = [SURNAME_READINGS[surname]] if surname in SURNAME_READINGS else []
    rest = name[len(surname):] if syllables else name
    syllables += lazy_pinyin(rest, style=Style.NORMAL, errors="default")
    parts = [p for p in (re.sub(r"[^a-z0-9]", "", s.lower()) for s in syllables) if p]
    return "".join(parts), "".join(p[0] for p in parts)


def test_name_to_pinyin_follows_the_rule_for_many_names() -> None:
    from caredesk.patients.pinyin import COMPOUND_SURNAMES

    assert all(len(s) == 2 for s in COMPOUND_SURNAMES)  # name_to_pinyin looks them up by two characters
    rng = random.Random(5)
    names = [a + b for a in CHARS[:40] for b in CHARS[40:120]]
    names += ["".join(rng.choice(CHARS) for _ in range(rng.randint(2, 4))) for _ in range(3000)]
    names += ["尉迟恭", "欧阳修", "长孙无忌", "司马 光", " 单雄信 ", "阿卜杜·热合曼", "Tom李", "李2号", "LI Ming", "吕布", "〇一",
              "", " ", "\u3000张三", "𠀀字", "ü"]
    name_to_pinyin.cache_clear()
    differ = [n for n in names if name_to_pinyin(n) != _reference_name_to_pinyin(n)]
    assert differ == []
