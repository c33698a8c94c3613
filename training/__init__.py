"""Fine-tuning Qwen2.5 for epicrisis and translation (LoRA/QLoRA), built on clinical's prompt contract.

Not built yet: see the training issue. Every training example must go through
``clinical.contract`` so the model sees in training exactly what the engines send it.
"""
