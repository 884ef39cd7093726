"""Table 3 reproduced, as a regression test.

Two kinds of check on every figure (time ratio and energy, each network, both configurations):
* the paper's target (±15% time, ±20% energy) is asserted where it holds today; the figures that
  miss it are listed in KNOWN_MISSES and reported as xfail (not strict: a model change that
  brings one within target passes, and it should then leave the list);
* our current value is recorded in RECORDED with a tight tolerance, so that any model change
  that moves a figure is seen. After a deliberate change, re-record with
  `python tests/test_paper.py` and paste its output over RECORDED.
"""

from __future__ import annotations

import pytest

from nnaccel.paper import CONFIGS, ENERGY_TOL_PCT, TABLE3_MODELS, TIME_TOL_PCT, render_markdown, reproduce

REL_TOL = 0.002  # recorded values: 0.2%, far below any target, above float noise

# (config, model): (time normalized to the fastest of the configuration, energy in MAC units)
RECORDED = {
    ("paper-8x8", "AlexNet"): (5.74807, 1.89077e+10),
    ("paper-8x8", "SqueezeNet v1.0"): (3.55123, 9.05585e+09),
    ("paper-8x8", "SqueezeNet v1.1"): (1.71022, 4.47413e+09),
    ("paper-8x8", "Tiny Darknet"): (1.91715, 4.43679e+09),
    ("paper-8x8", "1.0-SqNxt-23"): (1.19278, 3.63234e+09),
    ("paper-8x8", "1.0-SqNxt-23v2"): (1.02531, 3.04659e+09),
    ("paper-8x8", "1.0-SqNxt-23v3"): (1.01484, 2.9495e+09),
    ("paper-8x8", "1.0-SqNxt-23v4"): (1.00437, 2.85242e+09),
    ("paper-8x8", "1.0-SqNxt-23v5"): (1, 2.75873e+09),
    ("paper-8x8", "MobileNet"): (2.82, 8.32066e+09),
    ("paper-8x8", "2.0-SqNxt-23"): (3.23083, 1.04471e+10),
    ("paper-8x8", "2.0-SqNxt-23v4"): (3.15895, 9.37353e+09),
    ("paper-8x8", "2.0-SqNxt-23v5"): (3.16901, 9.6688e+09),
    ("paper-16x16", "AlexNet"): (7.81489, 1.64404e+10),
    ("paper-16x16", "SqueezeNet v1.0"): (2.54825, 5.40001e+09),
    ("paper-16x16", "SqueezeNet v1.1"): (1.29772, 2.9783e+09),
    ("paper-16x16", "Tiny Darknet"): (1.33815, 2.55054e+09),
    ("paper-16x16", "1.0-SqNxt-23"): (1.24504, 2.79514e+09),
    ("paper-16x16", "1.0-SqNxt-23v2"): (1.17157, 2.62231e+09),
    ("paper-16x16", "1.0-SqNxt-23v3"): (1.10989, 2.50123e+09),
    ("paper-16x16", "1.0-SqNxt-23v4"): (1.0482, 2.38015e+09),
    ("paper-16x16", "1.0-SqNxt-23v5"): (1, 2.2205e+09),
    ("paper-16x16", "MobileNet"): (2.73303, 8.55333e+09),
    ("paper-16x16", "2.0-SqNxt-23"): (2.77989, 7.78356e+09),
    ("paper-16x16", "2.0-SqNxt-23v4"): (2.6039, 7.34867e+09),
    ("paper-16x16", "2.0-SqNxt-23v5"): (2.55605, 7.09659e+09),
}

# (config, model, "time" | "energy") outside the paper's target today (docs/reproduction.md).
KNOWN_MISSES: set[tuple[str, str, str]] = {
    ('paper-8x8', 'SqueezeNet v1.0', 'energy'),
    ('paper-8x8', 'SqueezeNet v1.1', 'energy'),
    ('paper-8x8', '2.0-SqNxt-23', 'energy'),
    ('paper-8x8', '2.0-SqNxt-23v4', 'energy'),
    ('paper-8x8', '2.0-SqNxt-23v5', 'energy'),
    ('paper-16x16', 'SqueezeNet v1.0', 'energy'),
    ('paper-16x16', 'SqueezeNet v1.1', 'energy'),
    ('paper-16x16', 'MobileNet', 'energy'),
    ('paper-16x16', '2.0-SqNxt-23', 'energy'),
    ('paper-16x16', '2.0-SqNxt-23v4', 'energy'),
    ('paper-16x16', '2.0-SqNxt-23v5', 'energy'),
}

# The claims of nnaccel.paper.check_claims that hold today; the others are xfail.
CLAIMS_HOLD = {'b', 'c', 'e', 'f'}

CASES = [(cfg, m) for cfg in CONFIGS for m in TABLE3_MODELS]


@pytest.fixture(scope="module")
def rep():
    return reproduce()


@pytest.mark.parametrize(("config", "model"), CASES, ids=[f"{c}-{m}" for c, m in CASES])
def test_recorded(rep, config, model):
    row = rep.row(config, model)
    time, energy = RECORDED[config, model]
    assert row["time_normalized"] == pytest.approx(time, rel=REL_TOL)
    assert row["energy_mac_units"] == pytest.approx(energy, rel=REL_TOL)


@pytest.mark.parametrize(("config", "model"), CASES, ids=[f"{c}-{m}" for c, m in CASES])
@pytest.mark.parametrize("figure", ["time", "energy"])
def test_paper_target(rep, config, model, figure):
    row = rep.row(config, model)
    err, tol = ((row["time_error_pct"], TIME_TOL_PCT) if figure == "time"
                else (row["energy_error_pct"], ENERGY_TOL_PCT))
    assert err is not None  # every Table-3 row has the paper's figure on both configurations
    if (config, model, figure) in KNOWN_MISSES and abs(err) > tol:
        pytest.xfail(f"known gap: {err:+.1f}% (docs/reproduction.md)")
    assert abs(err) <= tol, f"{err:+.1f}% (target ±{tol:g}%)"


def test_fastest_is_exactly_one(rep):
    for cfg in CONFIGS:
        times = [r["time_normalized"] for r in rep.rows if r["config"] == cfg]
        assert min(times) == 1.0


@pytest.mark.parametrize("key", list("abcdefg"))
def test_claim(rep, key):
    claim = next(c for c in rep.claims if c.key == key)
    if key not in CLAIMS_HOLD and not claim.holds:
        pytest.xfail(f"does not hold today: {claim.evidence}")
    assert claim.holds, claim.evidence


def test_document_keeps_the_owner_notes(rep):
    text = render_markdown(rep, {}, "Because of X.")
    assert "Because of X." in text and "## The paper's claims" in text
    assert text.count("| 1.0-SqNxt-23v5 |") == 1


if __name__ == "__main__":  # print RECORDED from a fresh run, to paste above
    r = reproduce()
    print("RECORDED = {")
    for row in r.rows:
        print(f'    ("{row["config"]}", "{row["model"]}"): ({row["time_normalized"]:.6g},'
              f' {row["energy_mac_units"]:.6g}),')
    print("}")
