"""Person names announced by their context: "Paciente:", "Sra.", "Dr.", "madre de nombre" + a name.

MEDDOCAN's case reports name people almost only in form fields, which the statistical model learnt;
Latin-American notes name them in prose and in other headers ("Paciente Juan Pérez González, de 45
años", "C. JUAN HERNÁNDEZ", "Nombre: PÉREZ GONZÁLEZ, JUAN", "su hija, de nombre Carmen"). The word
in front says both that a name follows and whose it is, so each trigger carries a MEDDOCAN type:

- the patient (``NOMBRE_SUJETO_ASISTENCIA``): "Nombre:", "Paciente:", "Apellidos:", "Sr./Sra.",
  "Don/Doña", the Mexican "C." (ciudadano), and a bare "paciente" before a gazetteer name;
- staff (``NOMBRE_PERSONAL_SANITARIO``): "Dr./Dra.", "Médico tratante:", "Enfermera:", "E.U.",
  "Remitido por:" ...;
- relatives (``FAMILIARES_SUJETO_ASISTENCIA``): "madre", "esposo", "hija" ... followed by "de
  nombre", ":" or directly a given name; a title after a kinship word ("su esposa, la Sra. X") is a
  relative too.

Only the name is the span, never the trigger (MEDDOCAN's guidelines), except a kinship word right
before a relative's name, which MEDDOCAN annotates with it ("madre Teresa Rodríguez"; for
translation, :mod:`clinical.deid.names.kinship` cuts it off again). A strong trigger (a field
label or a title) takes any capitalised word that is not a known non-name; a weak one (a bare
"paciente", "enfermera", "madre") needs the first word to be in the gazetteer. A trigger inside
the name of a hospital or a street ("Hospital Dr. Sótero del Río") is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from clinical.deid.names.gazetteer import NameGazetteer, load_gazetteer
from clinical.deid.names.scan import organisation_before, scan_name
from clinical.deid.names.words import ORGANISATION_WORDS
from clinical.deid.span import PhiSpan

__all__ = ["PATIENT", "RELATIVE", "STAFF", "PersonNameRecognizer"]

PATIENT = "NOMBRE_SUJETO_ASISTENCIA"
STAFF = "NOMBRE_PERSONAL_SANITARIO"
RELATIVE = "FAMILIARES_SUJETO_ASISTENCIA"

_KIN = (r"madres?|padres?|hij[oa]s?|espos[oa]|marido|c[óo]nyuge|pareja|herman[oa]s?|t[íi][oa]|abuel[oa]|niet[oa]"
        r"|sobrin[oa]|prim[oa]|cuñad[oa]|suegr[oa]|yerno|nuera|familiar|tutor[a]?|apoderad[oa]|cuidador[a]?"
        r"|acompañante|progenitor[a]?|padrastro|madrastra")
_TITLE_PREFIX = r"(?:(?:Sr|Sra|Srta|Dr|Dra|Don|Doña|Dña|C|Prof|Profa)(?:\.[ \t]*|[ \t]+))*"
_LABEL_END = r"[ \t]*:[ \t]*"


@dataclass(frozen=True)
class Trigger:
    """Words announcing a name: ``pattern`` ends where the name starts."""

    pattern: re.Pattern[str]
    phi_type: str
    strong: bool
    comma: bool = False  # "APELLIDOS, NOMBRE" order allowed (form fields)
    label: bool = False  # a field label ("Paciente:") starts its own field: never inside a place's name
    no_number_after: bool = False  # "C. Reforma 123", "Dr. Esquerdo 46": a street named after a person
    with_trigger: bool = False  # the span starts at the trigger: "madre Teresa Rodríguez" (MEDDOCAN)


def _label(words: str) -> str:
    return rf"(?<![\w.])(?:{words}){_LABEL_END}{_TITLE_PREFIX}"


TRIGGERS: tuple[Trigger, ...] = (
    Trigger(re.compile(_label(
        r"nombres?(?:[ \t]+(?:completo|y[ \t]+apellidos?|del?[ \t]+(?:la[ \t]+)?(?:paciente|usuari[oa]|niñ[oa]|menor"
        r"|derechohabiente|beneficiari[oa]|afiliad[oa]|reci[ée]n[ \t]+nacid[oa])))?"
        r"|apellidos?(?:[ \t]+y[ \t]+nombres?)?|(?<!del )(?<!la )paciente|usuari[oa]|derechohabiente|beneficiari[oa]|afiliad[oa]"
        r"|identificaci[óo]n(?:[ \t]+del[ \t]+paciente)?"), re.IGNORECASE), PATIENT, strong=True, comma=True, label=True),
    Trigger(re.compile(
        r"(?<![\w.])(?:(?i:sra?|srta|sres)\.|(?i:señora?|señorita)(?=[ \t])|Don(?=[ \t])|Doña(?=[ \t])|(?i:dña)\b\.?)"
        r"[ \t]*"), PATIENT, strong=True, no_number_after=True),
    Trigger(re.compile(r"(?:^|(?<=\bel )|(?<=\bal )|(?<=\bdel ))C\.[ \t]+", re.MULTILINE), PATIENT, strong=True,
            comma=True, no_number_after=True),
    Trigger(re.compile(r"(?<![\w.])(?:paciente|PACIENTE|Paciente)[ \t]+"), PATIENT, strong=False),
    Trigger(re.compile(r"(?<![\w.])(?:paciente|Paciente)[ \t]+(?:de[ \t]+nombre|llamad[oa])[ \t]+"),
            PATIENT, strong=True),
    Trigger(re.compile(
        r"(?<![\w.])(?:(?i:dra?|drs|doctora?|profa?|profesora?)\b\.?|(?i:dr\(a\))\.?|E\.U\.|Q\.F\.|T\.M\."
        r"|Klg[oa]\.|Kine\.|Ps\.|Nut\.|Enf\.|Mat\.|TENS\b)[ \t]*(?::[ \t]*)?"), STAFF, strong=True,
        no_number_after=True),
    Trigger(re.compile(_label(
        r"m[ée]dic[oa](?:[ \t]+(?:tratante|responsable|residente|de[ \t]+turno|cirujano|intern[oa]|solicitante"
        r"|informante|que[ \t]+(?:informa|suscribe|atiende)))?|responsable[ \t]+cl[íi]nico|remitid[oa][ \t]+por"
        r"|firma(?:do[ \t]+por)?|elaborado[ \t]+por|atendid[oa][ \t]+por|realizado[ \t]+por|solicitado[ \t]+por"
        r"|revisado[ \t]+por|validado[ \t]+por|informado[ \t]+por|dictado[ \t]+por|tratante|atendi[óo]"
        r"|enfermer[oa](?:[ \t]+(?:a[ \t]+cargo|jefe|responsable|tratante))?|matr[oó]na?|kinesi[oó]log[oa]"
        r"|nutricionista|psic[oó]log[oa]|cirujan[oa]|anestesi[oó]log[oa]|residente|especialista"
        r"|profesional(?:[ \t]+responsable)?|interconsultor"), re.IGNORECASE), STAFF, strong=True, label=True),
    Trigger(re.compile(
        r"(?<![\w.])(?:[Mm][ée]dic[oa][ \t]+(?:tratante|residente|de[ \t]+turno|intern[oa]|responsable)"
        r"|[Ee]nfermer[oa](?:[ \t]+(?:a[ \t]+cargo|jefe|de[ \t]+turno))?|[Mm]atrona|[Kk]inesi[oó]log[oa]"
        r"|[Nn]utricionista|[Pp]sic[oó]log[oa]|[Cc]irujan[oa]|[Aa]nestesi[oó]log[oa]|[Rr]esidente)[ \t]+"),
        STAFF, strong=False),
    Trigger(re.compile(_label(
        rf"(?:nombre[ \t]+del?[ \t]+(?:la[ \t]+)?)?(?:{_KIN})(?:[ \t]+responsable)?|contacto(?:[ \t]+de[ \t]+emergencia)?"),
        re.IGNORECASE), RELATIVE, strong=True, label=True),
    Trigger(re.compile(rf"(?<![\w.])(?i:{_KIN})[ \t]*,?[ \t]*(?:de[ \t]+nombre|llamad[oa])[ \t]+"), RELATIVE, strong=True),
    Trigger(re.compile(rf"(?<![\w.])(?i:{_KIN})[ \t]*,[ \t]*"), RELATIVE, strong=False),
    Trigger(re.compile(rf"(?<![\w.])(?i:{_KIN})[ \t]+"), RELATIVE, strong=False, with_trigger=True),
)

# A title right after a kinship word belongs to the relative: "su esposa, la Sra. Carmen Soto".
_KIN_BEFORE = re.compile(rf"(?i:\b(?:{_KIN}))[ \t]*,?[ \t]*(?:(?:la|el|su)[ \t]+)?$")
_NUMBER_AFTER = re.compile(r"[ \t]*(?:n[º°o]\.?[ \t]*)?(?:\d|s/n\b)")


class PersonNameRecognizer:
    """Names after the triggers above, typed by the trigger; source ``"name-context"``."""

    name = "name-context"

    def __init__(self, gazetteer: NameGazetteer | None = None):
        self.gazetteer = gazetteer or load_gazetteer()

    def analyze(self, text: str) -> list[PhiSpan]:
        """The names of ``text`` that a trigger announces, left to right (may overlap each other)."""
        return sorted(set(self._spans(text)))

    def _spans(self, text: str) -> Iterator[PhiSpan]:
        for trigger in TRIGGERS:
            for match in trigger.pattern.finditer(text):
                name = scan_name(
                    text, match.end(), self.gazetteer, known_first=not trigger.strong,
                    given_first=not trigger.strong and trigger.phi_type == RELATIVE, allow_comma=trigger.comma,
                )
                if name is None or (trigger.no_number_after and _NUMBER_AFTER.match(text, name.end)):
                    continue
                if not trigger.label and organisation_before(text, match.start(), ORGANISATION_WORDS):
                    continue
                start = match.start() if trigger.with_trigger else name.start
                yield PhiSpan(start, name.end, self._type(text, match.start(), trigger), source=self.name)

    @staticmethod
    def _type(text: str, trigger_start: int, trigger: Trigger) -> str:
        if trigger.phi_type == PATIENT and _KIN_BEFORE.search(text, max(0, trigger_start - 40), trigger_start):
            return RELATIVE
        return trigger.phi_type
