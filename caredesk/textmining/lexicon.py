"""A small Chinese service-sentiment lexicon used as extra classifier features.

General evaluative words for service, care and products (not taken from any test set). A match
adds a ``__pos__`` / ``__neg__`` token to the word features; a negation in the same clause flips it
(不满意 → ``__neg__``, 不贵 → ``__pos__``). The classifier learns how much a mark weighs.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


POSITIVE = frozenset(
    _words("""
    好 很好 挺好 不错 满意 非常满意 感谢 谢谢 感激 赞 点赞 专业 耐心 细心 仔细 认真 负责 热情 周到 贴心 亲切
    温柔 和蔼 友好 礼貌 客气 及时 迅速 快捷 高效 方便 便捷 顺利 干净 整洁 卫生 舒适 舒服 安静 明亮 宽敞
    规范 透明 合理 实惠 便宜 值得 放心 安心 信任 靠谱 优秀 出色 完美 棒 推荐 清楚 明白 详细 准确 有效
    康复 痊愈 好转 温馨 体贴 尽心 尽责 用心 暖心 感动 舒心 省心 喜欢 物美价廉 物超所值 超值 精彩 精美
    流畅 稳定 实用 划算 给力 优质 满分 称赞 表扬 锦旗 妙手回春 医德 高超 精湛 尊重 到位 有序 准时
    """)
)

NEGATIVE = frozenset(
    _words("""
    差 很差 太差 不好 失望 不满 不满意 投诉 生气 气愤 愤怒 恶劣 糟糕 垃圾 烂 坑 骗 欺骗 乱收费 贵 太贵 昂贵
    慢 太慢 拖 拖延 推诿 推脱 敷衍 冷漠 冷淡 凶 态度差 不耐烦 不理 不管 不负责 粗暴 粗心 马虎 随便 怠慢
    脏 脏乱 乱 吵 吵闹 嘈杂 拥挤 臭 异味 难闻 破旧 漏水 故障 坏 坏了 出错 错误 弄错 漏 遗漏 延误 耽误
    浪费 白跑 折腾 麻烦 繁琐 复杂 混乱 排队 排长队 等太久 久等 等了半天 插队 刁难 收红包 红包 过度 乱开
    疼 痛苦 难受 后悔 遗憾 担心 害怕 不安 失误 事故 感染 误诊 无语 郁闷 崩溃 糊弄 忽悠 不清楚 听不懂
    看不懂 找不到 没人 没人管 没人理 没人接 不接 挂断 不通 一般 凑合 勉强 退货 退款 缺货 劣质 质量差 掉色
    """)
)

NEGATIONS = frozenset({"不", "没", "没有", "别", "未", "无", "非", "不太", "不是", "毫无", "从不", "不够", "并不", "不怎么"})
CLAUSE_BREAKS = frozenset("，,。.！!？?；;：:、\n ~～…")


def marks(words: list[str]) -> list[str]:
    """``__pos__`` / ``__neg__`` tokens for the lexicon words in a segmented text (negation flips)."""
    out: list[str] = []
    negated = False
    for word in words:
        if word in CLAUSE_BREAKS or not any(ch.isalnum() for ch in word):
            negated = False
            continue
        if word in NEGATIONS:
            negated = True
            continue
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if polarity:
            if negated:
                polarity = -polarity
            out.append("__pos__" if polarity > 0 else "__neg__")
    return out
