"""The roofline profile sets: the paper set and the A100 set regenerate byte for byte, and the
method, with the A100 constants, stays within its measured distance of DistServe's fitted A100
model of OPT-13B (profiles/a100/ROOFLINE_CHECK.md). Run by ctest (roofline_profiles_test)."""

import contextlib
import io
import os
import sys

import pytest

SOURCE = os.environ.get("BESTSERVE_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "profiles", "a100"))
import check_roofline  # noqa: E402

paper_derive = check_roofline.derive  # profiles/paper/derive.py

# Bounds from the check (mean absolute relative error with the published constants: prefill
# 9.5%, decode within KV capacity 4.6%; maxima 30.5% and 8.1%), with a little room.
PREFILL_MEAN_BOUND = 0.10
DECODE_MEAN_BOUND = 0.05
PREFILL_MAX_BOUND = 0.32
DECODE_MAX_BOUND = 0.09


def generated(main):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main()
    return out.getvalue()


def committed(relative):
    with open(os.path.join(SOURCE, relative), encoding="utf-8", newline="") as f:
        return f.read()


def test_paper_profile_regenerates_byte_for_byte():
    assert generated(paper_derive.main) == committed("profiles/paper/profile.yaml")


def test_a100_profile_regenerates_byte_for_byte():
    import importlib.util
    spec = importlib.util.spec_from_file_location("a100_derive", os.path.join(SOURCE, "profiles", "a100", "derive.py"))
    a100 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(a100)
    assert generated(a100.main) == committed("profiles/a100/profile.yaml")


def test_family_profile_regenerates_and_keeps_the_paper_sizes():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "family_derive", os.path.join(SOURCE, "profiles", "paper_family", "derive.py"))
    family = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(family)
    text = generated(family.main)
    assert text == committed("profiles/paper_family/profile.yaml")
    # The three paper sizes are profiles/paper's, line for line (same method, same constants).
    paper = committed("profiles/paper/profile.yaml")
    for name in ("opt-125m", "opt-1.3b", "opt-6.7b"):
        def block(t):
            start = t.index(f"  {name}:\n")
            end = t.find("\n  opt-", start + 1)
            return t[start:end if end >= 0 else len(t)]
        assert block(text) == block(paper)


def distserve_json():
    shared = os.environ.get("BESTSERVE_SHARED_DIR", os.path.join(SOURCE, "..", "shared"))
    path = os.path.join(shared, check_roofline.JSON_RELATIVE)
    if not os.path.exists(path):
        pytest.skip(f"no DistServe profile at {path}: ../shared is absent (set BESTSERVE_SHARED_DIR)")
    return check_roofline.load_distserve(path)


def test_a100_constants_are_the_refit():
    co = distserve_json()
    bw = round(sum(check_roofline.kv_bandwidth_efficiency(co).values()) / 2, 2)
    _, rounded, _ = check_roofline.fit(co, bw_efficiency=bw)
    assert rounded == check_roofline.A100_CONSTANTS


def test_a100_constants_stay_close_to_distserve():
    rows = check_roofline.evaluate(distserve_json(), check_roofline.A100_CONSTANTS)
    prefill = check_roofline.summary(rows, "prefill")
    decode = check_roofline.summary(rows, "decode")
    assert prefill["n"] == 16 and decode["n"] == 39
    assert prefill["mean"] <= PREFILL_MEAN_BOUND and prefill["max"] <= PREFILL_MAX_BOUND, prefill
    assert decode["mean"] <= DECODE_MEAN_BOUND and decode["max"] <= DECODE_MAX_BOUND, decode


def test_paper_constants_error_is_what_the_report_says():
    rows = check_roofline.evaluate(distserve_json(), paper_derive.PAPER_CONSTANTS)
    assert check_roofline.summary(rows, "prefill")["mean"] == pytest.approx(0.355, abs=0.001)
    assert check_roofline.summary(rows, "decode")["mean"] == pytest.approx(1.204, abs=0.001)
