"""The Spanish -> English glossary: size, unique keys, hints in running text, term accuracy."""

from __future__ import annotations

from collections import Counter

import pytest

from clinical.contract import translation_messages
from clinical.glossary import CATEGORIES, Glossary, hints, load_glossary, parse_tsv, term_accuracy
from clinical.lexicon import fold, load_lexicon


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return load_glossary()


def test_glossary_is_large_and_every_entry_is_documented(glossary: Glossary) -> None:
    assert len(glossary) >= 400
    counts = Counter(entry.category for entry in glossary)
    assert set(counts) == set(CATEGORIES)
    assert counts["drug"] >= 300 and counts["abbreviation"] >= 100 and counts["institution"] >= 30
    for entry in glossary:
        assert entry.es and entry.en and entry.source and entry.accept, entry.es


def test_no_duplicate_spanish_keys(glossary: Glossary) -> None:
    # A key appears again only as another sense, told apart by its context words.
    defaults = [fold(entry.es)[0] for entry in glossary if not entry.has_context]
    assert len(defaults) == len(set(defaults))
    with pytest.raises(ValueError, match="listed twice"):
        Glossary(parse_tsv(
            "es\ten\taccept\tcategory\tsource\tnotes\tmatch\n"
            "neumonía\tpneumonia\t\tterm\tx\t\t\n"
            "Neumonia\tpneumonia\t\tterm\tx\t\t\n"
        ))


def test_every_lexicon_drug_has_an_english_name(glossary: Glossary) -> None:
    for drug in load_lexicon():
        entry = glossary.lookup(drug.canonical)
        assert entry is not None and entry.category == "drug", drug.canonical


def test_required_equivalents(glossary: Glossary) -> None:
    assert glossary.lookup("paracetamol").en == "acetaminophen"
    assert glossary.lookup("metamizol").en.startswith("metamizole (dipyrone")
    assert "not marketed in the US" in glossary.lookup("metamizol").notes
    assert glossary.lookup("clonixinato de lisina").en == "lysine clonixinate"
    for abbreviation in ("HTA", "DM2", "EVC", "IAM", "EPOC", "ICC", "ERC", "TEP"):
        assert glossary.lookup(abbreviation).category == "abbreviation", abbreviation
    for institution in ("IMSS", "ISSSTE", "FONASA", "ISAPRE", "CESFAM"):
        assert glossary.lookup(institution).category == "institution", institution


def test_hints_ignore_case_and_accents() -> None:
    text = "Paciente con hta y EPOC, recibió METAMIZOL y Acetaminofén; neumonia adquirida en la comunidad."
    assert hints(text) == [
        ("hta", "hypertension (HTN)"),
        ("EPOC", "chronic obstructive pulmonary disease (COPD)"),
        ("METAMIZOL", "metamizole (dipyrone)"),
        ("Acetaminofén", "acetaminophen"),
        ("neumonia adquirida en la comunidad", "community-acquired pneumonia"),
    ]


def test_hints_take_the_longest_whole_word_match() -> None:
    pairs = dict(hints("Amoxicilina - Ácido Clavulánico 875 mg. Colecistectomía laparoscópica sin incidentes."))
    assert pairs == {
        "Amoxicilina - Ácido Clavulánico": "amoxicillin/clavulanate",
        "Colecistectomía laparoscópica": "laparoscopic cholecystectomy",
    }
    # Whole words only: "tos" inside "gastos" and "IAM" inside "IAMCEST" are not matches.
    assert dict(hints("IAMCEST anterior")) == {"IAMCEST": "ST-elevation myocardial infarction (STEMI)"}
    assert hints("Los gastos del paciente") == []


def test_case_sensitive_abbreviations_do_not_match_ordinary_words() -> None:
    assert hints("les dije que el taco estaba frío") == []
    assert dict(hints("Diagnóstico de LES. PA 120/80.")) == {
        "LES": "systemic lupus erythematosus (SLE)", "PA": "blood pressure (BP)"}


def test_each_entry_is_hinted_once_and_hints_fit_the_prompt() -> None:
    pairs = hints("HTA descompensada. Antecedente de HTA. Paracetamol y paracetamol.")
    assert [es for es, _ in pairs] == ["HTA", "Paracetamol"]
    user = translation_messages("texto", pairs)[1]["content"]
    assert "- HTA = hypertension (HTN)" in user and "- Paracetamol = acetaminophen" in user


def test_term_accuracy_on_a_small_hand_example() -> None:
    source = "Paciente con HTA y DM2 que recibió metamizol y paracetamol. Control en CESFAM."
    perfect = ("Patient with hypertension and type 2 diabetes who received metamizole and acetaminophen. "
               "Follow-up at the CESFAM.")
    assert term_accuracy(source, perfect) == 1.0
    # "high blood pressure" is not an accepted form of HTA, "paracetamol" is of paracetamol.
    partial = ("Patient with high blood pressure and type 2 diabetes who received dipyrone and paracetamol. "
               "Follow-up at the family clinic.")
    assert term_accuracy(source, partial) == pytest.approx(3 / 5)
    assert term_accuracy("Sin términos del glosario aquí.", "No glossary terms here.") == 1.0


def test_the_glossary_covers_specialist_drugs_brands_and_regional_shorthand(glossary: Glossary) -> None:
    notes = Counter(entry.notes for entry in glossary if entry.category == "drug")
    for group, at_least in (("oncology", 100), ("biologic", 35), ("immunosuppressant", 10), ("eye", 30),
                            ("antiviral", 45), ("anaesthesia", 15), ("variant spelling", 15)):
        assert notes[group] >= at_least, group
    assert sum(1 for e in glossary if e.notes.startswith("brand of")) >= 100
    for es, en in (("metotrexate", "methotrexate"), ("ácido acetil-salicílico", "aspirin (acetylsalicylic acid)"),
                   ("Clexane", "enoxaparin (Clexane)"), ("sofosbuvir/velpatasvir", "sofosbuvir/velpatasvir"),
                   ("tacrolimus", "tacrolimus"), ("latanoprost", "latanoprost"), ("rocuronio", "rocuronium")):
        assert glossary.lookup(es).en == en, es
    for shorthand in ("APS", "TTO", "PCTE", "IZQ", "DER", "OBS", "ANTEC", "DG", "ENF", "ECO", "PZA", "DTE"):
        assert glossary.lookup(shorthand).category == "abbreviation", shorthand


@pytest.mark.parametrize(("text", "term", "english"), [
    # a class stays a class
    ("Se indica heparina de bajo peso molecular.", "heparina de bajo peso molecular",
     "low-molecular-weight heparin (LMWH)"),
    # TV beside ECO/ecografía is transvaginal; alone it is ventricular tachycardia
    ("Se realiza ECO TV: endometrio de 8 mm.", "ECO TV", "transvaginal ultrasound"),
    ("Ecografía TV: ovarios normales.", "TV", "transvaginal"),
    ("Monitor muestra TV sin pulso.", "TV", "ventricular tachycardia (VT)"),
    # SHU in capitals is the syndrome; the name Shu is not
    ("Paciente Shu Li con fiebre.", "Shu", None),
    ("Cuadro compatible con SHU.", "SHU", "hemolytic uremic syndrome (HUS)"),
    # licencia in a licence notice is not sick leave
    ("Este contenido se distribuye bajo licencia Creative Commons.", "licencia", None),
    ("Se otorga licencia por 7 días.", "licencia", "sick leave"),
    # a context word in the next sentence does not count
    ("PCR 120 mg/L. Hisopado pendiente.", "PCR", "C-reactive protein (CRP)"),
    ("PCR para SARS-CoV-2 positiva.", "PCR", "polymerase chain reaction (PCR)"),
    ("FA 300 U/L y GGT 210.", "FA", "alkaline phosphatase (ALP)"),
    ("Monitor con FA de respuesta rápida.", "FA", "atrial fibrillation (AF)"),
    # lowercase Spanish words that are also abbreviations in capitals
    ("Fue a su casa con ira.", "su", None),
    ("Fue a su casa con ira.", "ira", None),
])
def test_sense_rules(text: str, term: str, english: str | None) -> None:
    assert dict(hints(text)).get(term) == english


def test_two_senses_of_one_key_are_hinted_apart() -> None:
    assert hints("PCR para SARS-CoV-2 negativa. PCR 12 mg/L.") == [
        ("PCR", "polymerase chain reaction (PCR)"), ("PCR", "C-reactive protein (CRP)")]


def test_context_column_is_parsed_and_a_second_default_sense_is_refused() -> None:
    header = "es\ten\taccept\tcategory\tsource\tnotes\tmatch\tcontext\n"
    glossary = Glossary(parse_tsv(header + "TV\tventricular tachycardia\t\tabbreviation\tx\t\tcase\t\n"
                                  "TV\ttransvaginal\t\tabbreviation\tx\t\tcase\t+eco|ecografía\n"),
                        with_drug_variants=False)
    assert [m.entry.en for m in glossary.find("Ecografía TV. TV.")] == ["transvaginal", "ventricular tachycardia"]
    with pytest.raises(ValueError, match="listed twice"):
        Glossary(parse_tsv(header + "TV\tventricular tachycardia\t\tabbreviation\tx\t\tcase\t\n"
                                    "TV\ttransvaginal\t\tabbreviation\tx\t\tcase\t\n"))
    with pytest.raises(ValueError, match="context group"):
        parse_tsv(header + "TV\ttransvaginal\t\tabbreviation\tx\t\tcase\teco\n")
