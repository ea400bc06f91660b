from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from caredesk.textmining import evaluate, sentiment

pytestmark = pytest.mark.django_db

TINY = [
    ("护士很耐心，服务很好", "positive"),
    ("医生讲解很清楚，满意", "positive"),
    ("病房干净整洁，很舒服", "positive"),
    ("态度很差，很不满意", "negative"),
    ("排队太久，没人管", "negative"),
    ("收费太贵，乱收费", "negative"),
    ("今天去做了检查", "neutral"),
    ("下周二复查", "neutral"),
]


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_training_command_saves_a_model_under_data_dir(tmp_path: Path, textmining_dir: Path) -> None:
    source = write_csv(tmp_path / "tiny.csv", [*TINY, ("", "positive"), ("还行", "so-so")])
    call_command("textmining_train", "--csv", str(source))
    model = textmining_dir / "textmining" / "sentiment.joblib"
    assert model.exists()
    assert set(sentiment.get_model().classes_) == {"positive", "negative", "neutral"}


def test_training_with_append_combines_with_the_base_data(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "tiny.csv", TINY[:6])
    base = write_csv(tmp_path / "base.csv", TINY[:6])
    call_command("textmining_train", "--csv", str(source), "--append", "--base", str(base))
    assert sentiment.model_path().exists()


def test_training_refuses_a_file_without_label_column(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "bad.csv", TINY, header=("text", "tag"))
    with pytest.raises(CommandError, match="label"):
        call_command("textmining_train", "--csv", str(source))


def test_predict_command_adds_sentiment_score_and_themes(tmp_path: Path) -> None:
    rows_in = [("1", "停车场没有车位，排队太久，很失望"), ("2", "护士很耐心，非常满意")]
    source = write_csv(tmp_path / "in.csv", rows_in, header=("id", "text"))
    out = tmp_path / "out.csv"
    call_command("textmining_predict", "--csv", str(source), "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0].keys()) == ["id", "text", "sentiment", "score", "themes"]
    assert rows[0]["sentiment"] == "negative" and "parking" in rows[0]["themes"].split(";")
    assert rows[1]["sentiment"] == "positive" and 0 <= float(rows[1]["score"]) <= 1


def test_accuracy_evaluation_runs_on_a_small_subset() -> None:
    if evaluate.shared_data_dir() is None:
        pytest.skip("../shared/data/sentiment is absent (set CAREDESK_SHARED_DATA to run the accuracy evaluation)")
    results = evaluate.run(limit=300)
    assert set(results) >= {"baseline held-out", "ours held-out", "ours hospital (no hospital data)"}
    assert all(0.4 <= r["accuracy"] <= 1 for r in results.values())
