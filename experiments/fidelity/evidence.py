#!/usr/bin/python3
"""The evidence behind experiments/fidelity's settings, from DistServe's measured vLLM logs.

Usage: /usr/bin/python3 experiments/fidelity/evidence.py [../shared/fidelity/distserve-opt13b-a100]

Prints, for docs/fidelity.md "Calibration":
  1. prompts prefilled together (same first-token time) and their padding: vLLM 0.2.x's
     max_paddings rule, and the padded size that bounds max_num_batched_tokens from below;
  2. KV tokens held over time (prompt + tokens generated so far, in 16-token blocks, each request
     from its first token to its completion, generation assumed uniform), the most ever held after
     an admission, and the block threshold that best separates admissions from stalls;
  3. TPOT of each long request against those decoding beside it (a preemption by recompute would
     stand out);
  4. decode-step time minus DistServe's decode model per running sequence, with the recalibrated
     prefill charged for the other requests' prefills inside each decode window.
Standard library only; numbers, not plots.
"""
import ast, json, math, statistics, sys

DIR = sys.argv[1] if len(sys.argv) > 1 else "../shared/fidelity/distserve-opt13b-a100"
DECODE = [23.475041008414784, 0.000592934466077393, 0.060726861260369455]  # DistServe, small batch
PREFILL = [30.0, 0.104, 8.076584822611088e-06]  # recalibrated (profile_calibrated.yaml)


def load(run):
    with open(f"{DIR}/measured/{run}.exp") as f:
        reqs = ast.literal_eval(f.readline())
    reqs.sort(key=lambda r: r["issue_time"])
    t0 = reqs[0]["issue_time"]
    for r in reqs:
        r["a"], r["f"], r["c"] = (r["issue_time"] - t0, r["first_token_time"] - t0,
                                  r["complete_time"] - t0)
        r["step"] = (r["c"] - r["f"]) / max(r["output_len"] - 1, 1)
    return reqs


def running_at(reqs, t):
    return [r for r in reqs if r["f"] <= t < r["c"]]


def blocks_at(reqs, t):
    total = 0
    for r in running_at(reqs, t):
        generated = 1 + math.floor((t - r["f"]) / r["step"]) if r["output_len"] > 1 else 1
        total += math.ceil((r["prompt_len"] + generated) / 16)
    return total


def padding(reqs):
    by_first = sorted(reqs, key=lambda r: r["f"])
    pairs = [(a, b) for a, b in zip(by_first, by_first[1:]) if b["f"] - a["f"] < 0.002]
    pads = [abs(a["prompt_len"] - b["prompt_len"]) for a, b in pairs]
    padded = [2 * max(a["prompt_len"], b["prompt_len"]) for a, b in pairs]
    print(f"  {len(pairs)} pairs prefilled together; largest padding {max(pads)} tokens "
          f"(vLLM 0.2.x max_paddings 256); largest padded batch {max(padded)} tokens")


def kv(reqs):
    need_at_admission = [blocks_at(reqs, r["f"] - 0.001) + math.ceil(r["prompt_len"] / 16)
                         for r in reqs]
    stalls = []
    t = 0.0
    while t < max(r["c"] for r in reqs):
        waiting = [r for r in reqs if r["a"] <= t < r["f"]]
        if waiting:
            head = min(waiting, key=lambda r: r["a"])
            if t - head["a"] > 0.5:
                stalls.append(blocks_at(reqs, t) + math.ceil(head["prompt_len"] / 16))
        t += 0.1
    peak = max(blocks_at(reqs, r["f"] + 1e-4) for r in reqs)
    best = min(range(3000, 4135, 5), key=lambda c: sum(n > c - int(0.01 * c)
               for n in need_at_admission) + sum(n <= c - int(0.01 * c) for n in stalls))
    print(f"  most KV held just after an admission: {peak} blocks = {16 * peak} tokens "
          f"(DistServe's max_num_tokens: 66,144)")
    if stalls:
        print(f"  {len(stalls)} samples (0.1 s) with the oldest waiting request waiting > 0.5 s; "
              f"blocks needed then (running + its prompt): median {statistics.median(stalls)}")
        print(f"  threshold separating admissions from stalls best: {best} blocks = "
              f"{16 * best} tokens")


def tpot_outliers(reqs):
    ratios = []
    for r in reqs:
        if r["output_len"] < 50:
            continue
        peers = [q["tpot_ms"] for q in reqs if q is not r and q["output_len"] >= 50 and
                 min(q["c"], r["c"]) - max(q["f"], r["f"]) > 0.5 * (r["c"] - r["f"])]
        if len(peers) >= 3:
            ratios.append(r["tpot_ms"] / statistics.median(peers))
    if ratios:
        print(f"  TPOT / median TPOT of overlapping requests: max {max(ratios):.2f} over "
              f"{len(ratios)} requests (a recompute would stand out)")


def per_sequence_overhead(reqs):
    xs, ys = [], []
    for r in reqs:
        if r["output_len"] < 30:
            continue
        others = [q for q in reqs if q is not r and r["f"] < q["f"] < r["c"]]
        prefill_ms = sum(PREFILL[0] - 1 + PREFILL[1] * q["prompt_len"] +
                         PREFILL[2] * q["prompt_len"] ** 2 + 1 for q in others)
        step_ms = ((r["c"] - r["f"]) * 1e3 - prefill_ms) / (r["output_len"] - 1)
        samples = [r["f"] + (r["c"] - r["f"]) * k / 11 for k in range(1, 11)]
        n = statistics.mean(len(running_at(reqs, t)) for t in samples)
        ctx = statistics.mean(sum(q["prompt_len"] + 1 + (t - q["f"]) / q["step"]
                                  for q in running_at(reqs, t)) for t in samples)
        xs.append(n)
        ys.append(step_ms - (DECODE[0] + DECODE[1] * ctx + DECODE[2] * n))
    slope = sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)
    print(f"  decode step above DistServe's model: {slope:.2f} ms per running sequence "
          f"(least squares through 0, {len(xs)} requests with >= 30 output tokens)")


for run in ("vllm-100-1", "vllm-300-3"):
    reqs = load(run)
    print(run)
    padding(reqs)
    kv(reqs)
    tpot_outliers(reqs)
    per_sequence_overhead(reqs)
