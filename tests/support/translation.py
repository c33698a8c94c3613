"""Test support for translation: a TEST DOUBLE of a translation model, a clinical note with planted
PHI, and PDFs made in the test (one with a text layer, one that is only a picture of the text).

No translation model can be downloaded here, so the success path runs on :class:`GlossaryTranslator`,
a deterministic stand-in that implements ``Engine.complete`` word by word from the prompt's glossary
hints: it is what lets the tests check the pipeline around the model (chunks, placeholders,
re-identification, cache, PDF), never a claim about translation quality. The failure path also
runs on a real ONNX Runtime engine with a random tiny bundle (tests/unit/test_translate_pipeline.py).
:class:`GlossaryModelServer` puts the same stand-in behind a real OpenAI-compatible HTTP server, for
tests of a live Alta whose vLLM engine talks to it (tests/browser/test_translation_page.py).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from backend.engines.base import Completion, Engine, EngineHealth, GenerationParams, Messages
from clinical.contract import TRANSLATION_HINTS_PREFIX, TRANSLATION_USER_PREFIX
from clinical.deid.placeholders import PLACEHOLDER

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# A discharge note with a name, a Chilean RUT (valid check digit) and a phone (twice, in two
# paragraphs far apart, so the two mentions land in different chunks).
NOTE = """EPICRISIS

Nombre: Marcela Soto Aravena.
RUT: 12.345.678-5
Teléfono: +56 9 8765 4321

MOTIVO DE INGRESO
Paciente de 67 años con antecedentes de HTA y DM2 que ingresa por neumonía adquirida en la comunidad. Se indica paracetamol 1 g cada 8 horas y ceftriaxona 2 g al día.

EVOLUCIÓN
Marcela Soto Aravena evoluciona favorablemente, afebril desde el tercer día. Se contacta a la familia al +56 9 8765 4321.

INDICACIONES
Control en CESFAM en 7 días. Omeprazol 20 mg al día."""

PHI = ("Marcela", "Soto Aravena", "12.345.678-5", "12345678", "8765 4321", "87654321")
"""Fragments of the planted PHI that must never show up in logs, the cache, errors or prompts."""

WORDS = {
    "nombre": "Name", "teléfono": "Phone", "paciente": "patient", "de": "of", "con": "with",
    "antecedentes": "history", "y": "and", "que": "who", "ingresa": "is admitted", "por": "for",
    "se": "", "indica": "prescribed", "cada": "every", "horas": "hours", "al": "a", "día": "day",
    "días": "days", "evoluciona": "progresses", "favorablemente": "well", "afebril": "afebrile",
    "desde": "since", "el": "the", "tercer": "third", "contacta": "contacted", "a": "to", "la": "the",
    "familia": "family", "control": "follow-up", "en": "at", "años": "years", "motivo": "reason",
    "ingreso": "admission", "evolución": "course", "indicaciones": "instructions", "epicrisis": "discharge summary",
    "ingresó": "was admitted", "fiebre": "fever", "dolor": "pain", "tos": "cough",
}


def hints_and_source(messages: Messages) -> tuple[list[tuple[str, str]], str]:
    """The glossary hints and the text to translate, read back from the prompt contract's messages."""
    user = messages[-1]["content"]
    head, source = user.split(TRANSLATION_USER_PREFIX, 1)
    hints = re.findall(r"^- (.+?) = (.+)$", head.removeprefix(TRANSLATION_HINTS_PREFIX), re.M)
    return hints, source


def word_by_word(source: str, hints: list[tuple[str, str]]) -> str:
    """Glossary terms first (longest first), then known words; placeholders, numbers and line
    breaks stay as they are. A line in capitals (a heading) is translated in capitals."""
    marked = source
    for es, en in sorted(hints, key=lambda h: -len(h[0])):
        marked = re.sub(rf"(?<!\w){re.escape(es)}(?!\w)", lambda _m, en=en: "\x00" + en + "\x01", marked,
                        flags=re.I)

    def word(match: re.Match[str]) -> str:
        w = match.group()
        english = WORDS.get(w.lower(), w)
        return english.upper() if w.isupper() and len(w) > 1 else english

    parts = re.split(r"(\x00[^\x01]*\x01)", marked)
    out = "".join(p[1:-1] if p.startswith("\x00") else re.sub(r"(?<!\w)[^\W\d_]+(?!\w)", word, p) for p in parts)
    out = re.sub(r"[^\S\n]+", " ", out)
    # a heading (a source line in capitals) stays in capitals
    return "\n".join(t.upper() if s.isupper() and not PLACEHOLDER.search(s) else t
                     for s, t in zip(source.split("\n"), out.split("\n"), strict=True))


Mangle = Callable[[str, int], str]


class GlossaryTranslator(Engine):
    """TEST DOUBLE of a translation model: word by word from the prompt's glossary hints.

    ``mangle(text, call_number)`` damages an answer, to play a model that drops or duplicates a
    placeholder; ``calls`` records what the "model" was sent (the tests scan it for PHI).
    """

    name = "test-translator"
    model = "test-glossary-word-by-word"
    model_version = "1"
    tasks = ("translation",)

    def __init__(self, mangle: Mangle | None = None, name: str | None = None) -> None:
        self.mangle = mangle
        self.calls: list[tuple[Messages, GenerationParams | None]] = []
        if name:
            self.name = name

    async def complete(self, messages: Messages, task: str, params: GenerationParams | None = None) -> Completion:
        if not self.supports(task):
            raise self._unsupported(task)
        self.calls.append((messages, params))
        hints, source = hints_and_source(messages)
        text = word_by_word(source, hints)
        if self.mangle is not None:
            text = self.mangle(text, len(self.calls) - 1)
        return Completion(text, self.name, self.model, self.model_version, "stop", None, len(text.split()))

    async def health(self) -> EngineHealth:
        return EngineHealth(True, "test double")


def drop_first_placeholder(text: str, _call: int) -> str:
    return PLACEHOLDER.sub("", text, count=1)


def duplicate_first_placeholder(text: str, _call: int) -> str:
    match = PLACEHOLDER.search(text)
    return text + " " + match.group() if match else text


def only_first_call(mangle: Mangle) -> Mangle:
    """Damage the first answer only: the retry then succeeds."""
    return lambda text, call: mangle(text, call) if call == 0 else text


def text_pdf(pages: list[list[tuple[str, str]]]) -> bytes:
    """A PDF with a text layer: ``pages`` of (kind, text) blocks, kind "h" (bold heading) or "p"."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    for blocks in pages:
        pdf.add_page()
        for kind, text in blocks:
            pdf.set_font("DejaVu", "B" if kind == "h" else "", 13 if kind == "h" else 11)
            pdf.multi_cell(0, 7 if kind == "h" else 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(4)
    return bytes(pdf.output())


def image_pdf(lines: list[str]) -> bytes:
    """A PDF whose only page is a picture of ``lines`` (a scan: no text layer at all)."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    width, height, margin = 1654, 2339, 120  # A4 at 200 dpi
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y = margin
    for line in lines:
        bold = line.isupper()
        font = ImageFont.truetype(str(FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), 34)
        if line:
            draw.text((margin, y), line, font=font, fill=0)
        y += 60
    png = io.BytesIO()
    image.save(png, format="PNG")
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(io.BytesIO(png.getvalue()), x=0, y=0, w=210, h=297)
    return bytes(pdf.output())


def scan_for_phi(*texts: str) -> list[str]:
    """The planted PHI fragments found in ``texts`` (empty when none leaked)."""
    blob = "\n".join(texts)
    squashed = re.sub(r"[\s.\-+]", "", blob)
    return [p for p in PHI if p in blob or re.sub(r"[\s.\-+]", "", p) in squashed]


class GlossaryModelServer:
    """TEST DOUBLE of a translation model behind a real OpenAI-compatible HTTP server, the protocol
    ``vllm serve`` speaks: ``GET /health``, ``GET /v1/models`` (one model, ``translation``) and
    ``POST /v1/chat/completions``, streamed or not, each answer made by :func:`word_by_word` as
    :class:`GlossaryTranslator` makes it.

    Point Alta's vLLM engine at ``url`` (``ALTA_VLLM_BASE_URLS``, ``ALTA_VLLM_MODELS``) and a live
    server translates over HTTP with only the model faked. ``mangle`` damages answers as
    GlossaryTranslator's does (set it to play a model that loses placeholders); :meth:`pause_after`
    holds answers back until :meth:`resume`, so a test can watch a job part-way without timing
    guesses; ``prompts`` records every message list received, for the tests to scan for PHI.
    """

    model = "translation"
    root = "test-glossary-word-by-word"

    def __init__(self) -> None:
        self.mangle: Mangle | None = None
        self.prompts: list[Messages] = []
        self._lock = threading.Lock()
        self._paused_from: int | None = None
        self._resumed = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> GlossaryModelServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def pause_after(self, calls: int) -> None:
        """Answer ``calls`` more requests, then hold every later one until :meth:`resume` (30 s at most)."""
        with self._lock:
            self._paused_from = len(self.prompts) + calls
            self._resumed.clear()

    def resume(self) -> None:
        with self._lock:
            self._paused_from = None
            self._resumed.set()

    def answer(self, messages: Messages) -> str:
        with self._lock:
            self.prompts.append(messages)
            call, mangle, paused_from = len(self.prompts) - 1, self.mangle, self._paused_from
        if paused_from is not None and call >= paused_from:
            self._resumed.wait(30)
        hints, source = hints_and_source(messages)
        text = word_by_word(source, hints)
        return mangle(text, call) if mangle is not None else text

    def models_json(self) -> dict:
        return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "test",
                                            "root": self.root, "parent": None}]}

    @staticmethod
    def events(text: str, model: str) -> bytes:
        """The answer as vLLM streams it: a role chunk, a chunk per line, the finish, the usage, [DONE]."""
        def chunk(delta: dict, finish: str | None = None, **extra: object) -> dict:
            return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

        pieces = [chunk({"role": "assistant", "content": ""})]
        pieces += [chunk({"content": line}) for line in text.splitlines(keepends=True)]
        pieces.append(chunk({"content": ""}, "stop"))
        words = len(text.split())
        pieces.append({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
                       "choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": words, "total_tokens": words}})
        lines = [f"data: {json.dumps(p, ensure_ascii=False)}\n\n" for p in pieces] + ["data: [DONE]\n\n"]
        return "".join(lines).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/health":
                    self._send(200, b"", "text/plain")
                elif path == "/v1/models":
                    self._send(200, json.dumps(outer.models_json()).encode())
                else:
                    self._send(404, b'{"detail":"Not Found"}')

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.path.split("?")[0] != "/v1/chat/completions" or body.get("model") != outer.model:
                    self._send(404, json.dumps({"error": {"type": "NotFoundError", "message": "no such model",
                                                          "code": 404}}).encode())
                    return
                text = outer.answer(body["messages"])
                if body.get("stream"):
                    self._send(200, outer.events(text, outer.model), "text/event-stream; charset=utf-8")
                    return
                words = len(text.split())
                self._send(200, json.dumps({
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": outer.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": words, "total_tokens": words}},
                    ensure_ascii=False).encode())

        return Handler
