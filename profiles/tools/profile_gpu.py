#!/usr/bin/env python3
"""Measure LLM iteration latencies for bestserve's latency profiles (issue 8).

Builds OPT-style decoders from their public configurations with random weights (latency does not
depend on the weight values, and nothing is downloaded), then measures on one device:

  * prefill: one iteration that processes `batch` prompts of `prompt` tokens each, writing their
    keys and values into a pre-allocated KV cache and picking each sequence's next token;
  * decode: one iteration-level (continuous-batching) step: every one of `batch` sequences feeds
    one new token and attends over `context` tokens (context - 1 cached plus the new one) held in
    a pre-allocated cache; the step writes the new keys/values in place and picks the next tokens;
  * memory: weight bytes and KV bytes per token (computed from the shapes, and measured from the
    CUDA allocator on a GPU or from the cache tensors on a CPU, on the model's largest cache),
    and on a GPU the peak activation memory above weights and cache;
  * co-location: model A's decode step while model B runs decode steps concurrently on the same
    device (separate processes by default, as separate serving instances are; or threads with
    separate CUDA streams). Their ratio to A's solo step is the simulator's interference.

Timing: warm-up iterations first, then `--repeats` timed iterations; on CUDA each is timed with
CUDA events around the iteration (`--timer perf-counter` synchronizes and uses the wall clock
instead), on a CPU with time.perf_counter. The CSV keeps every repetition and their median, p10,
p90, mean, min and max; `bestserve profile fit` uses the medians.

What it measures is eager PyTorch (one kernel per op, no CUDA graphs, no paged attention, no
fused kernels): it is NOT vLLM, and absolute numbers will differ from a vLLM server's. The
methodology is the same on every device and for both model sources (see --check-transformers).

Outputs (written atomically: temporary file, then rename), in --out DIR:
  measurements.csv  one row per measurement point (schema below; rows sorted, fixed formats)
  provenance.json   device, driver, CUDA/PyTorch/transformers/Python versions, command line,
                    date, host, grids, model configurations (sorted keys)

CSV columns:
  model, measurement (prefill | decode | decode_colocated | weight_bytes | kv_bytes_per_token |
  activation_peak_bytes), status (ok | oom | skipped_memory | skipped_token_cap), batch_size,
  context_tokens, prompt_tokens, peer_model, peer_batch_size, peer_context_tokens, unit (ms or
  bytes), repeats, median, p10, p90, mean, min, max, method, samples (every repetition, ';'-separated).
  Integers not applicable to a row are 0; statistics of a row that was not measured are empty.

Usage (CUDA machine, the paper's models):
  /usr/bin/python3 profiles/tools/profile_gpu.py --out profiles/h100/raw --colocate all
CPU smoke test with tiny models:
  /usr/bin/python3 profiles/tools/profile_gpu.py --tiny --out /tmp/prof
Then: bestserve profile fit DIR/measurements.csv --out profiles/<gpu>/profile.yaml --name <gpu>
"""

import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import shlex
import socket
import subprocess
import sys
import threading
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as error:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        f"profile_gpu.py: cannot import PyTorch ({error}). Run it with a Python that has torch "
        "(Debian: apt-get install python3-torch, then /usr/bin/python3).\n")
    sys.exit(2)

SCHEMA = "bestserve-profile-provenance-v1"

# Public OPT configurations (Zhang et al. 2022, Table 1; the HuggingFace facebook/opt-* configs).
OPT_CONFIGS = {
    "opt-125m": {"layers": 12, "hidden": 768, "heads": 12, "ffn": 3072, "vocab": 50272, "max_positions": 2048},
    "opt-1.3b": {"layers": 24, "hidden": 2048, "heads": 32, "ffn": 8192, "vocab": 50272, "max_positions": 2048},
    "opt-6.7b": {"layers": 32, "hidden": 4096, "heads": 32, "ffn": 16384, "vocab": 50272, "max_positions": 2048},
}
# Tiny configurations with the same architecture, for CPU tests of the whole pipeline.
TINY_CONFIGS = {
    "tiny-a": {"layers": 2, "hidden": 64, "heads": 4, "ffn": 256, "vocab": 512, "max_positions": 128},
    "tiny-b": {"layers": 2, "hidden": 128, "heads": 4, "ffn": 512, "vocab": 512, "max_positions": 128},
}
CONFIGS = {**OPT_CONFIGS, **TINY_CONFIGS}

# OPT's learned positional embedding reserves two rows before position 0 (HF's offset = 2).
POSITION_OFFSET = 2

DEFAULTS = {
    "full": {
        "models": "opt-125m,opt-1.3b,opt-6.7b",
        "batch_sizes": "1,2,4,8,16,32,64,128,256",
        "context_lengths": "1,128,256,512,1024,2048",
        "prompt_lengths": "1,16,32,64,128,256,512,1024,2048",
        "prefill_batch_sizes": "1,2,4,8,16,32,64,128,256",
        "max_prefill_tokens": 32768,
        "repeats": 10,
        "warmup": 3,
        "colocate": "none",
        "colocate_points": "1:128,8:512,32:512",
    },
    "tiny": {
        "models": "tiny-a,tiny-b",
        "batch_sizes": "1,2,4",
        "context_lengths": "1,16,128",
        "prompt_lengths": "1,8,32",
        "prefill_batch_sizes": "1,2",
        "max_prefill_tokens": 64,
        "repeats": 5,
        "warmup": 1,
        "colocate": "tiny-a:tiny-b",
        "colocate_points": "2:16",
    },
}

CSV_COLUMNS = [
    "model", "measurement", "status", "batch_size", "context_tokens", "prompt_tokens",
    "peer_model", "peer_batch_size", "peer_context_tokens", "unit", "repeats",
    "median", "p10", "p90", "mean", "min", "max", "method", "samples",
]


def log(message):
    sys.stderr.write(f"profile_gpu: {message}\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------------------------
# The model: OPT's decoder (pre-LayerNorm layers, MHA with biases, ReLU FFN, learned positions,
# final LayerNorm, LM head tied to the token embedding). Module and parameter names follow
# transformers' OPTForCausalLM, so its state_dict loads into this model unchanged.


class OPTAttention(nn.Module):
    def __init__(self, cfg, factory):
        super().__init__()
        hidden = cfg["hidden"]
        self.heads = cfg["heads"]
        self.head_dim = hidden // self.heads
        self.scaling = self.head_dim ** -0.5
        self.k_proj = nn.Linear(hidden, hidden, bias=True, **factory)
        self.v_proj = nn.Linear(hidden, hidden, bias=True, **factory)
        self.q_proj = nn.Linear(hidden, hidden, bias=True, **factory)
        self.out_proj = nn.Linear(hidden, hidden, bias=True, **factory)

    def forward(self, x, k_cache, v_cache, start):
        """x: [batch, new tokens, hidden]; caches: [batch, heads, capacity, head_dim]."""
        b, t, _ = x.shape
        q = (self.q_proj(x) * self.scaling).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        end = start + t
        # In-place writes into the pre-allocated cache: no torch.cat growth per step (a serving
        # engine keeps a fixed cache; growing one would time memory copies a server never does).
        k_cache[:, :, start:end] = k
        v_cache[:, :, start:end] = v
        keys = k_cache[:, :, :end]
        values = v_cache[:, :, :end]
        scores = torch.matmul(q, keys.transpose(-1, -2))  # [b, heads, t, end]
        if t > 1:
            # Causal mask: query i (absolute position start + i) sees keys up to start + i.
            mask = torch.full((t, end), torch.finfo(scores.dtype).min, device=scores.device,
                              dtype=scores.dtype).triu(start + 1)
            scores = scores + mask
        if scores.dtype == torch.float16:
            # As transformers' OPT: softmax in fp32 for fp16 models (numerical range).
            probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(torch.float16)
        else:
            probs = F.softmax(scores, dim=-1)
        out = torch.matmul(probs, values).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.out_proj(out)


class OPTDecoderLayer(nn.Module):
    def __init__(self, cfg, factory):
        super().__init__()
        hidden = cfg["hidden"]
        self.self_attn = OPTAttention(cfg, factory)
        self.self_attn_layer_norm = nn.LayerNorm(hidden, **factory)
        self.fc1 = nn.Linear(hidden, cfg["ffn"], bias=True, **factory)
        self.fc2 = nn.Linear(cfg["ffn"], hidden, bias=True, **factory)
        self.final_layer_norm = nn.LayerNorm(hidden, **factory)

    def forward(self, x, k_cache, v_cache, start):
        x = x + self.self_attn(self.self_attn_layer_norm(x), k_cache, v_cache, start)
        return x + self.fc2(F.relu(self.fc1(self.final_layer_norm(x))))


class OPTDecoder(nn.Module):
    def __init__(self, cfg, factory):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab"], cfg["hidden"], **factory)
        self.embed_positions = nn.Embedding(cfg["max_positions"] + POSITION_OFFSET, cfg["hidden"], **factory)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden"], **factory)
        self.layers = nn.ModuleList(OPTDecoderLayer(cfg, factory) for _ in range(cfg["layers"]))


class OPTModel(nn.Module):
    def __init__(self, cfg, factory):
        super().__init__()
        self.decoder = OPTDecoder(cfg, factory)


class OPTForCausalLM(nn.Module):
    def __init__(self, cfg, device, dtype):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.cfg = cfg
        self.model = OPTModel(cfg, factory)
        self.lm_head = nn.Linear(cfg["hidden"], cfg["vocab"], bias=False, **factory)
        self.lm_head.weight = self.model.decoder.embed_tokens.weight  # tied, as in OPT

    def last_logits(self, input_ids, cache, start):
        """Logits of each sequence's last position; keys/values go to cache[start:start+t]."""
        decoder = self.model.decoder
        t = input_ids.shape[1]
        positions = torch.arange(start + POSITION_OFFSET, start + t + POSITION_OFFSET, device=input_ids.device)
        x = decoder.embed_tokens(input_ids) + decoder.embed_positions(positions)[None]
        for layer, k_cache, v_cache in zip(decoder.layers, cache.k, cache.v):
            x = layer(x, k_cache, v_cache, start)
        # A server computes logits only where it samples: the last position of each sequence.
        return self.lm_head(decoder.final_layer_norm(x[:, -1]))

    def step(self, input_ids, cache, start):
        """One serving iteration: forward plus greedy next-token choice."""
        return self.last_logits(input_ids, cache, start).argmax(dim=-1)


def build_model(cfg, device, dtype, seed):
    """Random weights as transformers initializes OPT: N(0, 0.02) matrices, zero biases, unit
    LayerNorms. Random (not zero or uninitialized) data keeps the arithmetic realistic."""
    model = OPTForCausalLM(cfg, device, dtype).eval()
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, (nn.Linear, nn.Embedding)):
                if name == "lm_head":
                    continue  # tied to embed_tokens, initialized there
                module.weight.normal_(0.0, 0.02, generator=generator)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
    return model


def parameter_count(cfg):
    """Parameters of the OPT decoder (tied LM head counted once)."""
    h, f, layers = cfg["hidden"], cfg["ffn"], cfg["layers"]
    per_layer = 4 * (h * h + h) + (h * f + f) + (f * h + h) + 2 * 2 * h
    return cfg["vocab"] * h + (cfg["max_positions"] + POSITION_OFFSET) * h + layers * per_layer + 2 * h


class KVCache:
    """Per-layer key and value tensors [batch, heads, capacity, head_dim], allocated up front."""

    def __init__(self, cfg, batch, capacity, device, dtype, generator):
        shape = (batch, cfg["heads"], capacity, cfg["hidden"] // cfg["heads"])
        self.k, self.v = [], []
        for _ in range(cfg["layers"]):
            for store in (self.k, self.v):
                tensor = torch.empty(shape, device=device, dtype=dtype)
                tensor.normal_(0.0, 1.0, generator=generator)  # stands in for earlier tokens
                store.append(tensor)

    def nbytes(self):
        return sum(t.numel() * t.element_size() for t in self.k + self.v)


# ----------------------------------------------------------------------------------------------
# Timing and statistics


class Timer:
    def __init__(self, device, kind):
        self.device = device
        self.cuda = device.type == "cuda"
        if kind == "auto":
            kind = "cuda-events" if self.cuda else "perf-counter"
        if kind == "cuda-events" and not self.cuda:
            raise SystemExit("profile_gpu.py: --timer cuda-events needs a CUDA device")
        self.kind = kind

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time_ms(self, fn):
        """Milliseconds of one call of fn, on the current CUDA stream or the wall clock."""
        if self.kind == "cuda-events":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        return (time.perf_counter() - t0) * 1e3

    def repeat(self, fn, warmup, repeats):
        for _ in range(warmup):
            fn()
        self.sync()
        return [self.time_ms(fn) for _ in range(repeats)]


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default), q in [0, 1]."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def fmt_ms(x):
    return f"{x:.6f}"


def latency_stats(samples):
    s = sorted(samples)
    return {
        "repeats": str(len(samples)),
        "median": fmt_ms(percentile(s, 0.5)),
        "p10": fmt_ms(percentile(s, 0.1)),
        "p90": fmt_ms(percentile(s, 0.9)),
        "mean": fmt_ms(sum(s) / len(s)),
        "min": fmt_ms(s[0]),
        "max": fmt_ms(s[-1]),
        "samples": ";".join(fmt_ms(x) for x in samples),
    }


def byte_stats(value):
    text = str(int(value))
    return {"repeats": "1", "median": text, "p10": text, "p90": text, "mean": text, "min": text,
            "max": text, "samples": text}


def make_row(model, measurement, status="ok", unit="ms", method="", stats=None, **point):
    row = {c: "" for c in CSV_COLUMNS}
    row.update({"model": model, "measurement": measurement, "status": status, "unit": unit,
                "method": method, "batch_size": "0", "context_tokens": "0", "prompt_tokens": "0",
                "peer_batch_size": "0", "peer_context_tokens": "0", "repeats": "0"})
    for key, value in point.items():
        row[key] = str(value)
    if stats:
        row.update(stats)
    return row


# ----------------------------------------------------------------------------------------------
# Memory checks


def available_bytes(device):
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def estimate_bytes(cfg, elem, batch, tokens_in_cache, new_tokens):
    """Upper estimate of what one iteration allocates: its KV cache plus activations (scores
    in fp32 and the input dtype, the FFN intermediate, logits)."""
    kv = 2 * cfg["layers"] * cfg["hidden"] * elem * batch * tokens_in_cache
    scores = batch * cfg["heads"] * new_tokens * tokens_in_cache * (4 + 2 * elem)
    ffn = batch * new_tokens * (cfg["ffn"] + 6 * cfg["hidden"]) * elem
    logits = batch * cfg["vocab"] * 4
    return kv + scores + ffn + logits + (64 << 20)


def is_oom(error):
    return "out of memory" in str(error).lower()


# ----------------------------------------------------------------------------------------------
# Measurements


class Profiler:
    def __init__(self, args, device, dtype):
        self.args = args
        self.device = device
        self.dtype = dtype
        self.elem = torch.tensor([], dtype=dtype).element_size()
        self.timer = Timer(device, args.timer)
        self.rows = []

    def generator(self, offset):
        g = torch.Generator(device=self.device)
        g.manual_seed(self.args.seed + offset)
        return g

    def tokens(self, cfg, batch, length, offset):
        return torch.randint(0, cfg["vocab"], (batch, length), device=self.device,
                             generator=self.generator(offset))

    def fits(self, cfg, batch, cache_tokens, new_tokens):
        need = estimate_bytes(cfg, self.elem, batch, cache_tokens, new_tokens)
        return need <= available_bytes(self.device) * self.args.memory_fraction

    def release(self):
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def measure_model(self, name, cfg, model):
        """Memory rows, then prefill and decode grids, for one resident model."""
        computed_weights = sum(p.numel() * p.element_size() for p in model.parameters())
        self.rows.append(make_row(name, "weight_bytes", unit="bytes", method="computed",
                                  stats=byte_stats(computed_weights)))
        if self.device.type == "cuda":
            self.rows.append(make_row(name, "weight_bytes", unit="bytes", method="cuda_allocator",
                                      stats=byte_stats(self.model_allocated)))
        kv_computed = 2 * cfg["layers"] * cfg["hidden"] * self.elem
        self.rows.append(make_row(name, "kv_bytes_per_token", unit="bytes", method="computed",
                                  stats=byte_stats(kv_computed)))
        self.activation_peak = 0
        self.kv_measured = None
        self.kv_measured_tokens = 0
        for batch in self.args.prefill_batch_sizes:
            for prompt in self.args.prompt_lengths:
                self.measure_prefill(name, cfg, model, batch, prompt)
        for batch in self.args.batch_sizes:
            for context in self.args.context_lengths:
                self.measure_decode(name, cfg, model, batch, context)
        if self.kv_measured is not None:
            method = "cuda_allocator" if self.device.type == "cuda" else "tensor_nbytes"
            self.rows.append(make_row(name, "kv_bytes_per_token", unit="bytes", method=method,
                                      stats=byte_stats(self.kv_measured)))
        if self.device.type == "cuda" and self.activation_peak > 0:
            self.rows.append(make_row(name, "activation_peak_bytes", unit="bytes",
                                      method="cuda_allocator", stats=byte_stats(self.activation_peak)))

    def allocate_cache(self, cfg, batch, capacity, offset):
        before = torch.cuda.memory_allocated(self.device) if self.device.type == "cuda" else 0
        cache = KVCache(cfg, batch, capacity, self.device, self.dtype, self.generator(offset))
        # Measured on the largest cache of the model: the allocator's rounding of small
        # allocations would overstate the per-token bytes.
        if batch * capacity > self.kv_measured_tokens:
            if self.device.type == "cuda":
                used = torch.cuda.memory_allocated(self.device) - before
            else:
                used = cache.nbytes()
            self.kv_measured = used // (batch * capacity)
            self.kv_measured_tokens = batch * capacity
        return cache

    def timed(self, fn):
        """Runs warm-up and timed repetitions; on CUDA also the peak memory above the start."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
        samples = self.timer.repeat(fn, self.args.warmup, self.args.repeats)
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device) - base
            self.activation_peak = max(self.activation_peak, peak)
        return samples

    def measure_prefill(self, name, cfg, model, batch, prompt):
        point = {"batch_size": batch, "prompt_tokens": prompt}
        if batch * prompt > self.args.max_prefill_tokens:
            self.rows.append(make_row(name, "prefill", status="skipped_token_cap", **point))
            return
        if not self.fits(cfg, batch, prompt, prompt):
            self.rows.append(make_row(name, "prefill", status="skipped_memory", **point))
            return
        log(f"{name} prefill batch {batch} x prompt {prompt}")
        try:
            cache = self.allocate_cache(cfg, batch, prompt, 1)
            ids = self.tokens(cfg, batch, prompt, 2)
            with torch.inference_mode():
                samples = self.timed(lambda: model.step(ids, cache, 0))
        except RuntimeError as error:
            if not is_oom(error):
                raise
            self.rows.append(make_row(name, "prefill", status="oom", **point))
            cache = ids = None
            self.release()
            return
        self.rows.append(make_row(name, "prefill", method=self.timer.kind,
                                  stats=latency_stats(samples), **point))
        del cache, ids
        self.release()

    def decode_setup(self, cfg, batch, context):
        """Cache holding `context` positions; the step writes position context - 1 and attends
        over all `context` (the same slot every repetition, so the context stays fixed)."""
        cache = self.allocate_cache(cfg, batch, context, 3)
        ids = self.tokens(cfg, batch, 1, 4)
        return cache, ids

    def measure_decode(self, name, cfg, model, batch, context):
        point = {"batch_size": batch, "context_tokens": context}
        if not self.fits(cfg, batch, context, 1):
            self.rows.append(make_row(name, "decode", status="skipped_memory", **point))
            return
        log(f"{name} decode batch {batch} context {context}")
        try:
            cache, ids = self.decode_setup(cfg, batch, context)
            with torch.inference_mode():
                samples = self.timed(lambda: model.step(ids, cache, context - 1))
        except RuntimeError as error:
            if not is_oom(error):
                raise
            self.rows.append(make_row(name, "decode", status="oom", **point))
            cache = ids = None
            self.release()
            return
        self.rows.append(make_row(name, "decode", method=self.timer.kind,
                                  stats=latency_stats(samples), **point))
        del cache, ids
        self.release()

    def measure_colocated(self, name, cfg, model, peer, batch, context):
        """A's decode step while `peer` runs decode steps at the same point concurrently."""
        point = {"batch_size": batch, "context_tokens": context, "peer_model": peer,
                 "peer_batch_size": batch, "peer_context_tokens": context}
        log(f"{name} decode batch {batch} context {context} with {peer} running ({self.args.colocation_mode})")
        cache, ids = self.decode_setup(cfg, batch, context)
        spec = {"cfg": CONFIGS[peer], "device": str(self.device), "dtype": str(self.dtype).split(".")[-1],
                "batch": batch, "context": context, "seed": self.args.seed + 100,
                "threads": self.args.threads}
        if self.args.colocation_mode == "process":
            runner = PeerProcess(spec)
        else:
            runner = PeerThread(spec, self.device, self.dtype)
        try:
            runner.start()
            with torch.inference_mode():
                samples = self.timer.repeat(lambda: model.step(ids, cache, context - 1),
                                            self.args.warmup, self.args.repeats)
        finally:
            peer_steps = runner.stop()
        method = f"{self.timer.kind};{self.args.colocation_mode};peer_steps={peer_steps}"
        if self.device.type != "cuda":
            method += ";cpu-meaningless"
        self.rows.append(make_row(name, "decode_colocated", method=method,
                                  stats=latency_stats(samples), **point))
        del cache, ids
        self.release()


def _peer_loop(spec, ready, stop, device, dtype):
    cfg = spec["cfg"]
    model = build_model(cfg, device, dtype, spec["seed"])
    generator = torch.Generator(device=device)
    generator.manual_seed(spec["seed"])
    cache = KVCache(cfg, spec["batch"], spec["context"], device, dtype, generator)
    ids = torch.randint(0, cfg["vocab"], (spec["batch"], 1), device=device, generator=generator)
    steps = 0
    with torch.inference_mode():
        model.step(ids, cache, spec["context"] - 1)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ready.set()
        while not stop.is_set():
            model.step(ids, cache, spec["context"] - 1)
            if device.type == "cuda":
                torch.cuda.current_stream(device).synchronize()  # do not queue unboundedly
            steps += 1
    return steps


def _peer_process_main(spec, ready, stop, results):
    """Entry point of the co-located peer process (module level, so 'spawn' can import it)."""
    try:
        if spec["threads"]:
            torch.set_num_threads(spec["threads"])
        device = torch.device(spec["device"])
        dtype = getattr(torch, spec["dtype"])
        results.put(("ok", _peer_loop(spec, ready, stop, device, dtype)))
    except BaseException as error:  # reported to the parent, which fails loudly
        results.put(("error", repr(error)))
        ready.set()


class PeerProcess:
    """The peer model in its own process (as separately served instances are)."""

    def __init__(self, spec):
        ctx = multiprocessing.get_context("spawn")  # CUDA cannot be used after fork
        self.ready, self.stop_event, self.results = ctx.Event(), ctx.Event(), ctx.Queue()
        self.process = ctx.Process(target=_peer_process_main,
                                   args=(spec, self.ready, self.stop_event, self.results), daemon=True)

    def start(self):
        self.process.start()
        if not self.ready.wait(timeout=900):
            raise RuntimeError("co-located peer process did not start within 900 s")
        if not self.results.empty():
            status, detail = self.results.get()
            raise RuntimeError(f"co-located peer process failed: {detail}")

    def stop(self):
        self.stop_event.set()
        try:
            status, detail = self.results.get(timeout=600)
        finally:
            self.process.join(timeout=60)
        if status != "ok":
            raise RuntimeError(f"co-located peer process failed: {detail}")
        return detail


class PeerThread:
    """The peer model in a thread of this process with its own CUDA stream."""

    def __init__(self, spec, device, dtype):
        self.spec, self.device, self.dtype = spec, device, dtype
        self.ready, self.stop_event = threading.Event(), threading.Event()
        self.steps, self.error = 0, None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        try:
            if self.device.type == "cuda":
                with torch.cuda.stream(torch.cuda.Stream(self.device)):
                    self.steps = _peer_loop(self.spec, self.ready, self.stop_event, self.device, self.dtype)
            else:
                self.steps = _peer_loop(self.spec, self.ready, self.stop_event, self.device, self.dtype)
        except BaseException as error:
            self.error = repr(error)
            self.ready.set()

    def start(self):
        self.thread.start()
        self.ready.wait()
        if self.error:
            raise RuntimeError(f"co-located peer thread failed: {self.error}")

    def stop(self):
        self.stop_event.set()
        self.thread.join()
        if self.error:
            raise RuntimeError(f"co-located peer thread failed: {self.error}")
        return self.steps


# ----------------------------------------------------------------------------------------------
# Cross-check against transformers


def check_against_transformers(name, cfg, device, dtype, seed):
    """Loads transformers' OPTForCausalLM weights (a 2-layer model of the same width) into this
    module and compares last-position logits, so the architecture timed here is OPT's. Timing
    always runs this module's forward with the pre-allocated cache, whichever source is used."""
    import transformers
    from transformers import OPTConfig
    from transformers import OPTForCausalLM as HFOPTForCausalLM

    small = dict(cfg, layers=min(2, cfg["layers"]))
    hf_config = OPTConfig(
        vocab_size=small["vocab"], hidden_size=small["hidden"], num_hidden_layers=small["layers"],
        ffn_dim=small["ffn"], num_attention_heads=small["heads"],
        max_position_embeddings=small["max_positions"], do_layer_norm_before=True,
        word_embed_proj_dim=small["hidden"], enable_bias=True, dropout=0.0, attention_dropout=0.0,
        activation_function="relu")
    torch.manual_seed(seed)
    reference = HFOPTForCausalLM(hf_config).to(device=device, dtype=dtype).eval()
    ours = OPTForCausalLM(small, device, dtype).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    ids = torch.randint(0, small["vocab"], (2, 16), device=device, generator=generator)
    with torch.inference_mode():
        expected = reference(input_ids=ids).logits[:, -1].float()
        cache = KVCache(small, 2, 16, device, dtype, generator)
        got = ours.last_logits(ids, cache, 0).float()
    diff = (expected - got).abs().max().item()
    scale = max(expected.abs().max().item(), 1e-6)
    tolerance = 2e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-4
    return {"model": name, "layers_checked": small["layers"], "max_abs_logit_diff": round(diff, 6),
            "max_abs_logit": round(scale, 6), "passed": diff <= tolerance * scale,
            "transformers": transformers.__version__}


# ----------------------------------------------------------------------------------------------
# Provenance and output


def run_quiet(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_record(device):
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        driver = run_quiet(["nvidia-smi", f"--id={device.index or 0}", "--query-gpu=driver_version",
                            "--format=csv,noheader"])
        return {"name": props.name, "memory_bytes": int(props.total_memory), "driver": driver,
                "compute_capability": f"{props.major}.{props.minor}",
                "multiprocessors": props.multi_processor_count}
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"name": f"cpu: {cpu_name()}", "memory_bytes": int(memory), "driver": None,
            "cores": os.cpu_count()}


def software_record():
    try:
        import transformers
        transformers_version = transformers.__version__
    except ImportError:
        transformers_version = "not installed"
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": None if cudnn is None else str(cudnn),
            "transformers": transformers_version, "platform": platform.platform()}


def write_atomically(path, text):
    temp = f"{path}.tmp.{os.getpid()}"
    with open(temp, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)


def csv_text(rows):
    measurement_order = {"weight_bytes": 0, "kv_bytes_per_token": 1, "activation_peak_bytes": 2,
                         "prefill": 3, "decode": 4, "decode_colocated": 5}

    def key(row):
        return (row["model"], measurement_order[row["measurement"]], row["method"] if row["unit"] == "bytes" else "",
                int(row["batch_size"]), int(row["prompt_tokens"]), int(row["context_tokens"]),
                row["peer_model"], int(row["peer_batch_size"]), int(row["peer_context_tokens"]))

    lines = [",".join(CSV_COLUMNS)]
    for row in sorted(rows, key=key):
        for column in CSV_COLUMNS:
            if any(c in row[column] for c in ',"\n'):
                raise ValueError(f"CSV field {column}={row[column]!r} must not contain , \" or newlines")
        lines.append(",".join(row[column] for column in CSV_COLUMNS))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Command line


def int_list(text):
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'")
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got '{text}'")
    return sorted(set(values))


def parse_args(argv):
    def d(key):
        return f" (default {DEFAULTS['full'][key]}; with --tiny {DEFAULTS['tiny'][key]})"

    parser = argparse.ArgumentParser(
        description="Measure prefill, decode-step, memory and co-location latencies of OPT-style "
                    "models for bestserve profiles (see docs/profiling.md).")
    parser.add_argument("--out", required=True, help="output folder (measurements.csv, provenance.json)")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny test configurations and a small grid (CPU smoke test)")
    parser.add_argument("--models", help=f"comma-separated; known: {', '.join(CONFIGS)}" + d("models"))
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float16", "bfloat16", "float32"],
                        help="auto: float16 on CUDA, float32 on CPU")
    parser.add_argument("--batch-sizes", type=int_list, help="decode batch sizes" + d("batch_sizes"))
    parser.add_argument("--context-lengths", type=int_list,
                        help="decode context tokens (attended positions including the new token)" + d("context_lengths"))
    parser.add_argument("--prompt-lengths", type=int_list, help="prefill prompt lengths" + d("prompt_lengths"))
    parser.add_argument("--prefill-batch-sizes", type=int_list, help="prompts per prefill iteration" + d("prefill_batch_sizes"))
    parser.add_argument("--max-prefill-tokens", type=int,
                        help="skip prefill points whose batch x prompt exceeds this (recorded as skipped)" + d("max_prefill_tokens"))
    parser.add_argument("--repeats", type=int, help="timed repetitions per point" + d("repeats"))
    parser.add_argument("--warmup", type=int, help="untimed warm-up iterations per point" + d("warmup"))
    parser.add_argument("--colocate", help="none, all (every ordered pair of --models), or A:B,C:D" + d("colocate"))
    parser.add_argument("--colocate-points", help="batch:context points of the co-location runs (in the decode grid)" + d("colocate_points"))
    parser.add_argument("--colocation-mode", default="process", choices=["process", "thread"],
                        help="peer in a separate process (default) or a thread with its own CUDA stream")
    parser.add_argument("--timer", default="auto", choices=["auto", "cuda-events", "perf-counter"],
                        help="auto: CUDA events on a GPU, perf_counter on a CPU")
    parser.add_argument("--check-transformers", default="auto", choices=["auto", "on", "off"],
                        help="compare the architecture with transformers' OPTForCausalLM when importable")
    parser.add_argument("--memory-fraction", type=float, default=0.9,
                        help="skip points whose estimated memory exceeds this fraction of free memory")
    parser.add_argument("--seed", type=int, default=1, help="seed of weights, caches and tokens")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    args = parser.parse_args(argv)

    defaults = DEFAULTS["tiny" if args.tiny else "full"]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, int_list(value) if key.endswith(("sizes", "lengths")) else value)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in args.models:
        if name not in CONFIGS:
            parser.error(f"unknown model '{name}'; known: {', '.join(CONFIGS)}")
    if len(set(args.models)) != len(args.models):
        parser.error("--models lists a model twice")
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    for name in args.models:
        limit = CONFIGS[name]["max_positions"]
        for flag, values in (("--context-lengths", args.context_lengths), ("--prompt-lengths", args.prompt_lengths)):
            if max(values) > limit:
                parser.error(f"{flag}: {max(values)} exceeds {name}'s {limit} positions")
    if args.colocate == "none":
        args.colocate = []
    elif args.colocate == "all":
        args.colocate = [(a, b) for a in args.models for b in args.models if a != b]
    else:
        pairs = []
        for item in args.colocate.split(","):
            parts = item.split(":")
            if len(parts) != 2 or parts[0] not in args.models or parts[1] not in CONFIGS:
                parser.error(f"--colocate: expected A:B with A in --models, got '{item}'")
            pairs.append((parts[0], parts[1]))
        args.colocate = pairs
    points = []
    for item in args.colocate_points.split(","):
        try:
            batch, context = (int(x) for x in item.split(":"))
        except ValueError:
            parser.error(f"--colocate-points: expected batch:context, got '{item}'")
        if args.colocate and (batch not in args.batch_sizes or context not in args.context_lengths):
            parser.error(f"--colocate-points: {item} must be a point of the decode grid "
                         "(its solo latency is the baseline of the ratio)")
        points.append((batch, context))
    args.colocate_points = points
    return args


def main(argv):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("profile_gpu.py: --device cuda but torch.cuda.is_available() is False")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
    if args.dtype == "auto":
        args.dtype = "float16" if device.type == "cuda" else "float32"
    dtype = getattr(torch, args.dtype)
    os.makedirs(args.out, exist_ok=True)

    checks = []
    want_check = args.check_transformers
    if want_check != "off":
        try:
            import transformers  # noqa: F401
            have_transformers = True
        except ImportError:
            have_transformers = False
            if want_check == "on":
                raise SystemExit("profile_gpu.py: --check-transformers on, but transformers is not importable")
        if have_transformers:
            for name in args.models:
                result = check_against_transformers(name, CONFIGS[name], device, dtype, args.seed)
                log(f"{name}: transformers cross-check {result}")
                if not result["passed"]:
                    raise SystemExit(f"profile_gpu.py: {name} differs from transformers' OPT: {result}")
                checks.append(result)

    profiler = Profiler(args, device, dtype)
    started = datetime.datetime.now(datetime.timezone.utc)
    for name in args.models:
        cfg = CONFIGS[name]
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            before = torch.cuda.memory_allocated(device)
        model = build_model(cfg, device, dtype, args.seed)
        profiler.model_allocated = (torch.cuda.memory_allocated(device) - before) if device.type == "cuda" else 0
        profiler.measure_model(name, cfg, model)
        for a, b in args.colocate:
            if a != name:
                continue
            for batch, context in args.colocate_points:
                profiler.measure_colocated(name, cfg, model, b, batch, context)
        del model
        profiler.release()
    finished = datetime.datetime.now(datetime.timezone.utc)

    models = {}
    for name in sorted(set(args.models) | {b for _, b in args.colocate}):
        models[name] = dict(CONFIGS[name], parameters=parameter_count(CONFIGS[name]))
    notes = [
        "Eager PyTorch OPT decoder with random weights and a pre-allocated KV cache; not vLLM "
        "(no paged attention, CUDA graphs or fused kernels).",
        "decode context_tokens = positions attended by the step, including the new token.",
        "prefill: batch_size prompts of prompt_tokens each in one iteration.",
    ]
    if device.type != "cuda":
        notes.append("Measured on a CPU: a pipeline test, not a GPU profile; co-location ratios are meaningless.")
    provenance = {
        "schema": SCHEMA,
        "gpu": device_record(device),
        "device": device.type,
        "dtype": args.dtype,
        "timer": profiler.timer.kind,
        "software": software_record(),
        "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv[:1] + argv),
        "date": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "finished": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": socket.gethostname(),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seed": args.seed,
        "torch_threads": torch.get_num_threads(),
        "colocation_mode": args.colocation_mode,
        "grid": {
            "batch_sizes": args.batch_sizes,
            "context_lengths": args.context_lengths,
            "prompt_lengths": args.prompt_lengths,
            "prefill_batch_sizes": args.prefill_batch_sizes,
            "max_prefill_tokens": args.max_prefill_tokens,
            "memory_fraction": args.memory_fraction,
        },
        "models": models,
        "transformers_check": checks,
        "notes": notes,
    }
    csv_path = os.path.join(args.out, "measurements.csv")
    write_atomically(csv_path, csv_text(profiler.rows))
    write_atomically(os.path.join(args.out, "provenance.json"),
                     json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    log(f"wrote {csv_path} ({len(profiler.rows)} rows) and provenance.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
