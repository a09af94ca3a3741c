"""The resolve stage's parsing of resolver output (the resolvers themselves run in
the end-to-end tests)."""

from __future__ import annotations

from nbrepro.stages.resolve import blame, parse_pins, short_message

UV_FAILURE = """  \u00d7 No solution found when resolving dependencies:
  ╰─▶ Because there is no version of scikit_learn==0.0.1 and you require
      scikit-learn==0.0.1, we can conclude that your requirements are unsatisfiable."""


def test_blame_names_the_requirement_the_resolver_mentions_first():
    reqs = ["numpy==1.26.4", "scikit-learn==0.0.1", "ipykernel"]
    assert blame(UV_FAILURE, reqs) == "scikit-learn==0.0.1"  # `_` and `-` are one name
    assert blame("error: numpy-financial not found", ["numpy", "numpy-financial"]) \
        == "numpy-financial"  # not the prefix `numpy`
    assert blame("network unreachable", reqs) is None


def test_short_message_picks_the_telling_line():
    assert short_message(UV_FAILURE).startswith("Because there is no version of scikit_learn")
    assert short_message("\x1b[31merror:\x1b[0m Failed to build `x`") == \
        "error: Failed to build `x`"
    assert short_message(None) == ""


def test_parse_pins_reads_exact_pins_only():
    text = "numpy==1.26.4 \\\n    --hash=sha256:abc\nPyYAML==6.0.1\nfoo @ file:///x\n" \
           "scikit_learn[extra]==1.4.0 ; python_version >= '3.9'\n"
    assert parse_pins(text) == {"numpy": "1.26.4", "pyyaml": "6.0.1", "scikit-learn": "1.4.0"}
