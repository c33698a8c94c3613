"""The epicrisis grammar of one record: what a model may write, so that it can only write this record.

A grammar in xgrammar's EBNF (the text vLLM's ``structured_outputs``, the ONNX engine and the
browser's web-xgrammar all compile), built from the template writer's own sections
(:func:`clinical.writer.render_sections`), so that every text it accepts is one the closed-world
review (``clinical.checks.check_draft``) accepts:

- the sections of the prompt contract in order, each with its uppercase heading; a section the
  template leaves out (nothing recorded) is left out here too, so none is missing and none is empty;
- identity lines, dates, the reason for admission, the history, the labs and the vital signs
  exactly as the template writes them from the record (dates written out, numbers with the
  record's decimals);
- the lists as items drawn from the record, each exactly once, in an order the model chooses:
  diagnoses with their CIE-10 codes (the principal diagnosis stays first: "1." means principal),
  procedures with their dates and codes, inpatient and discharge prescriptions with dose, route,
  frequency and duration, discharge instructions and follow-ups. Numbered lists are renumbered by
  position ("1. ", "2. ", ...). Each order is a rule per set of items already written (2^n rules), so
  above :data:`MAX_PERMUTED` items a list keeps the record's order (said in a comment in the grammar);
- digits only inside those record slots. Free narrative is off by default (``narrative="record"``:
  the record's own evolution text, verbatim). ``narrative="free"`` lets the model write the evolution
  in its own words instead: at most ``narrative_chars`` characters per line, no digits, no line
  breaks beyond the record's line count. A model's free words can still name a drug or a finding
  the record lacks, which the review then flags; that is why it is not the default.

The module is pure Python (no xgrammar import): the backend, the benchmarks and the golden files
all get the same text from here, and ``models/contract/grammars/*.ebnf`` pins it for the tests of
every runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from clinical.record import HospitalStay
from clinical.writer import Section, render_sections

__all__ = ["GRAMMAR_VERSION", "MAX_PERMUTED", "GrammarOptions", "ebnf_literal", "epicrisis_grammar"]

GRAMMAR_VERSION = "1"
MAX_PERMUTED = 8
"""Lists longer than this keep the record's order: the subset encoding needs 2^n rules."""

Narrative = Literal["record", "free"]


@dataclass(frozen=True)
class GrammarOptions:
    """How much the grammar leaves to the model."""

    narrative: Narrative = "record"  # "free": the evolution text in the model's words (no digits)
    narrative_chars: int = 400  # the longest free line, in characters
    max_permuted: int = MAX_PERMUTED

    def __post_init__(self) -> None:
        if self.narrative not in ("record", "free"):
            raise ValueError(f"narrative must be 'record' or 'free', not {self.narrative!r}")
        if not 1 <= self.narrative_chars <= 4000:
            raise ValueError("narrative_chars must be between 1 and 4000")
        if not 0 <= self.max_permuted <= 12:
            raise ValueError("max_permuted must be between 0 and 12 (2^n rules per list)")


# Sections whose body is a list the model may reorder: key -> (line prefix of an item, numbered,
# lines before the list that stay as they are, items that stay first in record order).
_LISTS: dict[str, tuple[str, bool, int, int]] = {
    "diagnosticos": ("", True, 0, 1),
    "procedimientos": ("- ", False, 1, 0),
    "tratamiento_hospitalizacion": ("", True, 0, 0),
    "tratamiento_alta": ("", True, 0, 0),
    "indicaciones": ("- ", False, 0, 0),
    "controles": ("- ", False, 0, 0),
}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def ebnf_literal(text: str) -> str:
    """``text`` as an EBNF string literal (UTF-8 kept as is; quotes, backslashes and controls escaped).

    A literal is closed after every non-ASCII character and the next one opened (``"Marí" "a"``, the
    same text): web-xgrammar 0.1.27 (the browser's build) mis-compiles a non-ASCII character that has
    more text after it in the same literal ("ía" came out as a different byte sequence), which the
    Python xgrammar does not; split this way both read the grammar alike.
    """
    out = []
    for i, ch in enumerate(text):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
            if ord(ch) > 0x7F and i + 1 < len(text):
                out.append('" "')
    return '"' + "".join(out) + '"'


class _Rules:
    """Named rules in the order they are defined, so the text is stable."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, name: str, body: str, comment: str | None = None) -> str:
        if comment:
            self.lines.append(f"# {comment}")
        self.lines.append(f"{name} ::= {body}")
        return name


def _numbered(line: str) -> str:
    """The item text of a numbered line, ``"2. Metformina ..."`` -> ``"Metformina ..."``."""
    number, sep, rest = line.partition(". ")
    if not (sep and number.isdigit()):
        raise ValueError(f"the writer's numbered line has no number: {line[:20]!r}")
    return rest


def _list_rules(rules: _Rules, key: str, lines: list[str], opts: GrammarOptions) -> str:
    """The body of a list section: fixed lines, then the items, each once, in any order (or the record's)."""
    prefix, numbered, fixed_lines, fixed_items = _LISTS[key]
    head, item_lines = lines[:fixed_lines], lines[fixed_lines:]
    items = [_numbered(line) if numbered else line.removeprefix(prefix) for line in item_lines]
    if not numbered and any(not line.startswith(prefix) for line in item_lines):
        raise ValueError(f"the writer's {key} section has a line that is not a list item")
    names = [rules.add(f"{key}_item_{i + 1}", ebnf_literal(item)) for i, item in enumerate(items)]

    def bullet(position: int) -> str:
        return f"{position}. " if numbered else prefix

    parts = [ebnf_literal(line + "\n") for line in head]
    first = [f"{ebnf_literal(bullet(i + 1))} {names[i]}" for i in range(min(fixed_items, len(items)))]
    free = list(range(len(first), len(items)))
    if not free:
        return " ".join(parts + [' "\\n" '.join(first)]) if first else " ".join(parts)
    if len(free) > opts.max_permuted or len(free) == 1:
        why = (f"{len(free)} items: more than {opts.max_permuted}, kept in the record's order"
               if len(free) > 1 else None)
        ordered = first + [f"{ebnf_literal(bullet(i + 1))} {names[i]}" for i in free]
        return " ".join(parts + [rules.add(f"{key}_items", ' "\\n" '.join(ordered), why)])

    # One rule per set of items already written (a bit mask over ``free``): the next item is any
    # unused one, numbered by its position, and the rule for the grown set follows it.
    full = (1 << len(free)) - 1
    base = len(first)
    for mask in range(full):
        position = base + bin(mask).count("1") + 1
        alternatives = []
        for bit, index in enumerate(free):
            if mask & (1 << bit):
                continue
            grown = mask | (1 << bit)
            step = f"{ebnf_literal(bullet(position))} {names[index]}"
            alternatives.append(step if grown == full else f'{step} "\\n" {key}_set_{grown}')
        comment = (f"{len(free)} items, each once, in any order; rule per set of items written"
                   if mask == 0 else None)
        rules.add(f"{key}_set_{mask}", " | ".join(f"({a})" for a in alternatives), comment)
    lead = [' "\\n" '.join(first) + ' "\\n"'] if first else []
    return " ".join(parts + lead + [f"{key}_set_0"])


def _free_narrative(rules: _Rules, n_lines: int, opts: GrammarOptions) -> str:
    """Up to ``n_lines`` lines of the model's own words: no digits, bounded length."""
    line = rules.add("narrative_line", f"[^0-9\\n] [^0-9\\n]{{0,{opts.narrative_chars - 1}}}",
                     f"free narrative: no digits, at most {opts.narrative_chars} characters a line")
    return line if n_lines <= 1 else f'{line} ("\\n" {line}){{0,{n_lines - 1}}}'


def _section_body(rules: _Rules, section: Section, stay: HospitalStay, opts: GrammarOptions) -> str:
    lines = section.body.split("\n")
    if section.key in _LISTS:
        return _list_rules(rules, section.key, lines, opts)
    if section.key == "evolucion" and opts.narrative == "free" and stay.evolution:
        # The writer's evolution section: the record's narrative lines, then its closing sentence(s)
        # of dates, origin, condition and destination, which stay as the record has them.
        narrative = lines[: _narrative_lines(stay)]
        rest = lines[len(narrative):]
        tail = ebnf_literal("\n" + "\n".join(rest)) if rest else ""
        return f"{_free_narrative(rules, len(narrative), opts)} {tail}".strip()
    return ebnf_literal(section.body)


def _narrative_lines(stay: HospitalStay) -> int:
    from clinical.writer.spanish import clean

    return len(clean(stay.evolution or "").splitlines())


def epicrisis_grammar(stay: HospitalStay, options: GrammarOptions | None = None) -> str:
    """The xgrammar EBNF that accepts exactly the epicrisis drafts this record allows (see the module)."""
    opts = options or GrammarOptions()
    rules = _Rules()
    sections = render_sections(stay)
    names: list[str] = []
    for section in sections:
        body = _section_body(rules, section, stay, opts)
        names.append(rules.add(f"section_{section.key}", f"{ebnf_literal(section.title + chr(10))} {body}"))
    root = ' "\\n\\n" '.join(names) + ' "\\n"'
    header = [f"# Alta epicrisis grammar v{GRAMMAR_VERSION} ({opts.narrative} narrative): the sections, "
              "identity, codes, drugs, doses and dates of one record; built by clinical.grammar"]
    return "\n".join(header + [f"root ::= {root}"] + rules.lines) + "\n"


def section_keys(stay: HospitalStay) -> Sequence[str]:
    """The sections a constrained draft of ``stay`` has, in order (the template writer's)."""
    return [s.key for s in render_sections(stay)]


def golden_grammars() -> dict[str, str]:
    """Example record name -> its grammar (default options), as ``models/contract/grammars/`` pins them."""
    from clinical.contract import GOLDEN_TODAY, example_records

    return {name: epicrisis_grammar(HospitalStay.model_validate(raw, context={"today": GOLDEN_TODAY}))
            for name, raw in example_records().items()}


def write_golden_grammars(folder: Path) -> list[Path]:
    """Write ``<name>.ebnf`` for every example record into ``folder`` (stale ones removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    grammars = golden_grammars()
    for stale in folder.glob("*.ebnf"):
        if stale.stem not in grammars:
            stale.unlink()
    paths = []
    for name, text in grammars.items():
        path = folder / f"{name}.ebnf"
        path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths
