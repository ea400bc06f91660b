"""Editable hospital dictionary and theme rules (supervisor, admin). Every change is audited; the
tokenizer and the theme matcher reload (this process at once, other processes within a minute)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from . import actions, tokenizer
from .forms import ThemeForm, WordForm
from .models import DictionaryWord, ThemeRule
from .themes import DEFAULT_THEMES


@login_required
@permission_required("textmining.change_dictionaryword", raise_exception=True)
def dictionary(request: HttpRequest) -> HttpResponse:
    form = WordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        actions.save_dictionary_word(word=d["word"], freq=d["freq"], tag=d["tag"].strip(), active=d["active"],
                                     acting_user=request.user)
        messages.success(request, _("已保存词语“%(w)s”，分词词典已重新加载。") % {"w": d["word"]})
        return redirect("textmining:dictionary")
    edit = request.GET.get("edit")
    if request.method == "GET" and edit:
        word = DictionaryWord.objects.filter(word=edit).first()
        if word:
            form = WordForm(initial={"word": word.word, "freq": word.freq, "tag": word.tag, "active": word.active})
    sample = request.GET.get("sample", "")
    return render(request, "textmining/dictionary.html", {
        "form": form, "words": DictionaryWord.objects.all(), "shipped": tokenizer.shipped_words(),
        "sample": sample, "segmented": tokenizer.cut(sample) if sample else [],
    })


@login_required
@permission_required("textmining.change_themerule", raise_exception=True)
def theme_rules(request: HttpRequest) -> HttpResponse:
    form = ThemeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            actions.save_theme_rule(code=d["code"], label=d["label"], keywords=form.keyword_list(), active=d["active"],
                                    acting_user=request.user)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已保存主题“%(t)s”。") % {"t": d["label"]})
            return redirect("textmining:themes")
    rules = list(ThemeRule.objects.all())
    edit = request.GET.get("edit")
    if request.method == "GET" and edit:
        rule = next((r for r in rules if r.code == edit), None)
        if rule:
            form = ThemeForm(initial={"code": rule.code, "label": rule.label, "keywords": rule.keywords, "active": rule.active})
        elif edit in DEFAULT_THEMES:
            label, words = DEFAULT_THEMES[edit]
            form = ThemeForm(initial={"code": edit, "label": label, "keywords": "\n".join(words), "active": True})
    defaults = [] if rules else [{"code": c, "label": lbl, "keywords": "、".join(w)} for c, (lbl, w) in DEFAULT_THEMES.items()]
    return render(request, "textmining/themes.html", {"form": form, "rules": rules, "defaults": defaults})
