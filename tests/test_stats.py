import math

import pytest

from course_lib.stats import describe_difference, paired_difference, t_quantile_975


def test_t_quantiles_match_the_table():
    assert t_quantile_975(1) == 12.706 and t_quantile_975(4) == 2.776 and t_quantile_975(30) == 2.042
    assert t_quantile_975(60) == pytest.approx(2.000, abs=0.002)
    assert t_quantile_975(1000) == pytest.approx(1.962, abs=0.002)
    assert t_quantile_975(0) == math.inf                   # one seed: no interval
    with pytest.raises(ValueError):
        t_quantile_975(-1)


def test_paired_difference_by_hand():
    ci = paired_difference([0.99, 0.98, 0.985], [0.98, 0.975, 0.983])
    d = [0.01, 0.005, 0.002]
    mean, std = sum(d) / 3, (sum((x - sum(d) / 3) ** 2 for x in d) / 2) ** 0.5
    assert ci["mean"] == pytest.approx(mean) and ci["std"] == pytest.approx(std)
    assert ci["ci_high"] - ci["mean"] == pytest.approx(4.303 * std / 3 ** 0.5)
    assert not ci["excludes_zero"]


def test_paired_is_not_unpaired():
    # large spread between seeds, but the same small gain on every seed: paired sees it
    plain = [0.70, 0.80, 0.90, 0.60]
    ci = paired_difference([p + 0.01 for p in plain], plain)
    assert ci["excludes_zero"] and ci["ci_low"] > 0


def test_one_pair_and_bad_input():
    ci = paired_difference([1.0], [0.5])
    assert math.isnan(ci["ci_low"]) and not ci["excludes_zero"]
    assert "no conclusion" in describe_difference(ci, "x")
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        paired_difference([], [])


def test_describe_says_what_the_interval_says():
    above = describe_difference(paired_difference([0.9, 0.91, 0.92], [0.8, 0.8, 0.81]), "gap")
    assert "above zero" in above and "95% CI [" in above
    around = describe_difference(paired_difference([0.9, 0.8, 0.85], [0.85, 0.85, 0.84]), "gap")
    assert "includes zero" in around
    below = describe_difference(paired_difference([0.8, 0.8, 0.81], [0.9, 0.91, 0.92]), "gap")
    assert "below zero" in below


def test_binomial_interval_matches_the_wilson_formula_and_stays_in_range():
    from course_lib.stats import binomial_interval
    low, high = binomial_interval(177, 300)                  # 59.0%, the printed ResNet-34 result
    assert abs(low - 0.5335) < 1e-3 and abs(high - 0.6442) < 1e-3
    assert binomial_interval(0, 10)[0] == 0.0 and binomial_interval(10, 10)[1] == 1.0
    assert 0 < binomial_interval(0, 10)[1] < 0.35            # zero successes still leave room above 0
    for bad in [(5, 0), (11, 10), (-1, 10), (0.5, 10)]:
        with pytest.raises(ValueError):
            binomial_interval(*bad)


def test_describe_vs_chance_says_what_the_interval_says():
    from course_lib.stats import describe_vs_chance
    assert "above chance" in describe_vs_chance(177, 300, 0.5, "x")
    assert "includes chance" in describe_vs_chance(160, 300, 0.5, "x")      # 53.3%: [47.7%, 58.9%]
    assert "below chance" in describe_vs_chance(120, 300, 0.5, "x")


def test_modes_keep_ties_and_join_words_reads_them():
    from course_lib.stats import join_words, modes
    assert modes([1, 9, 36, 84, 126, 126, 84, 36, 9, 1]) == [4, 5]
    assert modes([3, 1]) == [0] and modes([2.0, 2.0, 2.0]) == [0, 1, 2]
    assert join_words([4]) == "4" and join_words([4, 5]) == "4 and 5" and join_words([4, 5, 6]) == "4, 5 and 6"
    with pytest.raises(ValueError):
        modes([])


def test_chance_level_balanced_imbalanced_and_one_class():
    import math
    import torch
    from course_lib.stats import chance_level
    balanced = chance_level([0, 1, 2, 3] * 5)
    assert balanced["majority_error"] == pytest.approx(0.75) == balanced["uniform_error"]
    assert balanced["entropy"] == pytest.approx(math.log(4)) == balanced["uniform_loss"]
    skewed = chance_level(torch.tensor([0] * 7 + [1] * 2 + [2]), num_classes=10)
    assert skewed["majority_class"] == 0 and skewed["majority_error"] == pytest.approx(0.3)
    assert skewed["uniform_error"] == pytest.approx(0.9) and skewed["counts"][:3] == [7, 2, 1]
    assert skewed["entropy"] == pytest.approx(-(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)))
    one = chance_level([3, 3, 3])
    assert one["majority_error"] == 0 and one["entropy"] == 0 and one["majority_class"] == 3
    with pytest.raises(ValueError):
        chance_level([])
    with pytest.raises(ValueError):
        chance_level([0, 5], num_classes=3)


def test_chance_level_of_the_bundled_digits_is_not_ninety_percent():
    from course_lib.data import load_mnist
    from course_lib.stats import chance_level
    c = chance_level(load_mnist(4000, 1000, 1000, seed=0, size=16).train.y, 10)
    assert c["majority_error"] < 0.9 and c["entropy"] < c["uniform_loss"]
