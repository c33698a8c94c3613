"""Diagnoses and procedures by code and description, section by section.

Each line of DIAGNÓSTICOS must be a record diagnosis, and a code on it must be that diagnosis's code;
each record diagnosis must have its line. A CIE-10 code anywhere must be one of the record's. A
diagnosis term the record never mentions (from the Spanish CIE-10 vocabulary and the usual clinical
abbreviations) is a finding wherever it is written. Procedures likewise in PROCEDIMIENTOS.
"""

from __future__ import annotations

import re
from functools import cache

from clinical.checks.context import Context, fold1, item_span, norm
from clinical.record import Diagnosis

__all__ = ["check_diagnoses", "check_procedures", "diagnosis_terms"]

_CODE = re.compile(r"(?<![\w.-])([A-TV-Z][0-9]{2}(?:\.[0-9A-Z]{1,4})?)(?![\w.]|\.\d)")
_CODE_CONTEXT = re.compile(r"(cie-?10|cie|icd-?10|codigo|cod\.?)\s*:?\s*$")
_INTRO = re.compile(r"^(durante la hospitalizacion )?se realiz\w*( \d+ procedimientos?)?$")
_STOP = frozenset("a al con de del e el en la las lo los o para por sin su sus u un una y que no tipo".split())

# Abbreviations clinicians write for diagnoses -> words that, in the record, justify them.
ABBREVIATIONS = {
    "hta": ("hipertension",), "dm": ("diabetes",), "dm2": ("diabetes",), "dm1": ("diabetes",),
    "epoc": ("obstructiva cronica", "epoc"), "iam": ("infarto",), "icc": ("insuficiencia cardiaca",),
    "erc": ("renal cronica", "insuficiencia renal", "enfermedad renal"), "fa": ("fibrilacion auricular",),
    "tep": ("tromboembolismo pulmonar", "embolia pulmonar"), "tvp": ("trombosis venosa",),
    "acv": ("accidente cerebrovascular", "ataque cerebrovascular", "ictus", "infarto cerebral"),
    "ave": ("accidente vascular", "ictus"), "nac": ("neumonia",), "itu": ("infeccion urinaria", "infeccion del tracto urinario", "pielonefritis", "cistitis"),
    "ira": ("insuficiencia renal aguda", "lesion renal aguda", "infeccion respiratoria"),
    "irc": ("insuficiencia renal cronica", "renal cronica"), "dhc": ("hepatica cronica", "cirrosis"),
    "vih": ("vih", "inmunodeficiencia humana"), "tbc": ("tuberculosis",), "hda": ("hemorragia digestiva",),
    "hdb": ("hemorragia digestiva",), "sca": ("coronario agudo",), "iamcest": ("infarto",), "iamsest": ("infarto",),
    "asma": ("asma",), "covid": ("covid", "sars"), "sdra": ("distres respiratorio",), "aki": ("renal aguda",),
}


# Frequent discharge diagnoses as clinicians name them, beside the CIE-10 headings (whose wording is
# often not the clinical one: "Fibrilación y aleteo auricular").
COMMON_TERMS = {
    "fibrilacion auricular": "I48", "flutter auricular": "I48", "insuficiencia cardiaca": "I50",
    "insuficiencia renal aguda": "N17", "insuficiencia renal cronica": "N18", "enfermedad renal cronica": "N18",
    "lesion renal aguda": "N17", "infarto agudo al miocardio": "I21", "infarto agudo de miocardio": "I21",
    "sindrome coronario agudo": "I24", "angina inestable": "I20", "accidente cerebrovascular": "I64",
    "ataque cerebrovascular": "I64", "tromboembolismo pulmonar": "I26", "trombosis venosa profunda": "I80",
    "hipotiroidismo": "E03", "hipertiroidismo": "E05", "diabetes mellitus": "E14", "hipertension arterial": "I10",
    "neumonia": "J18", "bronconeumonia": "J18", "sepsis": "A41", "shock septico": "R57", "celulitis": "L03",
    "pielonefritis": "N10", "infeccion urinaria": "N39", "infeccion del tracto urinario": "N39",
    "pancreatitis aguda": "K85", "colecistitis": "K81", "apendicitis": "K35", "cirrosis hepatica": "K74",
    "hemorragia digestiva": "K92", "enfermedad pulmonar obstructiva cronica": "J44", "asma bronquial": "J45",
    "anemia": "D64", "hiponatremia": "E87", "hiperkalemia": "E87", "hipokalemia": "E87", "delirium": "F05",
    "demencia": "F03", "depresion": "F32", "epilepsia": "G40", "cancer": "C80", "neoplasia": "D48",
    "covid-19": "U07", "tuberculosis": "A16", "dengue": "A90", "obesidad": "E66", "desnutricion": "E46",
}


@cache
def diagnosis_terms() -> dict[str, str]:
    """Disease terms (folded) from the Spanish CIE-10 -> a code they come from.

    Taken from the head of each description ("Neumonía, no especificada" -> "neumonia") of the
    disease chapters (A-Q; symptoms, injuries and external causes are left out: they are also
    ordinary words of a narrative). Terms of one short word are kept only when distinctive.
    """
    try:
        from clinical.terminology import load_cie10
    except ImportError:  # the terminology package is built alongside; without it only the curated terms count
        return dict(COMMON_TERMS)
    terms: dict[str, str] = dict(COMMON_TERMS)
    for entry in load_cie10().entries():
        if not entry.code or entry.code[0] > "Q":
            continue
        head = re.split(r",|\(|\[| no especificad| sin mencion| sin otra| debid| del tipo| que complica| en enfermedades",
                        fold1(entry.es))[0]
        words = head.split()
        if not words or words[0] in ("otros", "otras", "otro", "otra", "secuelas", "historia", "complicaciones"):
            continue
        if len(words) > 4 or any(ch.isdigit() for ch in head):
            continue
        if len(words) == 1 and len(words[0]) < 7:
            continue
        terms.setdefault(" ".join(words), entry.code)
    return terms


@cache
def _terms_pattern() -> re.Pattern[str] | None:
    terms = list(diagnosis_terms()) + list(ABBREVIATIONS)
    if not terms:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")(?!\w)")


def _words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in norm(text).split() if w not in _STOP)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("es"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s"):
        return word[:-1]
    return word


def _code_eq(a: str, b: str) -> bool:
    return a.replace(".", "").upper() == b.replace(".", "").upper()


def check_diagnoses(ctx: Context) -> None:
    stay = ctx.stay
    matched: set[int] = set()
    for line in ctx.section_lines("diagnosticos"):
        start, end = item_span(line)
        text = ctx.text[start:end]
        if re.fullmatch(r"\s*(principal|secundarios?|diagnosticos? secundarios?)\s*:?\s*", norm(text) + " "):
            continue
        by_description = _by_description(stay.diagnoses, text)
        codes = [(m, m.group(1)) for m in _CODE.finditer(text)]
        for match, code in codes:
            s, e = start + match.start(1), start + match.end(1)
            owner = next((i for i, d in enumerate(stay.diagnoses) if _code_eq(d.code, code)), None)
            if owner is None:
                ctx.flag("unknown_code", s, e, "diagnoses")
            elif by_description is not None and by_description != owner:
                ctx.flag("code_mismatch", s, e, f"diagnoses[{by_description}].code")
            else:
                ctx.trace("diagnosis", s, e, f"diagnoses[{owner}].code")
                matched.add(owner)
        if by_description is not None:
            matched.add(by_description)
            desc = _description_span(ctx, start, end, stay.diagnoses[by_description].description)
            ctx.trace("diagnosis", *desc, f"diagnoses[{by_description}].description")
        elif not codes or not any(f.start is not None and start <= f.start < end for f in ctx.findings):
            if not any(_code_eq(d.code, c) for _, c in codes for d in stay.diagnoses):
                ctx.flag("unknown_diagnosis", start, end, "diagnoses")
        ctx.claim(start, end)
    for i, diagnosis in enumerate(stay.diagnoses):
        if i not in matched:
            ctx.flag("missing_diagnosis", None, None, f"diagnoses[{i}]", text=diagnosis.description)
    _codes_elsewhere(ctx)
    _terms(ctx)


def _by_description(diagnoses: list[Diagnosis], text: str) -> int | None:
    """The diagnosis whose description the line states (whole phrase, else all its content words)."""
    line = f" {norm(_CODE.sub(' ', text))} "
    best, best_len = None, 0
    for i, d in enumerate(diagnoses):
        phrase = norm(d.description)
        if f" {phrase} " in line and len(phrase) > best_len:
            best, best_len = i, len(phrase)
    if best is not None:
        return best
    words = _words(_CODE.sub(" ", text))
    for i, d in enumerate(diagnoses):
        wanted = _words(d.description)
        if wanted and wanted <= words and len(words - wanted) <= 1:
            return i
    return None


def _description_span(ctx: Context, start: int, end: int, description: str) -> tuple[int, int]:
    at = ctx.folded.find(fold1(description), start, end)
    return (at, at + len(description)) if at >= 0 else (start, end)


def _codes_elsewhere(ctx: Context) -> None:
    stay = ctx.stay
    for match in _CODE.finditer(ctx.text):
        s, e = match.start(1), match.end(1)
        if ctx.is_claimed(s, e) or ctx.in_copied(s, e) is not None:
            continue
        code = match.group(1)
        before = ctx.folded[max(0, s - 12):s]
        if "." not in code and not _CODE_CONTEXT.search(before) and not re.search(r"[(\[]\s*$", before):
            continue  # "B12", "T4": only dotted codes or codes after "CIE-10" / in brackets are codes
        owner = next((i for i, d in enumerate(stay.diagnoses) if _code_eq(d.code, code)), None)
        if owner is not None:
            ctx.trace("diagnosis", s, e, f"diagnoses[{owner}].code")
        elif not any(p.code and _code_eq(p.code, code) for p in stay.procedures):
            ctx.flag("unknown_code", s, e, "diagnoses")


def _terms(ctx: Context) -> None:
    pattern = _terms_pattern()
    if pattern is None:
        return
    record = ctx.record
    record_words = frozenset(_stem(w) for w in record.all_text_norm.split() if w not in _STOP)
    for match in pattern.finditer(ctx.folded):
        s, e = match.span()
        if ctx.is_claimed(s, e):
            continue
        copied = ctx.in_copied(s, e)
        if copied is not None:
            continue
        term = match.group(1)
        if term in ABBREVIATIONS:
            if ctx.text[s:e] != ctx.text[s:e].upper() and term not in ("asma", "covid"):
                continue  # abbreviations are written in capitals; "fa" or "ira" in lowercase are words
            justified = record.mentions(term) or any(record.mentions(w) for w in ABBREVIATIONS[term])
        else:
            justified = record.mentions(term) or _words(term) <= record_words
        if justified:
            continue
        ctx.flag("unknown_diagnosis", s, e, "diagnoses")


def check_procedures(ctx: Context) -> None:
    stay = ctx.stay
    matched: set[int] = set()
    for line in ctx.section_lines("procedimientos"):
        start, end = item_span(line)
        text = ctx.text[start:end]
        folded = f" {norm(text)} "
        found = False
        for i, p in enumerate(stay.procedures):
            phrase = norm(p.description)
            if f" {phrase} " in folded or (p.code and re.search(rf"(?<![\w.]){re.escape(p.code)}(?![\w])", text)):
                matched.add(i)
                found = True
                at = ctx.folded.find(fold1(p.description), start, end)
                if at >= 0:
                    ctx.trace("procedure", at, at + len(p.description), f"procedures[{i}].description")
                if p.code:
                    for m in re.finditer(rf"(?<![\w.]){re.escape(p.code)}(?![\w])", text):
                        ctx.trace("procedure", start + m.start(), start + m.end(), f"procedures[{i}].code")
        if not found and not _INTRO.match(norm(text)):
            ctx.flag("unknown_procedure", start, end, "procedures")
        # "código 1234567" of a procedure the record lacks
        for m in re.finditer(r"(?:codigo|cod\.?)\s*:?\s*([0-9][0-9.\-]{2,})", ctx.folded[start:end]):
            s, e = start + m.start(1), start + m.end(1)
            if not ctx.is_claimed(s, e):
                ctx.flag("unknown_code", s, e, "procedures")
    for i, procedure in enumerate(stay.procedures):
        if i not in matched:
            ctx.flag("missing_procedure", None, None, f"procedures[{i}]", text=procedure.description)
