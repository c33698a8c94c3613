"""Loading the model to train: dtype for the device, LoRA / QLoRA / full fine-tuning, a report."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from training.config import ConfigError, TrainingConfig

logger = logging.getLogger(__name__)


def choose_dtype(requested: str) -> torch.dtype:
    """bf16 on GPUs that have it, fp16 on older GPUs, fp32 on CPU, unless the config says otherwise."""
    if requested != "auto":
        return getattr(torch, requested)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    # Qwen2.5 pads with <|endoftext|> and ends a turn with <|im_end|>: padding with the end-of-turn
    # token would mask the very token the model must learn to stop on.
    if tokenizer.pad_token is None or tokenizer.pad_token == "<|im_end|>":
        tokenizer.pad_token = "<|endoftext|>"
    return tokenizer


def _quantization_config(cfg: TrainingConfig):
    if not cfg.quantization.load_in_4bit:
        return None
    if not torch.cuda.is_available():
        raise ConfigError("quantization.load_in_4bit (QLoRA) needs a CUDA GPU and bitsandbytes; this machine has "
                          "no CUDA. Set quantization.load_in_4bit: false to train LoRA on full-precision weights")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=cfg.quantization.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, cfg.quantization.compute_dtype),
    )


def load_model(cfg: TrainingConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """The model to train, adapters attached when LoRA is on."""
    dtype = choose_dtype(cfg.model.dtype)
    quantization = _quantization_config(cfg)
    if cfg.model.from_scratch:
        config = AutoConfig.from_pretrained(cfg.model.base_model)
        model = AutoModelForCausalLM.from_config(config, torch_dtype=dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            cfg.model.base_model, torch_dtype=dtype, quantization_config=quantization,
            attn_implementation=cfg.model.attn_implementation,
        )
    model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.model.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if quantization is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.model.gradient_checkpointing)
    if cfg.lora.enabled:
        from peft import LoraConfig, get_peft_model

        if cfg.model.gradient_checkpointing:
            model.enable_input_require_grads()  # adapters need gradients flowing from frozen embeddings
        model = get_peft_model(model, LoraConfig(
            r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM",
        ))
    return model


@dataclass(frozen=True)
class ModelInfo:
    total_parameters: int
    trainable_parameters: int
    dtype: str
    parameter_memory_mb: float

    def __str__(self) -> str:
        share = 100 * self.trainable_parameters / max(self.total_parameters, 1)
        return (f"parameters: {self.total_parameters:,} total, {self.trainable_parameters:,} trainable "
                f"({share:.2f}%), dtype {self.dtype}, weights {self.parameter_memory_mb:.1f} MB")


def model_info(model: PreTrainedModel) -> ModelInfo:
    params = list(model.parameters())
    return ModelInfo(
        total_parameters=sum(p.numel() for p in params),
        trainable_parameters=sum(p.numel() for p in params if p.requires_grad),
        dtype=str(next(iter(params)).dtype).removeprefix("torch."),
        parameter_memory_mb=sum(p.numel() * p.element_size() for p in params) / 2**20,
    )
