"""A tiny token-classification model, built and saved by the tests themselves (no download).

It has the inputs, outputs and files of a ModernBERT token classifier exported to ONNX
(``input_ids``, ``attention_mask`` -> ``logits`` [batch, tokens, 2]; ``tokenizer.json``,
``config.json``): an embedding, one randomly initialised feed-forward block with a residual
connection, and a classification head. The head is forced: dimension 0 of the embedding is
10 for the words in ``flagged`` and 0 for every other token, and the head reads it as
"hallucinated", so the model's verdict on each token is known in advance while the rest of
the network is random. That lets a test check loading, tokenising, truncation and the
mapping of token labels onto characters and sentences against a real ONNX Runtime run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

HIDDEN = 16
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def build(folder: Path, words: Iterable[str], flagged: Iterable[str], *, seed: int = 0) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(SPECIALS)}
    for word in sorted({w.lower() for text in words for w in re.findall(r"\w+|[^\w\s]", text)}):
        vocab.setdefault(word, len(vocab))
    flagged = {w.lower() for w in flagged}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))

    rng = np.random.default_rng(seed)
    embedding = rng.normal(0, 0.02, (len(vocab), HIDDEN)).astype(np.float32)
    embedding[:, 0] = 0.0
    for word in flagged:
        embedding[vocab[word], 0] = 10.0
    w1 = rng.normal(0, 0.02, (HIDDEN, 4 * HIDDEN)).astype(np.float32)
    w2 = rng.normal(0, 0.02, (4 * HIDDEN, HIDDEN)).astype(np.float32)
    head = rng.normal(0, 0.02, (HIDDEN, 2)).astype(np.float32)
    head[0] = [-1.0, 1.0]  # the forced part: the flag dimension votes "hallucinated"
    bias = np.array([0.5, -0.5], dtype=np.float32)  # everything else leans "supported"

    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["embedded", "mask_3d"], ["hidden0"]),
        helper.make_node("MatMul", ["hidden0", "w1"], ["up"]),
        helper.make_node("Relu", ["up"], ["act"]),
        helper.make_node("MatMul", ["act", "w2"], ["down"]),
        helper.make_node("Add", ["hidden0", "down"], ["hidden1"]),
        helper.make_node("MatMul", ["hidden1", "head"], ["scores"]),
        helper.make_node("Add", ["scores", "bias"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-token-classifier",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "tokens", 2])],
        [
            numpy_helper.from_array(embedding, "embedding"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(head, "head"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by any onnxruntime of the last few years
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    config = {"architectures": ["TinyForTokenClassification"], "id2label": {"0": "supported", "1": "hallucinated"}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder
