"""What a case says about the patient besides names and numbers, as MEDDOCAN annotates it.

MEDDOCAN's annotators marked descriptions of the patient that narrow down who they are (their
marital status, ethnic group, origin, sexual orientation, life stage, "hijo único") as
``ID_SUJETO_ASISTENCIA``, and did so consistently on the train split: every "lactante", "casada",
"viudo", "joven", "raza caucásica", "de origen boliviano" or "de ascendencia afgana" there is
annotated. The statistical model, which sees each of them once or twice, misses most. This
recogniser finds them; an origin only after the words that introduce one ("de origen",
"de ascendencia", "de etnia", "de nacionalidad") or right after the patient's age ("Varón de 49
años, peruano"), because a demonym elsewhere ("militar español", "la cepa china") is not about
the patient, and only in lower case, as Spanish writes demonyms ("de nacionalidad Argentina" names
the country, ``PAIS``).

Like bare kinship terms these are PHI for MEDDOCAN and not for Alta's translation: a description
identifies no one by itself, and masking "casada" would put Spanish back into the English text.
:func:`drop_subject_descriptors` removes them there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinical.deid.recognizers.pattern_recognizer import PatternRecognizer
from clinical.deid.span import PhiSpan

__all__ = ["SubjectDescriptorRecognizer", "drop_subject_descriptors"]

_TYPE = "ID_SUJETO_ASISTENCIA"

_STATUS = (r"lactantes?|adolescente|joven|estudiante|casad[oa]|viud[oa]|solter[oa]|divorciad[oa]"
           r"|sin\s+hijos|hij[oa]\s+únic[oa]|homosexual|bisexual|transexual")
_RACE = (r"raza\s+(?:blanca|cauc[áa]sica|negra|gitana|[áa]rabe|asi[áa]tica|amerindia|ind[íi]gena|mestiza|latina)"
         r"|cauc[áa]sic[oa]|gitan[oa]")
_DEMONYM = (r"bolivian[oa]|peruan[oa]|ecuatorian[oa]|colombian[oa]|venezolan[oa]|argentin[oa]|uruguay[oa]"
            r"|paraguay[oa]|chilen[oa]|mexican[oa]|guatemaltec[oa]|hondureñ[oa]|salvadoreñ[oa]|nicaragüense"
            r"|costarricense|panameñ[oa]|cuban[oa]|dominican[oa]|puertorriqueñ[oa]|brasileñ[oa]|español[a]?"
            r"|portugu[ée]s[a]?|frances[a]?|francés|italian[oa]|alem[áa]n[a]?|britanic[oa]|británic[oa]"
            r"|ingles[a]?|inglés|irlandes[a]?|irlandés|ruman[oa]|búlgar[oa]|bulgar[oa]|ucranian[oa]|rus[oa]"
            r"|polac[oa]|marroqu[íi]|magreb[íi]|argelin[oa]|tunecin[oa]|egipci[oa]|senegal[ée]s[a]?|senegalés"
            r"|malí|malien[se]+|guinean[oa]|nigerian[oa]|ghanés|ghanes[a]|camerun[ée]s[a]?|ecuatoguinean[oa]"
            r"|subsahariano|subsahariana|african[oa]|asi[áa]tic[oa]|chin[oa]|japon[ée]s[a]?|coreano|coreana"
            r"|vietnamita|filipin[oa]|indi[oa]|hind[úu]|paquistan[íi]|pakistan[íi]|bangladesí|afgan[oa]"
            r"|iran[íi]|iraqu[íi]|sirio|siria|turc[oa]|sahara(?:ui|u[íi])|latinoamerican[oa]|sudamerican[oa]"
            r"|centroamerican[oa]|hispan[oa]|europe[oa]|oriental")
_INTRO = r"(?:de\s+)?(?:origen|ascendencia|etnia|nacionalidad|procedencia)\s+"
_AFTER_AGE = r"(?:años|meses)(?:\s+de\s+edad)?,\s+"


class SubjectDescriptorRecognizer(PatternRecognizer):
    """Marital status, ethnic group, origin and life stage of the patient; source ``"descriptor"``."""

    name = "descriptor"
    phi_type = _TYPE
    pattern = re.compile(
        rf"(?i)(?<![\w-])(?:"
        rf"(?P<status>{_STATUS})"
        rf"|(?P<race>{_RACE})"
        rf"|(?:(?<=origen )|(?<=ascendencia )|(?<=etnia )|(?<=nacionalidad )|(?<=procedencia ))(?P<origin>(?=(?-i:[a-zá-ú]))(?:{_DEMONYM}))"
        rf"|(?<=, )(?P<aged>(?=(?-i:[a-zá-ú]))(?:{_DEMONYM}))(?=[\s,.;])"
        rf")(?![\w-])"
    )
    _age_before = re.compile(rf"{_AFTER_AGE}$", re.I)

    def _spans(self, text: str) -> Iterable[PhiSpan]:
        for match in self.pattern.finditer(text):
            group = next(g for g in ("status", "race", "origin", "aged") if match.group(g))
            start, end = match.span(group)
            if group == "aged" and not self._age_before.search(text[max(0, start - 30):start]):
                continue
            yield PhiSpan(start, end, self.phi_type, source=self.name)


def drop_subject_descriptors(text: str, spans: Iterable[PhiSpan]) -> list[PhiSpan]:
    """``spans`` without the patient's descriptions: ``ID_SUJETO_ASISTENCIA`` spans with no digit,
    whichever recogniser found them (an identifier of the patient always has one)."""
    return [s for s in spans if s.type != _TYPE or any(c.isdigit() for c in text[s.start:s.end])]
