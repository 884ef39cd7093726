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
    ("paper-8x8", "AlexNet"): (5.8695, 2.00478e+10),
    ("paper-8x8", "SqueezeNet v1.0"): (3.57781, 8.89192e+09),
    ("paper-8x8", "SqueezeNet v1.1"): (1.72606, 4.16742e+09),
    ("paper-8x8", "Tiny Darknet"): (1.93393, 4.30086e+09),
    ("paper-8x8", "1.0-SqNxt-23"): (1.19998, 3.60807e+09),
    ("paper-8x8", "1.0-SqNxt-23v2"): (1.02802, 3.02549e+09),
    ("paper-8x8", "1.0-SqNxt-23v3"): (1.01765, 2.92841e+09),
    ("paper-8x8", "1.0-SqNxt-23v4"): (1.00729, 2.83132e+09),
    ("paper-8x8", "1.0-SqNxt-23v5"): (1, 2.73764e+09),
    ("paper-8x8", "MobileNet"): (2.77222, 8.32066e+09),
    ("paper-8x8", "2.0-SqNxt-23"): (3.21955, 9.91853e+09),
    ("paper-8x8", "2.0-SqNxt-23v4"): (3.13385, 9.13922e+09),
    ("paper-8x8", "2.0-SqNxt-23v5"): (3.13685, 9.55709e+09),
    ("paper-16x16", "AlexNet"): (7.9128, 1.67708e+10),
    ("paper-16x16", "SqueezeNet v1.0"): (2.55072, 4.95341e+09),
    ("paper-16x16", "SqueezeNet v1.1"): (1.30256, 2.59887e+09),
    ("paper-16x16", "Tiny Darknet"): (1.33471, 2.27277e+09),
    ("paper-16x16", "1.0-SqNxt-23"): (1.24744, 2.78867e+09),
    ("paper-16x16", "1.0-SqNxt-23v2"): (1.17708, 2.62231e+09),
    ("paper-16x16", "1.0-SqNxt-23v3"): (1.11373, 2.50123e+09),
    ("paper-16x16", "1.0-SqNxt-23v4"): (1.05037, 2.38015e+09),
    ("paper-16x16", "1.0-SqNxt-23v5"): (1, 2.2205e+09),
    ("paper-16x16", "MobileNet"): (2.77033, 8.55333e+09),
    ("paper-16x16", "2.0-SqNxt-23"): (2.78289, 7.5215e+09),
    ("paper-16x16", "2.0-SqNxt-23v4"): (2.60747, 7.00082e+09),
    ("paper-16x16", "2.0-SqNxt-23v5"): (2.55465, 6.69673e+09),
}

# (config, model, "time" | "energy") outside the paper's target today, each with its cause
# (docs/reproduction.md, "Where we miss, and why"); the cause is the xfail's reason.
_TILER = ("the cycles-first tiler takes mappings that move more DRAM bytes, or run WS with its"
          " 32-bit partial sums, for the cycles OS drains cost on chunks of few input channels")
KNOWN_MISSES: dict[tuple[str, str, str], str] = {
    ('paper-8x8', 'AlexNet', 'energy'): "85% DRAM: the cycles-first tiler takes conv2/conv3 tiles"
                                        " 0.5% faster that fetch their inputs twice as often",
    ('paper-8x8', 'SqueezeNet v1.0', 'energy'): _TILER,
    ('paper-8x8', 'SqueezeNet v1.1', 'energy'): _TILER,
    ('paper-8x8', '2.0-SqNxt-23', 'energy'): _TILER,
    ('paper-8x8', '2.0-SqNxt-23v4', 'energy'): _TILER,
    ('paper-8x8', '2.0-SqNxt-23v5', 'energy'): _TILER,
    ('paper-16x16', 'MobileNet', 'energy'): "its depthwise layers drain a 16x16 block of one channel"
                                            " after every one-channel step; " + _TILER,
    ('paper-16x16', '2.0-SqNxt-23', 'energy'): _TILER,
    ('paper-16x16', '2.0-SqNxt-23v4', 'energy'): _TILER,
    ('paper-16x16', '2.0-SqNxt-23v5', 'energy'): _TILER,
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
        pytest.xfail(f"known gap: {err:+.1f}%: {KNOWN_MISSES[config, model, figure]}"
                     " (docs/reproduction.md)")
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
