"""The Transformers.js bundle layout: which files, under which names, with which settings inside.

A bundle is ``config.json`` (with ``transformers.js_config``), ``generation_config.json``,
``tokenizer.json``, ``tokenizer_config.json`` (with the chat template: Transformers.js ignores
``chat_template.jinja``), ``onnx/<graph>.onnx`` (+ ``.onnx_data[_N]``) and Alta's ``manifest.json``.
Nothing else: Transformers.js looks for exactly these names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

GRAPH_FILES = {"fp32": "model.onnx", "fp16": "model_fp16.onnx", "q4": "model_q4.onnx",
               "q4f16": "model_q4f16.onnx", "q8": "model_quantized.onnx"}
DTYPES = tuple(GRAPH_FILES)
CONFIG_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")


class LayoutError(ValueError):
    """The checkpoint lacks something a bundle needs (tokenizer, chat template, end-of-turn token)."""


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def chat_template(checkpoint: Path) -> str:
    """The checkpoint's chat template, from tokenizer_config.json or transformers 4.57's chat_template.jinja."""
    config = _read_json(checkpoint / "tokenizer_config.json")
    template = config.get("chat_template")
    jinja_file = checkpoint / "chat_template.jinja"
    if not template and jinja_file.is_file():
        template = jinja_file.read_text(encoding="utf-8")
    if not isinstance(template, str) or not template:
        raise LayoutError(f"{checkpoint} has no chat template (tokenizer_config.json or chat_template.jinja); save "
                          "the tokenizer with training.tokenizer.save_tokenizer, which writes the contract's ChatML")
    return template


def render_chat(template: str, messages: list[dict[str, str]]) -> str:
    """Render a chat template the way transformers' apply_chat_template does (generation prompt added)."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages, add_generation_prompt=True)


def check_contract(checkpoint: Path, golden: list[dict[str, Any]]) -> None:
    """The checkpoint's chat template must render every golden prompt byte for byte (the prompt contract)."""
    template = chat_template(checkpoint)
    for vector in golden:
        try:
            rendered = render_chat(template, vector["messages"])
        except TemplateError as exc:
            raise LayoutError(f"the checkpoint's chat template fails on golden record {vector['name']!r}: {exc}") from exc
        if rendered != vector["prompt"]:
            at = next((i for i, (a, b) in enumerate(zip(rendered, vector["prompt"], strict=False)) if a != b),
                      min(len(rendered), len(vector["prompt"])))
            raise LayoutError(f"the checkpoint's chat template renders golden record {vector['name']!r} differently "
                              f"from clinical.contract (first difference at character {at}); the browser would "
                              "build other prompts than the backend: fix the template, do not ship")


def eos_token_ids(checkpoint: Path) -> list[int]:
    """End-of-turn ids: generation_config.json's eos_token_id, else config.json's."""
    for name in ("generation_config.json", "config.json"):
        path = checkpoint / name
        if path.is_file():
            eos = _read_json(path).get("eos_token_id")
            if eos is not None:
                return [eos] if isinstance(eos, int) else list(eos)
    raise LayoutError(f"{checkpoint} declares no eos_token_id; generation would never stop at end of turn")


def write_layout(checkpoint: Path, out: Path, default_dtype: str, external: dict[str, int]) -> None:
    """Write config.json, generation_config.json and the tokenizer files into ``out``.

    ``external`` maps a graph file name to its number of external data files (0 when inline).
    """
    config = _read_json(checkpoint / "config.json")
    js_config: dict[str, Any] = {"dtype": default_dtype}
    chunks = {name: n for name, n in external.items() if n}
    if chunks:
        js_config["use_external_data_format"] = chunks
    config["transformers.js_config"] = js_config
    _write_json(out / "config.json", config)

    eos = eos_token_ids(checkpoint)
    gen_path = checkpoint / "generation_config.json"
    generation = _read_json(gen_path) if gen_path.is_file() else {
        k: config[k] for k in ("bos_token_id", "pad_token_id") if config.get(k) is not None}
    generation["eos_token_id"] = eos[0] if len(eos) == 1 else eos
    _write_json(out / "generation_config.json", generation)

    tok_path = checkpoint / "tokenizer.json"
    if not tok_path.is_file():
        raise LayoutError(f"{checkpoint} has no tokenizer.json (a fast tokenizer); the backend and the browser "
                          "both need it")
    (out / "tokenizer.json").write_bytes(tok_path.read_bytes())
    tok_config = _read_json(checkpoint / "tokenizer_config.json")
    tok_config["chat_template"] = chat_template(checkpoint)
    _write_json(out / "tokenizer_config.json", tok_config)
