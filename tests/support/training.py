"""What the training tests share: a few de-identified translation pairs and the merge check."""

from __future__ import annotations

from pathlib import Path

PAIRS = [
    ("Paciente __PHI_NOMBRE_1__ con HTA.", "Patient __PHI_NOMBRE_1__ with hypertension."),
    ("Se indica paracetamol 1 g cada 8 horas.", "Acetaminophen 1 g every 8 hours is prescribed."),
    ("Ingresa el __PHI_FECHA_1__ por disnea.", "Admitted on __PHI_FECHA_1__ for dyspnea."),
    ("Alta a domicilio en buenas condiciones.", "Discharged home in good condition."),
]


def assert_merge_is_the_adapter(merged_dir: Path, base: Path, adapter_dir: Path, tol: float) -> None:
    """The merged checkpoint answers as base + adapter does, and not as the base alone."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from training.modeling import load_tokenizer

    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter_dir).eval()
    ids = load_tokenizer(str(merged_dir))(PAIRS[0][0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, adapted(ids).logits, atol=tol, rtol=tol)
        assert not torch.allclose(merged(ids).logits, AutoModelForCausalLM.from_pretrained(base)(ids).logits)
