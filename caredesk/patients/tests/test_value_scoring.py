"""Pure value-analysis arithmetic: quintile cut points, scores, bands and the Pareto curve."""

from caredesk.patients import value


def test_quintile_positions_split_a_sorted_list_in_fifths():
    assert value.quintile_positions(10) == [2, 4, 6, 8]
    assert value.quintile_positions(1) == [0, 0, 0, 0]
    assert value.quintile_positions(0) == []


def test_a_score_counts_the_cut_points_reached():
    cuts = [2, 3, 5, 8]
    assert value.score_for(1, cuts) == 1
    assert value.score_for(2, cuts) == 2
    assert value.score_for(7, cuts) == 4
    assert value.score_for(20, cuts) == 5


def test_bands_split_recent_and_valuable_patients():
    assert value.band_for(5, 5, 5) == "key_value"
    assert value.band_for(1, 4, 4) == "key_retain"
    assert value.band_for(4, 1, 2) == "key_develop"
    assert value.band_for(2, 2, 2) == "general"


def test_the_key_group_is_the_few_patients_who_bring_eighty_percent_of_visits():
    # 2 patients with 40 visits each, 20 patients with 1 visit: 80 of 100 visits from 2 patients.
    curve = value.pareto([(40, 2), (1, 20)])
    assert curve["threshold"] == 40
    assert curve["key_patients"] == 2
    assert curve["key_visit_share"] == 80.0
    assert curve["key_patient_share"] == round(100 * 2 / 22, 1)
    assert curve["points"][0] == {"x": 0.0, "y": 0.0}
    assert curve["points"][-1] == {"x": 100.0, "y": 100.0}


def test_ties_at_the_threshold_stay_together():
    curve = value.pareto([(5, 4), (1, 5)])  # 20 of 25 visits from four patients tied at 5
    assert curve["threshold"] == 5
    assert curve["key_patients"] == 4


def test_an_empty_population_has_no_key_group():
    curve = value.pareto([])
    assert curve["threshold"] is None
    assert curve["key_patients"] == 0
    assert curve["points"] == [{"x": 0.0, "y": 0.0}]


def test_bad_filters_are_reported_in_chinese_and_dropped():
    filters, errors = value.clean_filters({"vip": "abc", "months": "0", "band": "nope", "drifting": "1"})
    assert "vip" not in filters and "band" not in filters
    assert filters["months"] == value.DEFAULT_DRIFT_MONTHS
    assert filters["drifting"] is True
    assert len(errors) == 3
    assert any("流失月数" in e for e in errors)


def test_cut_points_from_a_histogram_match_the_sorted_list():
    values = [1] * 6 + [2] * 2 + [5, 9]
    expected = [sorted(values)[p] for p in value.quintile_positions(len(values))]
    assert value.cuts_from_histogram([(5, 1), (1, 6), (9, 1), (2, 2)]) == expected == [1, 1, 2, 5]
    assert value.cuts_from_histogram([]) == []
