"""The prompt contract: the exact text every engine, the trainer and the browser give the model.

A fine-tuned model only behaves at run time if it sees what it saw in training, byte for byte. So
there is one canonical serialisation of a record, one system prompt per task and one chat template
(ChatML, as Qwen2.5 uses), and golden vectors under ``models/contract/`` that the Python and
JavaScript tests compare against. Change anything here and the golden test fails: regenerate the
vectors with ``python -m clinical.contract write-golden`` only together with retraining.

Canonical serialisation:
- keys in the schema's declaration order (patient, admission, discharge, ... as a document reads),
  exported as ``field_order`` in ``contract.json`` so JavaScript can apply the same order;
- absent keys take the schema's default (``field_defaults`` in ``contract.json``);
- ``None`` values dropped, empty lists kept (``"allergies": []`` means "no known allergies");
- compact separators ``,`` and ``:``; UTF-8, no ASCII escaping;
- numbers: integers as integers, decimals in their shortest form (``0.5``, ``2``); dates
  ``YYYY-MM-DD``, datetimes ``YYYY-MM-DDTHH:MM:SS`` (what JavaScript's own ISO formatting agrees on).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import typing
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from clinical.record import HospitalStay

CONTRACT_VERSION = "2"  # 2: the inpatient-treatment section
Task = Literal["epicrisis", "translation", "reasoning"]

SYSTEM_PROMPTS: dict[str, str] = {
    "epicrisis": (
        "Eres un médico internista de un hospital chileno. Redacta la epicrisis (informe de alta) "
        "del registro de hospitalización que recibes en JSON, en español clínico, en tercera persona "
        "y en texto plano, con estas secciones en mayúsculas: IDENTIFICACIÓN, MOTIVO DE INGRESO, "
        "ANTECEDENTES, DIAGNÓSTICOS DE EGRESO, PROCEDIMIENTOS, EVOLUCIÓN, EXÁMENES RELEVANTES, "
        "TRATAMIENTO DURANTE LA HOSPITALIZACIÓN, TRATAMIENTO AL ALTA, INDICACIONES y CONTROLES. "
        "Omite las secciones sin datos. Incluye todos los diagnósticos con su código CIE-10, todos los "
        "procedimientos y todos los medicamentos de la hospitalización y del alta con dosis, vía, "
        "frecuencia y duración. Escribe las fechas con el mes en palabras. "
        "No agregues fármacos, dosis, fechas ni hallazgos que no estén en el registro."
    ),
    "translation": (
        "You are a medical translator. Translate the Spanish clinical text the user gives you into "
        "English for US clinicians. Keep every placeholder of the form __PHI_TYPE_N__ exactly as "
        "written, once each. Translate drug names to their US names and expand Spanish clinical "
        "abbreviations as the glossary hints say. Output only the translation."
    ),
    "reasoning": (
        "You are a careful physician. Think the clinical question through step by step under the "
        "heading '## Thinking', then give your answer under the heading '## Final Response'."
    ),
}

EPICRISIS_USER_PREFIX = "Registro de hospitalización:\n"
TRANSLATION_USER_PREFIX = "Texto a traducir:\n"
TRANSLATION_HINTS_PREFIX = "Glosario:\n"


def _walk(model: type[BaseModel], path: str, order: dict[str, list[str]],
          defaults: dict[str, dict[str, Any]]) -> None:
    """Record every nested model's key order and non-null defaults under its JSON path."""
    order[path] = list(model.model_fields)
    hints = typing.get_type_hints(model)
    for name, info in model.model_fields.items():
        if not info.is_required():
            value = info.get_default(call_default_factory=True)
            if value is not None:
                defaults.setdefault(path, {})[name] = _plain(value)
        for arg in _flatten(hints[name]):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                child = f"{path}.{name}" if path else name
                _walk(arg, child + ("[]" if _is_list(hints[name]) else ""), order, defaults)


def _flatten(tp: Any) -> list[Any]:
    args = typing.get_args(tp)
    return [leaf for a in args for leaf in _flatten(a)] if args else [tp]


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list or any(_is_list(a) for a in typing.get_args(tp))


def field_order() -> dict[str, list[str]]:
    """Key order per JSON path ("" is the record, "diagnoses[]" each diagnosis, ...)."""
    order: dict[str, list[str]] = {}
    _walk(HospitalStay, "", order, {})
    return order


def field_defaults() -> dict[str, dict[str, Any]]:
    """Values the schema fills in when a key is absent (null defaults omitted), per JSON path."""
    defaults: dict[str, dict[str, Any]] = {}
    _walk(HospitalStay, "", {}, defaults)
    return defaults


def _plain(value: Any) -> Any:
    """Turn a python-mode dump into the JSON values the contract fixes."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def canonical_json(stay: HospitalStay) -> str:
    """The one serialisation of a record that every prompt is built from."""
    data = _plain(stay.model_dump(mode="python"))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def epicrisis_messages(stay: HospitalStay) -> list[dict[str, str]]:
    """Chat messages for writing the epicrisis of ``stay``."""
    return [
        {"role": "system", "content": SYSTEM_PROMPTS["epicrisis"]},
        {"role": "user", "content": EPICRISIS_USER_PREFIX + canonical_json(stay)},
    ]


def record_from_messages(messages: list[dict[str, str]]) -> HospitalStay | None:
    """The record an epicrisis prompt carries (the contract's user message), or None when there is none
    or it is not a valid record (then nothing can be reviewed against it)."""
    for message in reversed(messages):
        content = message.get("content") or ""
        if message.get("role") == "user" and content.startswith(EPICRISIS_USER_PREFIX):
            try:
                return HospitalStay.model_validate_json(content[len(EPICRISIS_USER_PREFIX):])
            except ValueError:
                return None
    return None


def translation_messages(text: str, hints: list[tuple[str, str]] | None = None) -> list[dict[str, str]]:
    """Chat messages for translating de-identified ``text``; ``hints`` are (Spanish, English) pairs."""
    user = ""
    if hints:
        user += TRANSLATION_HINTS_PREFIX + "".join(f"- {es} = {en}\n" for es, en in hints) + "\n"
    user += TRANSLATION_USER_PREFIX + text
    return [
        {"role": "system", "content": SYSTEM_PROMPTS["translation"]},
        {"role": "user", "content": user},
    ]


def reasoning_messages(question: str) -> list[dict[str, str]]:
    """Chat messages for a medical question answered in the '## Thinking' / '## Final Response' format."""
    return [
        {"role": "system", "content": SYSTEM_PROMPTS["reasoning"]},
        {"role": "user", "content": question},
    ]


def reasoning_answer(thinking: str, response: str) -> str:
    """The answer format of HuatuoGPT-o1's medical-o1-reasoning-SFT data."""
    return f"## Thinking\n\n{thinking.strip()}\n\n## Final Response\n\n{response.strip()}"


def render_chatml(messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Qwen2.5's chat template (ChatML) without tools, as its tokenizer_config renders it."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def epicrisis_prompt(stay: HospitalStay) -> str:
    """The full prompt text a completion model sees for ``stay``."""
    return render_chatml(epicrisis_messages(stay))


# --- golden vectors -------------------------------------------------------------------------

GOLDEN_TODAY = dt.date(2026, 11, 21)  # validation date for the golden records, fixed forever


def contract_spec() -> dict[str, Any]:
    """What JavaScript needs to rebuild prompts: system prompts, prefixes and key order."""
    return {
        "version": CONTRACT_VERSION,
        "system_prompts": SYSTEM_PROMPTS,
        "epicrisis_user_prefix": EPICRISIS_USER_PREFIX,
        "translation_user_prefix": TRANSLATION_USER_PREFIX,
        "translation_hints_prefix": TRANSLATION_HINTS_PREFIX,
        "chat_template": "chatml",
        "field_order": field_order(),
        "field_defaults": field_defaults(),
    }


def example_records() -> dict[str, dict[str, Any]]:
    """The example records shipped with ``clinical`` (name -> raw JSON)."""
    folder = resources.files("clinical") / "examples"
    return {
        p.name.removesuffix(".json"): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".json")
    }


def golden_vectors() -> list[dict[str, Any]]:
    """Record -> canonical JSON -> messages -> prompt text, for every example record."""
    vectors = []
    for name, raw in example_records().items():
        stay = HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY})
        vectors.append({
            "name": name,
            "task": "epicrisis",
            "record": raw,
            "canonical_json": canonical_json(stay),
            "messages": epicrisis_messages(stay),
            "prompt": epicrisis_prompt(stay),
        })
    return vectors


def record_schema() -> dict[str, Any]:
    """The record's JSON Schema (``HospitalStay``, as the API validates it): what the page's form rules
    (``webapp/src/schema.js``) must agree with, field by field."""
    return HospitalStay.model_json_schema()


def write_golden(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    dump = lambda obj: json.dumps(obj, ensure_ascii=False, indent=2) + "\n"  # noqa: E731
    (folder / "contract.json").write_text(dump(contract_spec()), encoding="utf-8")
    (folder / "golden.json").write_text(dump(golden_vectors()), encoding="utf-8")
    (folder / "record.schema.json").write_text(dump(record_schema()), encoding="utf-8")
    from clinical.grammar import write_golden_grammars  # the grammar builder renders with the writer

    write_golden_grammars(folder / "grammars")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clinical.contract", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write-golden", help="rewrite contract.json, golden.json, record.schema.json and grammars/*.ebnf")
    write.add_argument("--out", type=Path, default=Path("models/contract"))
    show = sub.add_parser("prompt", help="print the epicrisis prompt for a record JSON file")
    show.add_argument("record", type=Path)
    args = parser.parse_args(argv)
    if args.command == "write-golden":
        write_golden(args.out)
        print(f"wrote {args.out}/contract.json, {args.out}/golden.json, {args.out}/record.schema.json and {args.out}/grammars/")
    else:
        stay = HospitalStay.model_validate_json(args.record.read_bytes())
        sys.stdout.write(epicrisis_prompt(stay))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
