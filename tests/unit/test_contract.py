"""The prompt contract: serialisation is canonical and the golden vectors pin it."""

from __future__ import annotations

import json
import random
from pathlib import Path

from clinical.contract import (
    GOLDEN_TODAY,
    canonical_json,
    contract_spec,
    epicrisis_messages,
    epicrisis_prompt,
    golden_vectors,
    render_chatml,
    translation_messages,
)
from clinical.record import HospitalStay

CONTRACT_DIR = Path(__file__).resolve().parents[2] / "models" / "contract"


def test_golden_vectors_match_the_code() -> None:
    """Fails when the serialisation, a system prompt or the chat template changes.

    If the change is intended, retrain, then run `make golden` and commit the new vectors.
    """
    stored = json.loads((CONTRACT_DIR / "golden.json").read_text(encoding="utf-8"))
    assert stored == golden_vectors()
    assert json.loads((CONTRACT_DIR / "contract.json").read_text(encoding="utf-8")) == contract_spec()


def _shuffled(value, rng: random.Random):
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _reorder(value, spec: dict, path: str = ""):
    """What the JavaScript side does with contract.json: schema key order, defaults, nulls dropped."""
    if isinstance(value, dict):
        keys = spec["field_order"][path]
        assert set(value) <= set(keys), f"{path}: keys missing from field_order"
        filled = {**spec["field_defaults"].get(path, {}), **value}
        return {k: _reorder(filled[k], spec, f"{path}.{k}" if path else k) for k in keys if filled.get(k) is not None}
    if isinstance(value, list):
        return [_reorder(v, spec, path + "[]") for v in value]
    return value


def test_contract_json_is_enough_to_rebuild_the_canonical_form() -> None:
    spec = contract_spec()
    rng = random.Random(7)
    for vector in golden_vectors():
        raw = _shuffled(vector["record"], rng)
        rebuilt = json.dumps(_reorder(raw, spec), ensure_ascii=False, separators=(",", ":"))
        assert rebuilt == vector["canonical_json"], vector["name"]


def test_key_order_does_not_change_the_prompt() -> None:
    vector = golden_vectors()[0]
    shuffled = _shuffled(vector["record"], random.Random(3))
    stay = HospitalStay.model_validate(shuffled, context={"today": GOLDEN_TODAY})
    assert epicrisis_prompt(stay) == vector["prompt"]


def test_serialisation_rules() -> None:
    vector = next(v for v in golden_vectors() if v["name"] == "neumonia_chile")
    text = vector["canonical_json"]
    assert "Neumonía" in text and "\\u" not in text  # UTF-8, no ASCII escaping
    assert '"dose":2,' in text and '"temperature_c":38.6' in text  # shortest numbers
    assert '"admitted_at":"2026-01-10T14:35:00"' in text
    assert "null" not in text
    minimal = next(v for v in golden_vectors() if v["name"] == "minimo")["canonical_json"]
    assert '"procedures":[]' in minimal  # empty lists are kept, absent optionals dropped
    assert '"allergies"' not in minimal  # None: not recorded


def test_chatml_matches_qwen_layout() -> None:
    stay = HospitalStay.model_validate(golden_vectors()[0]["record"], context={"today": GOLDEN_TODAY})
    messages = epicrisis_messages(stay)
    prompt = render_chatml(messages)
    assert prompt.startswith("<|im_start|>system\n")
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert prompt.count("<|im_start|>") == 3
    assert messages[1]["content"].endswith(canonical_json(stay))


def test_translation_messages_carry_hints_and_text() -> None:
    messages = translation_messages("Paciente con __PHI_NOMBRE_1__.", [("paracetamol", "acetaminophen")])
    assert messages[0]["role"] == "system" and "__PHI_TYPE_N__" in messages[0]["content"]
    assert messages[1]["content"] == "Glosario:\n- paracetamol = acetaminophen\n\nTexto a traducir:\nPaciente con __PHI_NOMBRE_1__."
