"""Unit tests of profile_gpu.py (CPU, seconds): architecture sizes, the KV-cache step against a
full forward, statistics and the CSV format. Run: cd profiles/tools && /usr/bin/python3 -m
unittest -v test_profile_gpu (ctest runs it as profiling_python)."""

import contextlib
import io
import unittest

import torch

import profile_gpu as pg


class ArchitectureTest(unittest.TestCase):
    def test_parameter_counts_match_the_public_opt_models(self):
        # HuggingFace facebook/opt-* parameter counts (tied LM head counted once).
        self.assertEqual(pg.parameter_count(pg.CONFIGS["opt-125m"]), 125_239_296)
        self.assertEqual(pg.parameter_count(pg.CONFIGS["opt-1.3b"]), 1_315_758_080)
        self.assertEqual(pg.parameter_count(pg.CONFIGS["opt-6.7b"]), 6_658_473_984)

    def test_built_model_has_the_counted_parameters_and_a_tied_head(self):
        for name in ("tiny-a", "tiny-b"):
            cfg = pg.CONFIGS[name]
            model = pg.build_model(cfg, torch.device("cpu"), torch.float32, seed=1)
            self.assertEqual(sum(p.numel() for p in model.parameters()), pg.parameter_count(cfg))
            self.assertIs(model.lm_head.weight, model.model.decoder.embed_tokens.weight)
            # Parameter names follow transformers' OPTForCausalLM.
            names = set(model.state_dict())
            self.assertIn("model.decoder.layers.0.self_attn.q_proj.weight", names)
            self.assertIn("model.decoder.embed_positions.weight", names)
            self.assertEqual(model.model.decoder.embed_positions.weight.shape[0], cfg["max_positions"] + 2)

    def test_cached_decode_step_equals_a_full_forward(self):
        cfg = pg.CONFIGS["tiny-a"]
        device = torch.device("cpu")
        model = pg.build_model(cfg, device, torch.float64, seed=3)
        generator = torch.Generator().manual_seed(5)
        ids = torch.randint(0, cfg["vocab"], (3, 9), generator=generator)
        n = ids.shape[1] - 1
        with torch.inference_mode():
            full_cache = pg.KVCache(cfg, 3, n + 1, device, torch.float64, generator)
            expected = model.last_logits(ids, full_cache, 0)
            cache = pg.KVCache(cfg, 3, n + 1, device, torch.float64, generator)
            model.last_logits(ids[:, :n], cache, 0)  # prefill n tokens
            got = model.last_logits(ids[:, n:], cache, n)  # one decode step attending over n + 1
        self.assertTrue(torch.allclose(expected, got, atol=1e-10), (expected - got).abs().max())

    def test_weights_are_deterministic_in_the_seed(self):
        cfg = pg.CONFIGS["tiny-a"]
        a = pg.build_model(cfg, torch.device("cpu"), torch.float32, seed=7)
        b = pg.build_model(cfg, torch.device("cpu"), torch.float32, seed=7)
        c = pg.build_model(cfg, torch.device("cpu"), torch.float32, seed=8)
        wa = a.model.decoder.layers[0].fc1.weight
        self.assertTrue(torch.equal(wa, b.model.decoder.layers[0].fc1.weight))
        self.assertFalse(torch.equal(wa, c.model.decoder.layers[0].fc1.weight))
        self.assertTrue(torch.equal(a.model.decoder.final_layer_norm.weight, torch.ones(cfg["hidden"])))


class FormatTest(unittest.TestCase):
    def test_percentiles_interpolate_between_ranks(self):
        values = [1.0, 2.0, 3.0, 4.0, 10.0]
        self.assertEqual(pg.percentile(values, 0.5), 3.0)
        self.assertAlmostEqual(pg.percentile(values, 0.1), 1.4)
        self.assertAlmostEqual(pg.percentile(values, 0.9), 7.6)
        self.assertEqual(pg.percentile([2.5], 0.9), 2.5)

    def test_latency_stats_keep_every_sample_in_order(self):
        stats = pg.latency_stats([3.0, 1.0, 2.0])
        self.assertEqual(stats["median"], "2.000000")
        self.assertEqual(stats["samples"], "3.000000;1.000000;2.000000")
        self.assertEqual(stats["repeats"], "3")

    def test_csv_rows_are_sorted_and_fields_checked(self):
        rows = [
            pg.make_row("b", "decode", stats=pg.latency_stats([1.0]), batch_size=2, context_tokens=1),
            pg.make_row("a", "decode", stats=pg.latency_stats([1.0]), batch_size=2, context_tokens=1),
            pg.make_row("a", "decode", stats=pg.latency_stats([1.0]), batch_size=1, context_tokens=16),
            pg.make_row("a", "weight_bytes", unit="bytes", method="computed", stats=pg.byte_stats(10)),
        ]
        lines = pg.csv_text(rows).splitlines()
        self.assertEqual(lines[0], ",".join(pg.CSV_COLUMNS))
        self.assertEqual([line.split(",")[:4] for line in lines[1:]],
                         [["a", "weight_bytes", "ok", "0"], ["a", "decode", "ok", "1"],
                          ["a", "decode", "ok", "2"], ["b", "decode", "ok", "2"]])
        with self.assertRaises(ValueError):
            pg.csv_text([pg.make_row("a,b", "decode")])

    def test_grids_beyond_the_model_positions_are_refused(self):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            pg.parse_args(["--tiny", "--out", "x", "--context-lengths", "1,256"])
        args = pg.parse_args(["--tiny", "--out", "x"])
        self.assertEqual(args.models, ["tiny-a", "tiny-b"])
        self.assertEqual(args.colocate, [("tiny-a", "tiny-b")])
        self.assertEqual(args.colocate_points, [(2, 16)])


if __name__ == "__main__":
    unittest.main()
