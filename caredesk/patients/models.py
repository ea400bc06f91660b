"""The patient archive: one record per person, their identifiers from each source system, their
visits (encounters), consents, tags and group clients. Identity fields are encrypted; exact search
uses blind indexes; fuzzy search uses pinyin, initials and the last four mobile digits."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caredesk.core import pii
from caredesk.core.fields import CodeField
from caredesk.core.indexes import NonEmptyHashIndex, hashed_lookup
from caredesk.core.pii import EncryptedTextField

from .pinyin import name_to_pinyin

VIEW_ALL_PERMISSION = "patients.view_all_patients"
NAME_MAX_LENGTH = 60
SEARCH_CAP = 2000  # matches kept per search branch (a name search for 王 stops there)

class Tag(models.Model):
    name = models.CharField(_("名称"), max_length=40, unique=True)
    color = models.CharField(_("颜色"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GroupClient(models.Model):
    """An employer or organisation sending people for checkups (团体客户)."""

    name = models.CharField(_("名称"), max_length=120, unique=True)
    contract_no = models.CharField(_("合同编号"), max_length=60, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("团体客户")
        verbose_name_plural = _("团体客户")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GroupContact(models.Model):
    group_client = models.ForeignKey(GroupClient, verbose_name=_("团体客户"), on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("姓名"), max_length=50)
    title = models.CharField(_("职务"), max_length=50, blank=True)
    phone = EncryptedTextField(_("电话"), blank=True)
    email = models.CharField(_("邮箱"), max_length=120, blank=True)

    revealable_fields = ("phone",)

    class Meta:
        verbose_name = _("团体联系人")
        verbose_name_plural = _("团体联系人")
        ordering = ["group_client", "name"]

    def __str__(self) -> str:
        return self.name


def _prefix(low: str, field: str) -> Q:
    """``field`` starts with ``low`` (a-z only) as an index-friendly range: "zs" → [zs, zt)."""
    stem = low.rstrip("z")
    if not stem:
        return Q(**{f"{field}__gte": low})
    upper = stem[:-1] + chr(ord(stem[-1]) + 1)
    return Q(**{f"{field}__gte": low, f"{field}__lt": upper})


class PatientQuerySet(models.QuerySet["Patient"]):
    def active(self) -> PatientQuerySet:
        return self.filter(merged_into__isnull=True)

    def visible_to(self, user: Any) -> PatientQuerySet:
        """Staff with ``patients.view_all_patients`` see everyone; others only patients with an
        encounter in one of their departments."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
            return self
        departments = user.visible_department_ids()
        if departments is None:
            return self
        if not departments:
            return self.none()
        return self.filter(Exists(Encounter.objects.filter(patient=OuterRef("pk"), department_id__in=departments)))

    def search(self, text: str) -> PatientQuerySet:
        """Name (contains), pinyin (full or initials, prefix), full mobile, last four digits,
        exact ID number, 门诊号/住院号 (see ``search_ids``)."""
        ids, _capped = self.search_ids(text)
        return self.among(ids)

    def among(self, ids: Collection[int]) -> PatientQuerySet:
        """Only the patients whose id is in ``ids`` (up to a few thousand), sent as ONE parameter
        (a PostgreSQL array, a JSON list on SQLite) instead of one placeholder per id: with 4,000
        ids that halves the query's time, most of it spent building and quoting the statement."""
        if not ids:
            return self.none()
        table = connections[self.db].ops.quote_name(self.model._meta.db_table)
        numbers = [int(i) for i in ids]
        param: object
        # the table name comes from the model, the ids travel as a bound parameter
        if connections[self.db].vendor == "postgresql":
            sql, param = f"{table}.id = ANY(%s::bigint[])", numbers
        else:
            sql, param = f"{table}.id IN (SELECT value FROM json_each(%s))", json.dumps(numbers)  # noqa: S608
        return self.filter(RawSQL(sql, (param,), output_field=models.BooleanField()))  # noqa: S611

    def search_ids(self, text: str) -> tuple[set[int], bool]:
        """Ids of the patients that ``text`` finds (before this queryset's own filters), and
        whether a branch stopped at ``SEARCH_CAP`` (then there are more matches than returned).

        One small indexed query per branch (an OR across columns, one of them mostly empty, makes
        SQLite's planner scan the table). "Name contains q" is two index ranges: ``name`` starts
        with q, or one of the name's suffixes from the 2nd character on does (``PatientNameSuffix``)."""
        text = (text or "").strip()
        compact = re.sub(r"\s+", "", text)
        digits = re.sub(r"[\s-]", "", text)
        if not compact:
            return set(), False
        db = self.db
        branches: list[models.QuerySet[Any]] = []

        def on_patient(q: Q) -> None:
            branches.append(Patient.objects.using(db).filter(q).order_by().values_list("pk", flat=True))

        if re.fullmatch(r"[A-Za-z]+", compact):
            on_patient(_prefix(compact.lower(), "name_pinyin"))
            on_patient(_prefix(compact.lower(), "name_initials"))
        if re.fullmatch(r"\d{4}", digits):
            on_patient(Q(mobile_last4=digits))
        if re.fullmatch(r"(\+?86)?1\d{10}", digits):
            on_patient(hashed_lookup("mobile_bidx", pii.blind_index("phone", digits)))
        if re.fullmatch(r"\d{15}|\d{17}[\dXx]", digits):
            on_patient(hashed_lookup("id_number_bidx", pii.blind_index("id_number", digits)))
        if re.fullmatch(r"[A-Za-z0-9-]{3,40}", compact):
            on_patient(hashed_lookup("outpatient_no", compact))
            on_patient(hashed_lookup("inpatient_no", compact))
        if re.search(r"[\u4e00-\u9fff]", compact) and len(compact) <= NAME_MAX_LENGTH:
            name = compact
            if connections[db].vendor == "postgresql":
                # LIKE 'q%' uses the varchar_pattern_ops index Django adds to ``name`` (a range
                # would depend on the database collation)
                on_patient(Q(name__startswith=name))
            else:  # SQLite compares in code-point order (BINARY): the range is the prefix
                on_patient(_starts_with("name", name))
            branches.append(
                PatientNameSuffix.objects.using(db)
                .filter(_starts_with("suffix", name))
                .order_by()
                .values_list("patient_id", flat=True)
            )
        ids: set[int] = set()
        capped = False
        for branch in branches:
            found = list(branch[:SEARCH_CAP])
            capped |= len(found) >= SEARCH_CAP
            ids.update(found)
        return ids, capped


def _after_prefix(text: str) -> str | None:
    """The smallest string above every string that starts with ``text`` (code-point order): its
    last character + 1, skipping the surrogates (UTF-8 cannot hold them); U+10FFFF, the last code
    point, carries over to the character before it; None when there is no such string."""
    stem = text.rstrip("\U0010ffff")
    if not stem:
        return None
    code = ord(stem[-1]) + 1
    return stem[:-1] + chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)


def _starts_with(field: str, text: str) -> Q:
    """``field`` starts with ``text`` as an index range (code-point order)."""
    upper = _after_prefix(text)
    return Q(**{f"{field}__gte": text}) & (Q(**{f"{field}__lt": upper}) if upper is not None else Q())


class Patient(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", _("男")
        FEMALE = "F", _("女")
        UNKNOWN = "U", _("未知")

    class CustomerType(models.TextChoices):
        OUTPATIENT = "outpatient", _("门诊")
        INPATIENT = "inpatient", _("住院")
        CHECKUP = "checkup", _("体检")
        GROUP = "group", _("团体")

    name = models.CharField(_("姓名"), max_length=NAME_MAX_LENGTH, db_index=True)  # prefix half of "contains"
    name_pinyin = models.CharField(_("姓名拼音"), max_length=120, blank=True)
    name_initials = models.CharField(_("拼音首字母"), max_length=30, blank=True)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    id_number = EncryptedTextField(_("身份证号"), blank=True)
    id_number_bidx = CodeField(max_length=64, blank=True)
    mobile = EncryptedTextField(_("手机号"), blank=True)
    mobile_bidx = CodeField(max_length=64, blank=True)
    mobile_last4 = models.CharField(_("手机尾号"), max_length=4, blank=True)
    other_phones = EncryptedTextField(_("其他电话"), blank=True)
    address = EncryptedTextField(_("地址"), blank=True)
    outpatient_no = CodeField(_("门诊号"), max_length=40, blank=True)
    inpatient_no = CodeField(_("住院号"), max_length=40, blank=True)
    insurance_no = models.CharField(_("医保号"), max_length=40, blank=True)
    source_channel = models.CharField(_("媒体来源"), max_length=60, blank=True)
    customer_type = models.CharField(_("客户类型"), max_length=12, choices=CustomerType.choices, default=CustomerType.OUTPATIENT)
    vip_level = models.PositiveSmallIntegerField(_("会员等级"), default=0)
    membership_card = models.CharField(_("会员卡号"), max_length=40, blank=True)
    group_client = models.ForeignKey(
        GroupClient, verbose_name=_("团体客户"), null=True, blank=True, on_delete=models.SET_NULL, related_name="patients"
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("标签"), blank=True, related_name="patients")
    notes = models.TextField(_("备注"), blank=True)
    is_deceased = models.BooleanField(_("已故"), default=False)
    deceased_at = models.DateTimeField(_("死亡时间"), null=True, blank=True)
    do_not_contact = models.BooleanField(_("拒绝联系"), default=False)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("已合并到"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged_records"
    )
    first_visit_at = models.DateTimeField(_("首次就诊"), null=True, blank=True)
    last_visit_at = models.DateTimeField(_("最近就诊"), null=True, blank=True, db_index=True)
    visit_count = models.PositiveIntegerField(_("就诊次数"), default=0)
    # Time (HL7 MSH-7) of the newest feed message applied to this record: an older one arriving
    # later is stored but not applied (out-of-order guard).
    feed_event_at = models.DateTimeField(_("接口消息时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    revealable_fields = ("id_number", "mobile", "other_phones", "address")

    objects = PatientQuerySet.as_manager()

    class Meta:
        verbose_name = _("患者")
        verbose_name_plural = _("患者")
        ordering = ["-id"]
        # Plain b-tree indexes (exact match and a-z ranges); the blind indexes and record numbers,
        # only ever matched whole, are hash indexes on PostgreSQL (``NonEmptyHashIndex``: a look-up
        # by one goes through ``hashed_lookup``). ``db_index=True`` on a CharField also
        # makes PostgreSQL build a second, varchar_pattern_ops index for LIKE, which only ``name``
        # needs (search by name prefix): the others cost an index write per patient for nothing.
        indexes = [
            models.Index(fields=["name_pinyin"], name="patient_name_pinyin"),
            models.Index(fields=["name_initials"], name="patient_name_initials"),
            NonEmptyHashIndex(fields=["id_number_bidx"], name="patient_id_number_bidx"),
            NonEmptyHashIndex(fields=["mobile_bidx"], name="patient_mobile_bidx"),
            models.Index(fields=["mobile_last4"], name="patient_mobile_last4"),
            NonEmptyHashIndex(fields=["outpatient_no"], name="patient_outpatient_no"),
            NonEmptyHashIndex(fields=["inpatient_no"], name="patient_inpatient_no"),
        ]
        permissions = [
            ("view_all_patients", _("查看全部患者")),
            ("merge_patients", _("合并重复档案")),
        ]

    def __str__(self) -> str:
        return f"{pii.mask_name(self.name)} #{self.pk}"

    # what ``refresh_derived_fields`` writes (a partial update after it names these)
    DERIVED_FIELDS = ("name", "name_pinyin", "name_initials", "id_number", "id_number_bidx", "mobile", "mobile_bidx",
                      "mobile_last4")

    def refresh_derived_fields(self) -> None:
        self.name = (self.name or "").strip()
        self.name_pinyin, self.name_initials = name_to_pinyin(self.name)
        self.name_pinyin = self.name_pinyin[:120]
        self.name_initials = self.name_initials[:30]
        self.id_number = pii.normalise("id_number", self.id_number or "")
        self.id_number_bidx = pii.blind_index("id_number", self.id_number)
        self.mobile = pii.normalise("phone", self.mobile or "")
        self.mobile_bidx = pii.blind_index("phone", self.mobile)
        self.mobile_last4 = self.mobile[-4:] if len(self.mobile) >= 4 else ""

    @property
    def other_phone_list(self) -> list[str]:
        return [p for p in (self.other_phones or "").split(",") if p.strip()]


class PatientIdentifier(models.Model):
    patient = models.ForeignKey(Patient, verbose_name=_("患者"), on_delete=models.CASCADE, related_name="identifiers")
    system = CodeField(_("来源系统"), max_length=120)
    value = CodeField(_("标识"), max_length=120)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("患者标识")
        verbose_name_plural = _("患者标识")
        constraints = [models.UniqueConstraint(fields=["system", "value"], name="patient_identifier_unique")]

    def __str__(self) -> str:
        return f"{self.system}:{self.value}"


class PatientNameSuffix(models.Model):
    """Every suffix of a patient's name that starts at its 2nd..nth character (the whole name is
    served by the ``name`` index), so "name contains q" is two index ranges: ``name`` starts with
    q, or some suffix starts with q. Written only by database triggers on ``patients_patient``
    (insert, update of name, delete; migration 0005), so every writer — ORM saves, ``bulk_create``,
    raw SQL inserts of the feeds, seeding, merges — keeps it in step. No foreign key on purpose:
    the patient merge walks the patient's relations and must not move these rows; the delete
    trigger removes them. On PostgreSQL the column is in the "C" collation so that a range is a
    prefix whatever the database's collation."""

    pk = models.CompositePrimaryKey("suffix", "patient_id")
    suffix = models.CharField(max_length=NAME_MAX_LENGTH)
    patient_id = models.BigIntegerField()

    class Meta:
        verbose_name = _("姓名后缀索引")
        verbose_name_plural = _("姓名后缀索引")
        default_permissions = ()

    def __str__(self) -> str:
        return f"#{self.patient_id}"


class EncounterQuerySet(models.QuerySet["Encounter"]):
    def visible_to(self, user: Any) -> EncounterQuerySet:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
            return self
        departments = user.visible_department_ids()
        if departments is None:
            return self
        return self.filter(department_id__in=departments)


class Encounter(models.Model):
    class Kind(models.TextChoices):
        OUTPATIENT = "outpatient", _("门诊")
        INPATIENT = "inpatient", _("住院")

    class VisitType(models.TextChoices):
        FIRST = "first", _("初诊")
        RETURN = "return", _("复诊")
        NONE = "", _("未知")

    class Outcome(models.TextChoices):
        CURED = "cured", _("治愈")
        IMPROVED = "improved", _("好转")
        NOT_CURED = "not_cured", _("未愈")
        DIED = "died", _("死亡")
        TRANSFERRED = "transferred", _("转院")
        OTHER = "other", _("其他")
        NONE = "", _("未填")

    class Status(models.TextChoices):
        PLANNED = "planned", _("预约")
        ACTIVE = "active", _("在院/就诊中")
        DISCHARGED = "discharged", _("已出院")
        CANCELLED = "cancelled", _("已取消")

    # no index of their own: encounter_patient_timeline and encounter_department_patient lead with them
    patient = models.ForeignKey(Patient, verbose_name=_("患者"), on_delete=models.CASCADE, related_name="encounters",
                                db_index=False)
    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices)
    source_system = CodeField(_("来源系统"), max_length=120)
    source_id = CodeField(_("来源流水号"), max_length=120)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("科室"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="encounters",
        db_index=False,
    )
    department_name = models.CharField(_("科室名称"), max_length=80, blank=True)
    doctor = models.ForeignKey(
        "accounts.Doctor",
        verbose_name=_("医生"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="encounters",
    )
    doctor_name = models.CharField(_("医生姓名"), max_length=60, blank=True)
    diagnosis_text = models.CharField(_("诊断"), max_length=300, blank=True)
    diagnosis_code = models.CharField(_("诊断编码"), max_length=40, blank=True)
    visit_at = models.DateTimeField(_("就诊时间"), null=True, blank=True)
    admitted_at = models.DateTimeField(_("入院时间"), null=True, blank=True)
    discharged_at = models.DateTimeField(_("出院时间"), null=True, blank=True)
    visit_type = models.CharField(_("初复诊"), max_length=8, choices=VisitType.choices, blank=True, default="")
    outcome = models.CharField(_("转归"), max_length=12, choices=Outcome.choices, blank=True, default="")
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    feed_event_at = models.DateTimeField(_("接口消息时间"), null=True, blank=True, editable=False)  # see Patient
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    scope_department_field = "department"

    objects = EncounterQuerySet.as_manager()

    class Meta:
        verbose_name = _("就诊记录")
        verbose_name_plural = _("就诊记录")
        ordering = ["-visit_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source_system", "source_id"], name="encounter_source_unique")]
        indexes = [
            models.Index(fields=["patient", "-visit_at", "-id"], name="encounter_patient_timeline"),
            models.Index(fields=["department", "patient"], name="encounter_department_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.source_id}"

    @property
    def when(self) -> Any:
        return self.visit_at or self.admitted_at or self.discharged_at or self.created_at


class Consent(models.Model):
    class Channel(models.TextChoices):
        PHONE = "phone", _("电话")
        SMS = "sms", _("短信")
        WECHAT = "wechat", _("微信")
        EMAIL = "email", _("邮件")

    class Purpose(models.TextChoices):
        FOLLOWUP = "followup", _("随访")
        SURVEY = "survey", _("满意度调查")
        MARKETING = "marketing", _("健康宣教/营销")
        NOTICE = "notice", _("就诊通知")

    patient = models.ForeignKey(Patient, verbose_name=_("患者"), on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    purpose = models.CharField(_("用途"), max_length=12, choices=Purpose.choices)
    granted = models.BooleanField(_("同意"), default=True)
    recorded_at = models.DateTimeField(_("记录时间"), default=timezone.now)
    source = models.CharField(_("来源"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("联系同意")
        verbose_name_plural = _("联系同意")
        ordering = ["channel", "purpose"]
        constraints = [models.UniqueConstraint(fields=["patient", "channel", "purpose"], name="consent_one_per_channel_purpose")]

    def __str__(self) -> str:
        return f"{self.channel}/{self.purpose}"


class Segment(models.Model):
    """A saved patient group defined by filter criteria (JSON), built by the value-analysis pages."""

    name = models.CharField(_("名称"), max_length=80)
    description = models.TextField(_("说明"), blank=True)
    criteria = models.JSONField(_("条件"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("患者分群")
        verbose_name_plural = _("患者分群")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name
