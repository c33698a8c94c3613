"""Vocabulary transforms, checkpoint to checkpoint: trimming and a medical vocabulary (issue 15).

- :mod:`training.vocab.trim`: keep the tokens clinical text and the chat format use
  (``trim_checkpoint``);
- :mod:`training.vocab.medical`: append BPE merges for frequent clinical words, new rows from
  their sub-tokens' mean (``extend_checkpoint``);
- :mod:`training.vocab.warmup`: train only the new rows of a real model briefly;
- :mod:`training.vocab.report`: tokens per epicrisis and bundle savings.

Command line: ``python -m training vocab {trim,medical,warmup,report} ...``.
"""
