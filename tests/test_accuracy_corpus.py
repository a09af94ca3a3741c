"""The accuracy corpus, run by the suite: no false alarm and no miss.

Every cell of the executed corpus (tests/fixtures/accuracy, made by
benchmarks/accuracy/generate.py) is judged as a check judges it, with the item's
repository settings and its second run; a normaliser change that hides a real
change or flags noise fails here, not only in the benchmark.
"""

from __future__ import annotations

import pytest

from tests.fixtures.accuracy import corpus, judge_nbrepro, load_corpus, outcome

ITEMS = load_corpus()


def test_the_corpus_is_complete_and_current():
    defined = {item.name: item for item in corpus.ITEMS}
    assert {item.name for item in ITEMS} == set(defined)
    for item in ITEMS:
        sources = [cell.source for cell in defined[item.name].cells]
        assert [c.source for c in item.stored.cells] == sources, f"regenerate {item.name}"
        assert len(item.labels) == len(sources)


@pytest.mark.parametrize("item", ITEMS, ids=[item.name for item in ITEMS])
def test_no_false_alarm_and_no_miss(item):
    verdicts = judge_nbrepro(item)
    wrong = []
    for index, label in item.labels.items():
        flagged, word = verdicts.get(index, (False, "not compared"))
        result = outcome(label, flagged, word)
        if result in ("false alarm", "miss"):
            wrong.append(f"cell {index} ({label}): {result}, nbrepro said {word}")
        if label.startswith("volatile:"):
            assert result == "volatile", f"cell {index} ({label}): nbrepro said {word}"
    assert not wrong, "\n".join(wrong)
