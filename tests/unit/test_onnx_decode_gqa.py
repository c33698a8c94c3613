"""Alta's decode loop on GroupQueryAttention graphs (the kind onnxruntime-genai's builder makes).

One random 2-layer Qwen2 (GQA 4/2, head size 16) is exported twice from the same weights: by the
project's optimum path (``position_ids``, a cache concatenated every step, every row's logits) and
by hand as a GroupQueryAttention graph (no ``position_ids``, rotary inside the attention op, past and
present sharing one buffer, the LM head on the last row only). Real ONNX Runtime sessions run both;
the loop must write the same greedy tokens on each, and the same ones PyTorch writes.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from backend.engines.decoding import KVDecoder, SamplingParams, cpu_session
from export.onnx_export import export_fp32

SHAPE = {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
         "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False}
HEAD = SHAPE["hidden_size"] // SHAPE["num_attention_heads"]
PROMPT = [int(t) for t in np.random.default_rng(7).integers(3, SHAPE["vocab_size"], 40)]
NEW = 24


def gqa_graph(state: dict[str, torch.Tensor], path, last_row: bool = True) -> None:
    """The model as a GroupQueryAttention graph, laid out as onnxruntime-genai's builder lays it out."""
    heads, kv, layers = SHAPE["num_attention_heads"], SHAPE["num_key_value_heads"], SHAPE["num_hidden_layers"]
    eps = SHAPE["rms_norm_eps"]
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value) -> str:  # noqa: ANN001
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(key: str, transpose: bool = False) -> str:
        array = state[key].detach().float().numpy()
        return const(key, np.ascontiguousarray(array.T if transpose else array))

    def node(op: str, inputs: list[str], name: str, domain: str = "", outputs: int = 1, **attrs) -> list[str]:
        outs = [f"{name}/out{i}" for i in range(outputs)]
        nodes.append(helper.make_node(op, inputs, outs, name=name, domain=domain, **attrs))
        return outs

    def rms(x: str, key: str, name: str) -> str:
        square = node("Mul", [x, x], f"{name}/sq")[0]
        mean = node("ReduceMean", [square, const(f"{name}/axes", np.array([-1], np.int64))], f"{name}/mean")[0]
        root = node("Sqrt", [node("Add", [mean, const(f"{name}/eps", np.float32(eps))], f"{name}/add")[0]],
                    f"{name}/sqrt")[0]
        return node("Mul", [node("Div", [x, root], f"{name}/div")[0], weight(key)], f"{name}/scale")[0]

    inv_freq = 1.0 / SHAPE["rope_theta"] ** (np.arange(0, HEAD, 2, dtype=np.float64) / HEAD)
    freqs = np.outer(np.arange(SHAPE["max_position_embeddings"]), inv_freq)
    cos, sin = const("cos_cache", np.cos(freqs).astype(np.float32)), const("sin_cache", np.sin(freqs).astype(np.float32))
    mask_sum = node("ReduceSum", ["attention_mask", const("axis1", np.array([1], np.int64))], "mask/sum", keepdims=0)[0]
    seqlens = node("Cast", [node("Sub", [mask_sum, const("one", np.int64(1))], "mask/sub")[0]], "mask/seqlens",
                   to=TensorProto.INT32)[0]
    total = node("Cast", [node("Gather", [node("Shape", ["attention_mask"], "mask/shape")[0],
                                          const("idx1", np.int64(1))], "mask/total", axis=0)[0]],
                 "mask/total32", to=TensorProto.INT32)[0]
    x = node("Gather", [weight("model.embed_tokens.weight"), "input_ids"], "embed")[0]
    for i in range(layers):
        p = f"model.layers.{i}"
        h = rms(x, f"{p}.input_layernorm.weight", f"l{i}/ln1")
        qkv_w = np.concatenate([state[f"{p}.self_attn.{k}_proj.weight"].float().numpy() for k in "qkv"]).T
        qkv_b = np.concatenate([state[f"{p}.self_attn.{k}_proj.bias"].float().numpy() for k in "qkv"])
        qkv = node("Add", [node("MatMul", [h, const(f"{p}.qkv.w", np.ascontiguousarray(qkv_w))], f"l{i}/qkv")[0],
                           const(f"{p}.qkv.b", qkv_b)], f"l{i}/qkv_bias")[0]
        attn, _k, _v = node("GroupQueryAttention",
                            [qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens, total,
                             cos, sin], f"l{i}/gqa", domain="com.microsoft", outputs=3, num_heads=heads,
                            kv_num_heads=kv, scale=float(HEAD ** -0.5), do_rotary=1, rotary_interleaved=0)
        nodes[-1].output[1:] = [f"present.{i}.key", f"present.{i}.value"]
        x = node("Add", [x, node("MatMul", [attn, weight(f"{p}.self_attn.o_proj.weight", True)], f"l{i}/o")[0]],
                 f"l{i}/res1")[0]
        h = rms(x, f"{p}.post_attention_layernorm.weight", f"l{i}/ln2")
        gate = node("MatMul", [h, weight(f"{p}.mlp.gate_proj.weight", True)], f"l{i}/gate")[0]
        silu = node("Mul", [gate, node("Sigmoid", [gate], f"l{i}/sig")[0]], f"l{i}/silu")[0]
        up = node("MatMul", [h, weight(f"{p}.mlp.up_proj.weight", True)], f"l{i}/up")[0]
        down = node("MatMul", [node("Mul", [silu, up], f"l{i}/act")[0], weight(f"{p}.mlp.down_proj.weight", True)],
                    f"l{i}/down")[0]
        x = node("Add", [x, down], f"l{i}/res2")[0]
    x = rms(x, "model.norm.weight", "final")
    if last_row:  # the builder's prune_lm_head: Gather(-1) + Unsqueeze before the LM head
        x = node("Unsqueeze", [node("Gather", [x, const("last", np.int64(-1))], "prune/gather", axis=1)[0],
                               const("axis1b", np.array([1], np.int64))], "prune/unsqueeze")[0]
    nodes.append(helper.make_node("MatMul", [x, weight("lm_head.weight", True)], ["logits"], name="lm_head"))
    cache = ["batch_size", kv, "past_sequence_length", "kv_cache_dim"]
    present = ["batch_size", kv, "total_sequence_length", "kv_cache_dim"]
    kinds = [(i, kind) for i in range(layers) for kind in ("key", "value")]
    graph = helper.make_graph(
        nodes, "tiny-gqa",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
         *(helper.make_tensor_value_info(f"past_key_values.{i}.{k}", TensorProto.FLOAT, cache) for i, k in kinds)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                       ["batch_size", 1 if last_row else "sequence_length", SHAPE["vocab_size"]]),
         *(helper.make_tensor_value_info(f"present.{i}.{k}", TensorProto.FLOAT, present) for i, k in kinds)],
        inits)
    model = helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 18),
                                                                   helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """(optimum graph, GQA last-row graph, GQA every-row graph, PyTorch's greedy tokens), one set of weights."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    root = tmp_path_factory.mktemp("gqa")
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(**SHAPE, dtype="float32")).eval()
    model.save_pretrained(root / "checkpoint", safe_serialization=True)
    optimum = export_fp32(root / "checkpoint", root / "optimum")
    state = model.state_dict()
    gqa_graph(state, root / "gqa_last.onnx", last_row=True)
    gqa_graph(state, root / "gqa_full.onnx", last_row=False)
    with torch.inference_mode():
        out = model.generate(torch.tensor([PROMPT]), max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    return optimum, root / "gqa_last.onnx", root / "gqa_full.onnx", out[0, len(PROMPT):].tolist()


def greedy(graph, prefill_chunk: int = 0) -> list[int]:  # noqa: ANN001
    decoder = KVDecoder(cpu_session(graph, 1), 256, prefill_chunk, head_dim=HEAD)
    return list(decoder.tokens(PROMPT, SamplingParams(max_new_tokens=NEW)))


def test_the_gqa_graph_writes_the_optimum_graphs_greedy_tokens(graphs):
    optimum, last, full, torch_tokens = graphs
    old = greedy(optimum)
    assert len(old) == NEW
    assert old == torch_tokens  # the old path on the project's own export is PyTorch's greedy output
    assert greedy(last) == old
    assert greedy(full) == old


def test_the_loop_reads_the_graph_kind(graphs):
    optimum, last, full, _ = graphs
    old = KVDecoder(cpu_session(optimum), 256)
    assert (old.has_position_ids, old.shared_cache, old.last_row_logits, old.head_dim) == (True, False, False, HEAD)
    new = KVDecoder(cpu_session(last), 256, head_dim=HEAD)
    assert (new.has_position_ids, new.shared_cache, new.last_row_logits) == (False, True, True)
    assert KVDecoder(cpu_session(full), 256, head_dim=HEAD).last_row_logits is False
    with pytest.raises(ValueError, match="head_dim"):  # the builder leaves the head size symbolic
        KVDecoder(cpu_session(last), 256)


def test_chunked_prefill_and_multi_token_steps_fill_the_shared_buffer_in_place(graphs):
    """Prefill in chunks of 7 (subsequent prompts on a filled cache) gives the same tokens, and the
    shared buffer holds the optimum graph's cache row for row, with nothing written past the end."""
    optimum, last, _, _ = graphs
    assert greedy(last, prefill_chunk=7) == greedy(optimum)
    new = KVDecoder(cpu_session(last), 256, head_dim=HEAD).cache(64)
    for start in range(0, len(PROMPT), 9):
        new.run(PROMPT[start:start + 9])
    old = KVDecoder(cpu_session(optimum), 256).cache(64)
    old.run(PROMPT)
    old_key = old.binding.get_outputs()[1].numpy()  # present.0.key (bound after the logits)
    assert new.done == old.done == len(PROMPT)
    np.testing.assert_allclose(new.buffers[0][:, :, :len(PROMPT)], old_key, atol=1e-5)
    assert not new.buffers[0][:, :, len(PROMPT):].any()


def test_interleaved_requests_keep_their_own_caches(graphs):
    """One decoder serves concurrent requests: two generations stepped in turn write what each writes alone."""
    _, last, _, _ = graphs
    decoder = KVDecoder(cpu_session(last), 256, head_dim=HEAD)
    other = PROMPT[::-1]
    alone = [list(decoder.tokens(p, SamplingParams(max_new_tokens=NEW))) for p in (PROMPT, other)]
    a, b = (decoder.tokens(p, SamplingParams(max_new_tokens=NEW)) for p in (PROMPT, other))
    interleaved = [[], []]
    for x, y in zip(a, b, strict=True):
        interleaved[0].append(x)
        interleaved[1].append(y)
    assert interleaved == alone


@pytest.fixture(scope="module")
def genai_bundle(tmp_path_factory):
    """A bundle from ``python -m export bundle --builder genai`` (GroupQueryAttention graphs, fp32 and q4)."""
    import json

    from devtools.export_testing import TEST_MODEL, tiny_checkpoint
    from export.bundle import GOLDEN, BundleConfig, build_bundle

    root = tmp_path_factory.mktemp("genai-bundle")
    vectors = json.loads(GOLDEN.read_text(encoding="utf-8"))
    golden = root / "golden.json"
    golden.write_text(json.dumps([min(vectors, key=lambda v: len(v["prompt"]))]), encoding="utf-8")
    checkpoint = tiny_checkpoint(name=TEST_MODEL, hidden=64)  # head size 16: GroupQueryAttention needs 8k
    result = build_bundle(BundleConfig(checkpoint=checkpoint, out=root / "bundle", dtypes=("fp32", "q4"), golden=golden,
                                       validate_tokens=16, builder="genai", gate="structural"))
    return result.out, result.manifest, json.loads(golden.read_text(encoding="utf-8"))[0]


@pytest.mark.parametrize("dtype", ["fp32", "q4"])
def test_the_engine_writes_what_the_exporter_recorded_for_a_genai_builder_bundle(genai_bundle, dtype):
    from backend.engines.bundle import open_bundle
    from backend.engines.onnx import OnnxEngine

    root, manifest, vector = genai_bundle
    engine = OnnxEngine(open_bundle(root, dtype))
    assert engine.decoder.shared_cache and engine.decoder.last_row_logits
    [prompt] = [p for p in manifest["dtypes"][dtype]["validation"]["prompts"] if p["name"] == vector["name"]]
    ids = next(g["prompt_token_ids"] for g in manifest["contract"]["golden"] if g["name"] == vector["name"])
    assert len(prompt["greedy_tokens"]) == 16
    assert engine.generate_ids(ids, max_new_tokens=16, stop_token_ids=()) == prompt["greedy_tokens"]
