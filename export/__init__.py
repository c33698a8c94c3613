"""Checkpoint -> KV-cached ONNX bundles (fp32, fp16, q4, q4f16) for Transformers.js, validated.

Not built yet: see the export issue.
"""
