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
    ("paper-8x8", "AlexNet"): (6.12392, 1.77583e+10),
    ("paper-8x8", "SqueezeNet v1.0"): (3.61948, 7.60375e+09),
    ("paper-8x8", "SqueezeNet v1.1"): (1.72605, 3.55503e+09),
    ("paper-8x8", "Tiny Darknet"): (1.97041, 4.10785e+09),
    ("paper-8x8", "1.0-SqNxt-23"): (1.22161, 3.19345e+09),
    ("paper-8x8", "1.0-SqNxt-23v2"): (1.03776, 2.87022e+09),
    ("paper-8x8", "1.0-SqNxt-23v3"): (1.02619, 2.7861e+09),
    ("paper-8x8", "1.0-SqNxt-23v4"): (1.01463, 2.70197e+09),
    ("paper-8x8", "1.0-SqNxt-23v5"): (1, 2.61144e+09),
    ("paper-8x8", "MobileNet"): (2.71847, 7.71296e+09),
    ("paper-8x8", "2.0-SqNxt-23"): (3.18968, 8.68791e+09),
    ("paper-8x8", "2.0-SqNxt-23v4"): (3.08633, 8.38543e+09),
    ("paper-8x8", "2.0-SqNxt-23v5"): (3.07513, 8.19654e+09),
    ("paper-16x16", "AlexNet"): (8.23467, 1.54334e+10),
    ("paper-16x16", "SqueezeNet v1.0"): (2.55513, 4.64248e+09),
    ("paper-16x16", "SqueezeNet v1.1"): (1.29366, 2.36136e+09),
    ("paper-16x16", "Tiny Darknet"): (1.33534, 2.39839e+09),
    ("paper-16x16", "1.0-SqNxt-23"): (1.27305, 2.46887e+09),
    ("paper-16x16", "1.0-SqNxt-23v2"): (1.20048, 2.33841e+09),
    ("paper-16x16", "1.0-SqNxt-23v3"): (1.13339, 2.215e+09),
    ("paper-16x16", "1.0-SqNxt-23v4"): (1.0663, 2.09159e+09),
    ("paper-16x16", "1.0-SqNxt-23v5"): (1, 1.92216e+09),
    ("paper-16x16", "MobileNet"): (2.56659, 5.87255e+09),
    ("paper-16x16", "2.0-SqNxt-23"): (2.78608, 6.25646e+09),
    ("paper-16x16", "2.0-SqNxt-23v4"): (2.57736, 5.72493e+09),
    ("paper-16x16", "2.0-SqNxt-23v5"): (2.51167, 5.47359e+09),
}

# (config, model, "time" | "energy") outside the paper's target today (docs/reproduction.md).
KNOWN_MISSES: set[tuple[str, str, str]] = set()

# The claims of nnaccel.paper.check_claims that hold today; the others are xfail.
CLAIMS_HOLD = {"b", "c", "e", "f", "g"}

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
