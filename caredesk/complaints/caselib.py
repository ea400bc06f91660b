"""The case library (案例库): closed complaints published, de-identified, for training.

``draft_case`` copies an archived case's story into a draft with personal data replaced by
placeholders; a person from the quality office or the supervisor reviews and edits the draft and
``publish_case`` publishes it — refusing while the text still looks like it holds a phone number, an
ID number or one of the case's known names.

De-identification (``deidentify``), in this order:
1. the names known from the case (complainant, patient, staff involved, statement writers, doctors)
   → [投诉人] / [患者] / [医务人员];
2. ID-card numbers → [证件号]; mobile and landline numbers → [电话]; case, record, card and other
   numbers of 6+ digits (门诊号, 住院号, 病历号 …) → [编号];
3. dates (2026年10月3日, 10月3日, 2026-10-03, 2026/10/3) → [日期]; clock times (14:30, 下午3点) → [时间];
4. "surname + title" (王医生, 李护士长) → 某医生 / 某护士长;
5. any remaining word jieba tags as a person's name (``posseg`` flag ``nr``) → [姓名].
Automatic removal is a first pass, not a guarantee: that is why a person publishes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from caredesk.core import audit

from .models import CLOSED_STATUSES, Complaint, Status
from .models_extra import CaseStudy, CaseTag

ID_RE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
LANDLINE_RE = re.compile(r"(?<!\d)0\d{2,3}[- ]?[2-9]\d{6,7}(?!\d)")
RECORD_RE = re.compile(r"(?:(?:门诊|住院|病历|病案|就诊|医保|社保|床位|床)号?[:：\s]*)?[A-Za-z]{0,4}\d{6,}")
DATE_RE = re.compile(
    r"(?:\d{4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}\s*年\s*\d{1,2}\s*月"
)
TIME_RE = re.compile(r"(?<!\d)\d{1,2}[:：]\d{2}(?::\d{2})?(?!\d)|(?:上午|下午|晚上|凌晨|中午)\s*\d{1,2}\s*[点时](?:\s*\d{1,2}\s*分|半)?")
TITLES = "医生|大夫|主任|副主任|护士长|护士|护工|药师|技师|院长|科长|老师|师傅|先生|女士|阿姨|主管"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
    "谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
TITLE_RE = re.compile(rf"[{SURNAMES}](?:{TITLES})")
PLACEHOLDER_RE = re.compile(r"\[(?:投诉人|患者|医务人员|姓名|证件号|电话|编号|日期|时间)\]")


def _sub(pattern: re.Pattern[str], repl: str, text: str) -> tuple[str, int]:
    return pattern.subn(repl, text)


def _person_names(text: str) -> set[str]:
    """Words jieba tags as personal names (flag nr), two characters or more, outside placeholders."""
    from jieba import posseg

    from caredesk.textmining import tokenizer

    tagger = posseg.POSTokenizer(tokenizer.get())
    return {w.word for w in tagger.cut(PLACEHOLDER_RE.sub("，", text)) if w.flag == "nr" and len(w.word) >= 2}


def deidentify(text: str, known: Mapping[str, Iterable[str]] | None = None) -> tuple[str, int]:
    """Return the text with personal data replaced, and the number of replacements made.

    ``known`` maps a placeholder label (e.g. "投诉人") to the names known to belong to it."""
    if not text:
        return "", 0
    total = 0
    for label, names in (known or {}).items():
        for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
            count = text.count(name)
            if count:
                text = text.replace(name, f"[{label}]")
                total += count
            if len(name) == 3 and name[1:] in text:  # given name alone (小明 of 王小明)
                total += text.count(name[1:])
                text = text.replace(name[1:], f"[{label}]")
    for pattern, repl in ((ID_RE, "[证件号]"), (MOBILE_RE, "[电话]"), (LANDLINE_RE, "[电话]"), (DATE_RE, "[日期]"),
                          (TIME_RE, "[时间]"), (RECORD_RE, "[编号]")):
        text, n = _sub(pattern, repl, text)
        total += n
    text, n = TITLE_RE.subn(lambda m: "某" + m.group(0)[1:], text)
    total += n
    for name in sorted(_person_names(text), key=len, reverse=True):
        total += text.count(name)
        text = text.replace(name, "[姓名]")
    return text, total


def residual_findings(text: str, known: Mapping[str, Iterable[str]] | None = None) -> list[str]:
    """What still looks like personal data (used to refuse publishing)."""
    found = []
    if ID_RE.search(text):
        found.append("身份证号")
    if MOBILE_RE.search(text):
        found.append("手机号码")
    for names in (known or {}).values():
        for name in names:
            if name and len(name.strip()) >= 2 and name.strip() in text:
                found.append("当事人姓名")
                break
    return sorted(set(found))


def known_names(complaint: Complaint) -> dict[str, list[str]]:
    """Names the case itself knows, by placeholder."""
    staff = [complaint.staff_text]
    if complaint.staff_doctor_id and complaint.staff_doctor:
        staff.append(complaint.staff_doctor.name)
    if complaint.staff_user_id and complaint.staff_user:
        staff += [complaint.staff_user.display_name, complaint.staff_user.get_full_name()]
    staff += [s for s in complaint.statements.values_list("staff_name", flat=True)]
    patient = [complaint.patient.name] if complaint.patient_id and complaint.patient else []
    return {
        "投诉人": [complaint.complainant_name],
        "患者": [p for p in patient if p != complaint.complainant_name],
        "医务人员": [s for s in staff if s],
    }


def _join(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


@transaction.atomic
def draft_case(complaint: Complaint, *, acting_user: Any) -> CaseStudy:
    """Make the de-identified draft of an archived (or analysed) case; one per case."""
    # lock the case row alone (PostgreSQL refuses FOR UPDATE across the nullable joins), then read it
    Complaint.objects.select_for_update().filter(pk=complaint.pk).values_list("pk", flat=True).get()
    complaint = Complaint.objects.select_related("department", "staff_doctor", "staff_user", "patient").get(pk=complaint.pk)
    if complaint.status not in CLOSED_STATUSES or complaint.status == Status.MERGED:
        raise ValidationError("只有已归档的投诉才能编入案例库。")
    if CaseStudy.objects.filter(complaint=complaint).exists():
        raise ValidationError("该投诉已有案例。")
    known = known_names(complaint)
    count = 0

    def clean(text: str) -> str:
        nonlocal count
        out, n = deidentify(text, known)
        count += n
        return out

    narrative = clean(_join(complaint.content, f"诉求：{complaint.demands}" if complaint.demands else ""))
    handling = clean(_join(
        f"核实定性：{complaint.get_finding_display()}。{complaint.finding_note}" if complaint.finding else "",
        f"处理结果：{complaint.resolution_summary}" if complaint.resolution_summary else "",
        f"反馈：{complaint.feedback_note}" if complaint.feedback_note else "",
    ))
    lessons = clean(_join(
        f"原因分析：{complaint.root_cause}" if complaint.root_cause else "",
        f"改进建议：{complaint.analysis_note}" if complaint.analysis_note else "",
    ))
    case = CaseStudy.objects.create(
        complaint=complaint,
        title=f"{complaint.get_category_display()}投诉案例：{complaint.department.name if complaint.department else '未指定科室'}",
        category=complaint.category,
        department_name=complaint.department.name if complaint.department else "",
        narrative=narrative or "（无）",
        handling=handling,
        lessons=lessons,
        replacements=count,
        drafted_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    audit.record(actor=acting_user, verb="casestudy.drafted", target=case, complaint_id=complaint.pk, replacements=count)
    return case


def parse_tags(raw: str) -> list[str]:
    return [t for t in dict.fromkeys(t.strip()[:30] for t in re.split(r"[,，、;；\s]+", raw or "")) if t]


@transaction.atomic
def publish_case(
    case: CaseStudy, *, title: str, narrative: str, handling: str, lessons: str, tags: list[str], acting_user: Any,
) -> CaseStudy:
    """A reviewer's edited text goes live; refused while personal data is still detectable."""
    case = CaseStudy.objects.select_for_update().get(pk=case.pk)
    known = known_names(case.complaint)
    leftovers = residual_findings("\n".join([title, narrative, handling, lessons]), known)
    if leftovers:
        raise ValidationError(f"文本中仍含疑似个人信息（{'、'.join(leftovers)}），请删除后再发布。")
    case.title, case.narrative, case.handling, case.lessons = title.strip(), narrative.strip(), handling.strip(), lessons.strip()
    case.state = CaseStudy.State.PUBLISHED
    case.published_by = acting_user
    case.published_at = timezone.now()
    case.save()
    case.tags.set([CaseTag.objects.get_or_create(name=t)[0] for t in tags])
    audit.record(actor=acting_user, verb="casestudy.published", target=case, tags=len(tags))
    return case


@transaction.atomic
def withdraw_case(case: CaseStudy, *, acting_user: Any) -> CaseStudy:
    case = CaseStudy.objects.select_for_update().get(pk=case.pk)
    if case.state != CaseStudy.State.PUBLISHED:
        raise ValidationError("只有已发布的案例才能撤回。")
    case.state = CaseStudy.State.WITHDRAWN
    case.save(update_fields=["state"])
    audit.record(actor=acting_user, verb="casestudy.withdrawn", target=case)
    return case
