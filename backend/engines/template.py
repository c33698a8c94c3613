"""The deterministic engine: Alta's jinja2 writer, always available, section by section."""

from __future__ import annotations

from collections.abc import AsyncIterator

from backend.engines.base import (
    Completion,
    Draft,
    Engine,
    EngineHealth,
    EngineUnsupported,
    GenerationParams,
    Messages,
    RecordWriter,
)
from clinical.contract import record_from_messages
from clinical.record import HospitalStay
from clinical.writer import TEMPLATE_VERSION, render_epicrisis, render_sections


class TemplateEngine(Engine, RecordWriter):
    """Writes an epicrisis from the record (:class:`RecordWriter`); as a chat engine it answers only the
    prompt contract's epicrisis message, whose record it reads back and writes from."""

    name = "template"
    model = "alta-epicrisis-template"
    model_version = TEMPLATE_VERSION
    tasks = ("epicrisis",)  # from a structured record only; it cannot answer free chat or translate

    async def write(self, stay: HospitalStay) -> Draft:
        return Draft(render_epicrisis(stay), self.name, self.model, self.model_version)

    async def stream_write(self, stay: HospitalStay) -> AsyncIterator[str]:
        sections = render_sections(stay)
        for i, section in enumerate(sections):
            yield ("" if i == 0 else "\n\n") + f"{section.title}\n{section.body}" + ("\n" if i == len(sections) - 1 else "")

    def _record(self, messages: Messages, task: str) -> HospitalStay:
        if task != "epicrisis":
            raise self._unsupported(task)
        stay = record_from_messages(messages)
        if stay is None:
            raise EngineUnsupported("the template engine writes an epicrisis only from the prompt contract's "
                                    "user message ('Registro de hospitalización:' and a valid record)")
        return stay

    async def complete(self, messages: Messages, task: str, params: GenerationParams | None = None) -> Completion:
        """``template/epicrisis`` on /v1: the prompt contract's record, written by the template."""
        draft = await self.write(self._record(messages, task))
        return Completion(draft.text, self.name, self.model, self.model_version)

    async def stream_complete(self, messages: Messages, task: str,
                              params: GenerationParams | None = None) -> AsyncIterator[str]:
        stay = self._record(messages, task)
        async for chunk in self.stream_write(stay):
            yield chunk

    def chat_tasks(self) -> tuple[str, ...]:
        # Chat only in the sense of the prompt contract's epicrisis message, whose record it writes from.
        return ("epicrisis",)

    async def health(self) -> EngineHealth:
        return EngineHealth("ok", "jinja2 templates loaded")
