"""A small two-page satisfaction questionnaire for tests (browser tests import it too)."""

from __future__ import annotations

from typing import Any

SPEC: dict[str, Any] = {
    "code": "survey-test",
    "title": "门诊满意度调查（测试）",
    "purpose": "survey",
    "introduction": "感谢您抽出两分钟时间。",
    "thanks": "感谢您的宝贵意见！",
    "sections": [
        {"title": "就诊体验", "items": [
            {"link_id": "attitude", "text": "医护人员的服务态度", "kind": "rating", "required": True, "dimension": "attitude"},
            {"link_id": "waiting", "text": "候诊时间", "kind": "rating", "required": True, "dimension": "efficiency"},
            {"link_id": "clean", "text": "环境是否整洁", "kind": "single", "dimension": "environment",
             "choices": [{"code": "yes", "label": "整洁", "score": 5}, {"code": "no", "label": "不整洁", "score": 1}]},
        ]},
        {"title": "总体评价", "items": [
            {"link_id": "recommend", "text": "您愿意向亲友推荐我院吗？", "kind": "recommend", "required": True},
            {"link_id": "why", "text": "主要原因是什么？", "kind": "text",
             "enable_when": [{"item": "recommend", "op": "<=", "value": 6}]},
            {"link_id": "comment", "text": "其他意见和建议", "kind": "textarea"},
        ]},
    ],
}
