#!/usr/bin/env python3
"""Derive the `paper` latency profile set: OPT-125M / 1.3B / 6.7B on an NVIDIA TITAN RTX.

These numbers are DERIVED, NOT MEASURED. The paper (Jha et al. 2024) served the models with vLLM
on TITAN RTX GPUs but published no latency tables. We build a roofline-style model from public
hardware and model figures and calibrate its free constants (the per-iteration overhead and the
per-sequence overhead) so that the simulator reproduces the two capacity facts the paper reports
(PAPER.md, "Other findings"), on the paper's 4-GPU co-located system with Poisson arrivals:
  * OPT-6.7B alone meets its 40 ms/token deadlines at low rates and collapses past about
    2 requests/s. With these constants (300 s runs, seed 1): mean reward 0.98 at 1 rps, 0.92 at
    2, 0.75 at 3, 0.54 at 4, 0.03 at 8.
  * OPT-125M alone is poor except at extreme rates: OPT-1.3B alone holds 0.91 up to 24 rps and
    falls to 0.18 at 48 rps, where OPT-125M still gives 0.69.
Reproduce the calibration check with
  for r in 1 2 3 4 8 24 48; do bestserve evaluate --rate $r --duration 300 \
      --routers static:opt-6.7b,static:opt-1.3b,static:opt-125m; done

Public figures used:
  * TITAN RTX: 24 GiB GDDR6, 672 GB/s memory bandwidth, 130 TFLOP/s fp16 tensor-core peak
    (NVIDIA TITAN RTX product page / Turing whitepaper).
  * OPT configurations (Zhang et al. 2022, Table 1; HuggingFace configs): layers, hidden size,
    parameter counts; fp16 weights = 2 bytes per parameter; KV cache per token =
    2 (K and V) x layers x hidden x 2 bytes.
Model of one iteration:
  decode(b, c) = overhead + b * per_seq + max(mem(b, c), compute(b, c))
      mem      = (weight_bytes + b * c * kv_bytes_per_token) / (bandwidth * bw_efficiency)
      compute  = b * (2 * params + 4 * layers * hidden * c) / (peak * compute_efficiency)
  prefill(n) = overhead + max(weight_bytes / (bandwidth * bw_efficiency),
                              (2 * params * n + 2 * layers * hidden * n^2 / 1) / (peak * compute_efficiency))
  (the n^2 term is attention over a prompt of n tokens, counted once for the whole iteration:
  an upper bound when several prompts share an iteration.)
Run: python3 profiles/paper/derive.py > profiles/paper/profile.yaml
"""

from collections import namedtuple

GIB = 1024 ** 3

# The method's inputs: the GPU's public figures and the calibration constants. Other profile sets
# (profiles/a100/derive.py) call the same functions with their own GPU and constants.
Gpu = namedtuple("Gpu", "bandwidth peak_fp16 memory_gib")
Constants = namedtuple("Constants", "bw_efficiency compute_efficiency overhead_ms per_layer_ms per_seq_ms")

TITAN_RTX = Gpu(bandwidth=672e9,      # bytes/s
                peak_fp16=130e12,     # FLOP/s
                memory_gib=24)
PAPER_CONSTANTS = Constants(
    bw_efficiency=0.70,       # achieved fraction of peak bandwidth in decode GEMVs
    compute_efficiency=0.35,  # achieved fraction of tensor peak in prefill GEMMs
    overhead_ms=6.0,          # per-iteration scheduler / Python / sampling cost (vLLM v0.2 era)
    per_layer_ms=0.06,        # kernel launches per layer per iteration
    per_seq_ms=1.5)           # per-sequence CPU cost per iteration (sampling, output processing)

MODELS = {
    # name: (parameters, layers, hidden, activation reserve in GiB)
    "opt-125m": (125.2e6, 12, 768, 0.25),
    "opt-1.3b": (1.316e9, 24, 2048, 0.5),
    "opt-6.7b": (6.658e9, 32, 4096, 0.75),
}
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
CONTEXTS = [0, 128, 256, 512, 1024, 2048]
PREFILL_TOKENS = [1, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]


def decode_ms(params, layers, hidden, batch, context, gpu=TITAN_RTX, k=PAPER_CONSTANTS):
    weight_bytes = 2 * params
    kv = 2 * layers * hidden * 2
    mem = (weight_bytes + batch * context * kv) / (gpu.bandwidth * k.bw_efficiency)
    compute = batch * (2 * params + 4 * layers * hidden * context) / (gpu.peak_fp16 * k.compute_efficiency)
    return k.overhead_ms + k.per_layer_ms * layers + batch * k.per_seq_ms + 1e3 * max(mem, compute)


def prefill_ms(params, layers, hidden, tokens, gpu=TITAN_RTX, k=PAPER_CONSTANTS):
    weight_bytes = 2 * params
    mem = weight_bytes / (gpu.bandwidth * k.bw_efficiency)
    compute = (2 * params * tokens + 2 * layers * hidden * tokens * tokens) / (gpu.peak_fp16 * k.compute_efficiency)
    return k.overhead_ms + k.per_layer_ms * layers + 1e3 * max(mem, compute)


def fmt(x):
    return f"{x:.3f}"


def print_models(gpu, k, models=MODELS):
    """The `models:` section, on the fixed grid, for the given GPU and constants."""
    print("models:")
    for name, (params, layers, hidden, reserve_gib) in models.items():
        print(f"  {name}:")
        print(f"    parameters: {params:.0f}")
        print(f"    weight_bytes: {2 * params:.0f}")
        print(f"    kv_bytes_per_token: {2 * layers * hidden * 2}")
        print(f"    activation_reserve_bytes: {reserve_gib * GIB:.0f}")
        print("    max_batch_size: 256")
        print("    max_context_tokens: 2048")
        print("    decode_step_ms:")
        print(f"      batch_sizes: [{', '.join(str(b) for b in BATCHES)}]")
        print(f"      context_tokens: [{', '.join(str(c) for c in CONTEXTS)}]")
        print("      values:")
        for b in BATCHES:
            row = ", ".join(fmt(decode_ms(params, layers, hidden, b, c, gpu, k)) for c in CONTEXTS)
            print(f"        - [{row}]")
        print("    prefill_ms:")
        print(f"      tokens: [{', '.join(str(t) for t in PREFILL_TOKENS)}]")
        print(f"      values: [{', '.join(fmt(prefill_ms(params, layers, hidden, t, gpu, k)) for t in PREFILL_TOKENS)}]")


def main():
    k = PAPER_CONSTANTS
    print("# GENERATED by profiles/paper/derive.py: do not edit by hand; change the script and rerun.")
    print("name: paper")
    print("gpu:")
    print('  name: "NVIDIA TITAN RTX (calibrated model, not measured)"')
    print(f"  memory_gib: {TITAN_RTX.memory_gib}")
    print("extrapolation: error")
    print("provenance:")
    print("  kind: derived")
    print('  summary: "Roofline model of vLLM iterations on a TITAN RTX from public specs, calibrated so '
          'OPT-6.7B alone on 4 GPUs collapses past about 2 requests/s as the paper reports. Not measured."')
    print("  sources:")
    print('    - "NVIDIA TITAN RTX specifications: 24 GiB, 672 GB/s, 130 TFLOP/s fp16 tensor"')
    print('    - "OPT model configurations (Zhang et al. 2022): layers, hidden size, parameters"')
    print('    - "Jha et al. 2024 (arXiv 2401.07886): OPT-6.7B alone collapses past ~2 req/s on 4 GPUs"')
    print('  method: "python3 profiles/paper/derive.py > profiles/paper/profile.yaml; constants: '
          f'bandwidth efficiency {k.bw_efficiency}, compute efficiency {k.compute_efficiency}, '
          f'overhead {k.overhead_ms} ms + {k.per_layer_ms} ms/layer per iteration, {k.per_seq_ms} ms per sequence per step"')
    print_models(TITAN_RTX, k)


if __name__ == "__main__":
    main()
