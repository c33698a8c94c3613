"""What a review reports: findings (a fact the record contradicts, lacks or requires) and traced facts.

Every finding has a stable ``code`` for the API, a ``kind`` (the family of fact it is about), the
record ``field`` it contradicts or lacks, a character span in the draft (None when the problem is an
absence) and a Spanish ``message`` for the page. Messages never quote the draft or the record: they
are shown next to the span, and the API's clients can read the record field themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MESSAGES", "CheckReport", "Fact", "Finding", "KINDS"]

KINDS = ("identity", "date", "stay", "medication", "diagnosis", "procedure", "allergy", "discharge",
         "follow_up", "lab", "vital_sign", "number")

# code -> (kind, Spanish message). The code is the API's stable name; the page shows the message.
MESSAGES: dict[str, tuple[str, str]] = {
    "wrong_name": ("identity", "El nombre no es el del paciente del registro."),
    "unknown_person": ("identity", "Nombra a una persona que no aparece en el registro."),
    "missing_identity": ("identity", "Falta el nombre del paciente."),
    "wrong_sex": ("identity", "El sexo no coincide con el registro."),
    "sex_agreement": ("identity", "La concordancia de género no corresponde al sexo del registro."),
    "wrong_age": ("identity", "La edad no coincide con el registro."),
    "wrong_birth_date": ("identity", "La fecha de nacimiento no coincide con el registro."),
    "unknown_identifier": ("identity", "Identificador que no es del paciente del registro."),
    "wrong_weight": ("identity", "El peso no coincide con el registro."),
    "wrong_service": ("identity", "El servicio no coincide con el registro."),
    "impossible_date": ("date", "Fecha que no existe en el calendario."),
    "unknown_date": ("date", "Fecha que no está en el registro."),
    "wrong_date": ("date", "La fecha no corresponde al dato del registro que acompaña."),
    "missing_date": ("date", "Falta una fecha que el registro tiene (ingreso o egreso)."),
    "wrong_stay_length": ("stay", "La duración de la estadía no coincide con las fechas del registro."),
    "unknown_number": ("number", "Cifra que no está en el registro."),
    "unknown_dose": ("medication", "Dosis que no está en el registro."),
    "wrong_dose": ("medication", "La dosis no es la que el registro indica para este medicamento."),
    "wrong_route": ("medication", "La vía no es la que el registro indica para este medicamento."),
    "wrong_frequency": ("medication", "La frecuencia no es la que el registro indica para este medicamento."),
    "wrong_duration": ("medication", "La duración no es la que el registro indica para este medicamento."),
    "incomplete_medication": ("medication", "Falta la dosis, la vía, la frecuencia o la duración que el registro indica."),
    "unknown_drug": ("medication", "Fármaco que no está en el registro."),
    "unknown_medication": ("medication", "Medicamento que el registro no indica en esta sección."),
    "missing_discharge_medication": ("medication", "Falta un medicamento del tratamiento al alta."),
    "missing_inpatient_medication": ("medication", "Falta un medicamento del tratamiento durante la hospitalización."),
    "unknown_code": ("diagnosis", "Código que no está en el registro."),
    "code_mismatch": ("diagnosis", "El código no corresponde a este diagnóstico en el registro."),
    "unknown_diagnosis": ("diagnosis", "Diagnóstico que no está en el registro."),
    "missing_diagnosis": ("diagnosis", "Falta un diagnóstico de egreso."),
    "missing_procedure": ("procedure", "Falta un procedimiento."),
    "unknown_procedure": ("procedure", "Procedimiento que no está en el registro."),
    "allergy_contradicted": ("allergy", "Contradice las alergias del registro."),
    "unknown_allergy": ("allergy", "Alergia que no está en el registro."),
    "missing_allergy": ("allergy", "Falta una alergia del registro."),
    "wrong_condition": ("discharge", "La condición al egreso no coincide con el registro."),
    "wrong_destination": ("discharge", "El destino al egreso no coincide con el registro."),
    "wrong_follow_up": ("follow_up", "El control no coincide con el registro (especialidad, fecha o lugar)."),
    "wrong_origin": ("stay", "El origen del ingreso no coincide con el registro."),
    "missing_follow_up": ("follow_up", "Falta un control con fecha del registro."),
    "wrong_lab_value": ("lab", "El resultado no es el del registro para este examen."),
    "wrong_vital_sign": ("vital_sign", "El signo vital no coincide con ningún control del registro."),
}


@dataclass(frozen=True)
class Finding:
    """One problem: a draft fact the record contradicts or lacks, or a required fact the draft lacks."""

    code: str
    text: str  # the draft span, or the record item that is missing
    field: str | None = None  # record path: "patient.name", "discharge_medications[1].dose"
    start: int | None = None  # code-point span in the draft; None for an absence
    end: int | None = None

    @property
    def kind(self) -> str:
        return MESSAGES[self.code][0]

    @property
    def message(self) -> str:
        return MESSAGES[self.code][1]

    @property
    def missing(self) -> bool:
        return self.code.startswith("missing_")


@dataclass(frozen=True)
class Fact:
    """A fact-like span of the draft and the record field it was traced to (None: not traced)."""

    kind: str
    start: int
    end: int
    field: str | None

    @property
    def traced(self) -> bool:
        return self.field is not None


@dataclass(frozen=True)
class CheckReport:
    """The review of one draft: findings (missing facts first, then by position) and traced facts."""

    findings: tuple[Finding, ...]
    facts: tuple[Fact, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    def missing(self) -> list[Finding]:
        return [f for f in self.findings if f.missing]

    def unknown(self) -> list[Finding]:
        """Findings about something the draft says (a span), as opposed to something it leaves out."""
        return [f for f in self.findings if not f.missing]

    @property
    def attributed_share(self) -> float:
        """The share of fact spans traced to a record field (1.0 for a draft with no fact span)."""
        if not self.facts:
            return 1.0
        return sum(f.traced for f in self.facts) / len(self.facts)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "reviewed": True,
            "attributed_share": round(self.attributed_share, 4),
            "findings": [
                {"code": f.code, "kind": f.kind, "text": f.text, "message": f.message, "field": f.field,
                 "start": f.start, "end": f.end}
                for f in self.findings
            ],
            "facts": [{"kind": f.kind, "start": f.start, "end": f.end, "field": f.field, "traced": f.traced}
                      for f in self.facts],
        }
