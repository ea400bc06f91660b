"""Suggested category and department for a complaint text, with a confidence. Suggestions only: a
person decides.

With at least ``MIN_TRAINING`` closed cases (archived or analysed), ``manage.py
complaints_train_classifier`` trains two logistic regressions on the hospital's own cases
(character n-grams + jieba words with the textmining tokenizer's hospital dictionary) and saves them
to DATA_DIR/complaints/classifier.joblib. Without a trained model, or with too few cases, a keyword
fallback is used: category keywords below, and department/doctor names found in the text (the
tokenizer knows every department and doctor name).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from .models import Category, Complaint, Status

MIN_TRAINING = 50

CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    Category.SERVICE_ATTITUDE: ("态度", "冷漠", "不耐烦", "凶", "脸色", "敷衍", "训斥", "不理", "没礼貌", "推诿", "顶撞", "嫌弃"),
    Category.MEDICAL_QUALITY: ("误诊", "漏诊", "手术", "并发症", "感染", "疗效", "用药", "开错", "护理", "打针", "输液",
                               "病情", "诊断", "治疗", "后遗症", "检查结果"),
    Category.PROCESS: ("排队", "等了", "等候", "挂号", "预约", "流程", "手续", "来回跑", "叫号", "效率", "太慢", "系统"),
    Category.FEES: ("收费", "费用", "多收", "退费", "价格", "医保", "报销", "发票", "账单", "贵", "缴费"),
    Category.OTHER: ("停车", "环境", "卫生", "饭菜", "空调", "厕所", "噪音", "电梯"),
}


@dataclass
class Suggestion:
    category: str
    category_confidence: float
    department_id: int | None
    department_name: str
    department_confidence: float
    method: str  # "model" | "keywords"

    @property
    def category_label(self) -> str:
        return str(Category(self.category).label) if self.category in Category.values else ""


def model_path() -> Path:
    return Path(settings.DATA_DIR) / "complaints" / "classifier.joblib"


def new_pipeline() -> Any:
    # scikit-learn and jieba load lazily: importing them costs seconds, and most pages never need them.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    from caredesk.textmining.sentiment import word_ngrams

    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1, max_features=100_000)),
        ("words", TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, min_df=1, max_features=50_000)),
    ])
    return Pipeline([("features", features), ("clf", LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000))])


def training_rows() -> list[tuple[str, str, int | None]]:
    """(text, category, department id) of the closed cases."""
    qs = Complaint.objects.filter(status__in=[Status.ARCHIVED, Status.ANALYSED]).order_by("id")
    return [(f"{s} {c}", cat, d) for s, c, cat, d in qs.values_list("summary", "content", "category", "department_id")]


def train(rows: list[tuple[str, str, int | None]] | None = None, path: Path | None = None) -> dict[str, Any]:
    """Train and save; returns counts. Refuses (returns trained=False) with fewer than MIN_TRAINING."""
    rows = training_rows() if rows is None else rows
    result: dict[str, Any] = {"cases": len(rows), "trained": False}
    if len(rows) < MIN_TRAINING:
        return result
    texts = [r[0] for r in rows]
    bundle: dict[str, Any] = {"version": 1, "cases": len(rows)}
    cats = [r[1] for r in rows]
    if len(set(cats)) >= 2:
        bundle["category"] = new_pipeline().fit(texts, cats)
    dept_rows = [(t, str(d)) for t, _c, d in rows if d is not None]
    if len({d for _t, d in dept_rows}) >= 2:
        bundle["department"] = new_pipeline().fit([t for t, _ in dept_rows], [d for _, d in dept_rows])
    target = path or model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    import joblib

    joblib.dump(bundle, tmp)
    tmp.replace(target)
    reset()
    result.update(trained=True, category_classes=len(set(cats)), department_classes=len({d for _t, d in dept_rows}))
    return result


_lock = threading.Lock()
_loaded: dict[str, Any] = {"mtime": None, "bundle": None}


def reset() -> None:
    with _lock:
        _loaded["mtime"] = None
        _loaded["bundle"] = None


def _bundle() -> dict[str, Any] | None:
    path = model_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    with _lock:
        if _loaded["mtime"] != mtime:
            import joblib

            _loaded["bundle"] = joblib.load(path)
            _loaded["mtime"] = mtime
        return _loaded["bundle"]


def _best(model: Any, text: str) -> tuple[str, float]:
    probs = model.predict_proba([text])[0]
    i = int(probs.argmax())
    return str(model.classes_[i]), float(probs[i])


def keyword_category(text: str) -> tuple[str, float]:
    hits = {cat: sum(1 for w in words if w in text) for cat, words in CATEGORY_KEYWORDS.items()}
    total = sum(hits.values())
    if not total:
        return Category.OTHER, 0.0
    cat = max(hits, key=lambda k: hits[k])
    return cat, round(hits[cat] / total, 2)


def keyword_department(text: str) -> tuple[int | None, float]:
    """A department or doctor named in the text (longest department name first)."""
    from caredesk.accounts.models import Department, Doctor

    departments = sorted(Department.objects.filter(is_active=True).values_list("pk", "name"), key=lambda r: -len(r[1]))
    for pk, name in departments:
        if name in text:
            return pk, 0.8
    for dept_id, name in Doctor.objects.filter(is_active=True).values_list("department_id", "name"):
        if len(name) >= 2 and name in text:
            return dept_id, 0.6
    return None, 0.0


def suggest(text: str) -> Suggestion:
    from caredesk.accounts.models import Department

    text = (text or "").strip()
    bundle = _bundle()
    method = "keywords"
    if bundle and "category" in bundle:
        category, cat_conf = _best(bundle["category"], text)
        method = "model"
    else:
        category, cat_conf = keyword_category(text)
    dept_id: int | None
    dept_id, dept_conf = keyword_department(text)
    if dept_id is None and bundle and "department" in bundle:
        raw, dept_conf = _best(bundle["department"], text)
        dept_id = int(raw)
        method = "model"
    name = Department.objects.filter(pk=dept_id).values_list("name", flat=True).first() if dept_id else None
    if dept_id and name is None:
        dept_id, dept_conf = None, 0.0
    return Suggestion(category, round(cat_conf, 2), dept_id, name or "", round(dept_conf, 2), method)
