"""Default deadline policies (editable afterwards) and a starting set of subcategories."""

from django.db import migrations

# kind, category ("" = any), amount, unit
POLICIES = [
    ("first_response", "", 24, "working_hours"),
    ("statement", "", 3, "working_days"),
    ("reply", "", 5, "working_days"),
    ("statement", "medical_quality", 5, "working_days"),
]

SUBCATEGORIES = {
    "service_attitude": ["语言生硬", "推诿搪塞", "不耐心解释", "仪容举止不当"],
    "medical_quality": ["诊断疑问", "治疗效果", "护理操作", "用药问题", "检查结果"],
    "process": ["排队等候过长", "预约挂号", "检查预约", "出入院手续", "指引不清"],
    "fees": ["收费疑问", "退费", "医保报销", "价格公示"],
    "other": ["环境设施", "停车", "餐饮", "隐私保护"],
}


def forwards(apps, schema_editor):
    Policy = apps.get_model("complaints", "DeadlinePolicy")
    Subcategory = apps.get_model("complaints", "Subcategory")
    for kind, category, amount, unit in POLICIES:
        Policy.objects.get_or_create(category=category, severity="", kind=kind, defaults={"amount": amount, "unit": unit})
    for category, names in SUBCATEGORIES.items():
        for order, name in enumerate(names, start=1):
            Subcategory.objects.get_or_create(category=category, name=name, defaults={"sort_order": order * 10})


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
