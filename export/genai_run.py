"""Run onnxruntime-genai's model builder under the project's transformers 4.57 (a subprocess entry point).

onnxruntime-genai 0.18's builder is written against transformers 5.x in two places that never matter
for a Qwen2 checkpoint, and this module bridges just those, then runs the builder's own command line:

- it imports ``Qwen3_5ForConditionalGeneration`` / ``Qwen3_5MoeForConditionalGeneration`` by name
  (classes transformers 4.57 does not have; used only for Qwen3.5 checkpoints): placeholders;
- it iterates ``config.rope_scaling``, which 4.57 sets to ``None`` for plain RoPE: the attribute is
  removed when it is ``None`` (the builder then reads ``rope_theta`` as it does for 5.x configs).

    python -m export.genai_run -m CHECKPOINT -o OUT -p int4 -e cpu -c CACHE --extra_options k=v ...

Run in its own process (``export.genai_builder`` does): the builder holds the whole checkpoint and
its graph in memory, and the process's exit gives that memory back.
"""

from __future__ import annotations

import runpy
import sys

_MISSING = ("Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration")


def _bridge_transformers() -> None:
    import transformers
    from transformers.models.qwen2 import configuration_qwen2

    for name in _MISSING:
        try:
            getattr(transformers, name)
        except (AttributeError, ImportError):
            setattr(transformers, name, type(name, (), {"__doc__": "placeholder: not in transformers 4.57"}))
    original = configuration_qwen2.Qwen2Config.__init__
    if getattr(original, "_alta_bridged", False):
        return

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if "rope_scaling" in self.__dict__ and self.rope_scaling is None:
            del self.rope_scaling

    init._alta_bridged = True  # type: ignore[attr-defined]
    configuration_qwen2.Qwen2Config.__init__ = init


def main(argv: list[str] | None = None) -> None:
    _bridge_transformers()
    sys.argv = ["onnxruntime_genai.models.builder", *(sys.argv[1:] if argv is None else argv)]
    runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
