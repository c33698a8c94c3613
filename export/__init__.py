"""Checkpoint -> KV-cached ONNX bundles (fp32, fp16, q4, q4f16, q8) for Transformers.js, validated.

``python -m export bundle --checkpoint DIR --out models/NAME`` exports with optimum-onnx
(``onnx_export``), derives the smaller dtypes (``quantize``), judges each against PyTorch on the
prompt contract's golden prompts (``reference``, ``validate``), saves graphs within the browsers'
size and naming rules (``graph_files``), and writes the Transformers.js layout (``layout``) with a
manifest (``manifest``) and, optionally, a catalog entry (``catalog``). ``bundle`` runs the stages.
Nothing is imported here, so ``import export`` stays cheap.
"""
