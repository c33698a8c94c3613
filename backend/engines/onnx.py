"""The ONNX Runtime engine: an exported bundle on CPU, with the KV cache, sampling and token streaming.

It needs onnxruntime, tokenizers and numpy only (the ``serve`` install; no torch, no transformers).
The prompt is the prompt contract's ChatML rendering of the request's messages
(``clinical.contract.render_chatml``), tokenised with the bundle's own tokenizer. Generation runs in worker threads, at most ``max_concurrency`` at once; a
request beyond that gets :class:`EngineBusy` at once rather than queueing behind minutes of decode
(the service then falls back to the next engine, or answers 503 with the reason).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

import onnxruntime as ort
from tokenizers import Tokenizer

from backend.core.config import Settings
from backend.engines.base import (
    Completion,
    ContextLengthExceeded,
    Engine,
    EngineBusy,
    EngineError,
    EngineHealth,
    GenerationParams,
    Messages,
)
from backend.engines.bundle import BundleError, ServedBundle, resolve_bundle
from backend.engines.constraint import GrammarConstraints, TokenConstraint, load_constraints
from backend.engines.decoding import (
    IncrementalDetokenizer,
    KVDecoder,
    PromptTooLong,
    SamplingParams,
    config_head_dim,
    cpu_session,
)
from clinical.contract import epicrisis_prompt, record_from_messages, render_chatml
from clinical.grammar import GrammarOptions
from clinical.record import HospitalStay

logger = logging.getLogger(__name__)

ORT_ERRORS = tuple(getattr(ort.capi.onnxruntime_pybind11_state, n) for n in (
    "Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NotImplemented",
    "RuntimeException", "EPFail"))
T = TypeVar("T")
_END = object()


class OnnxEngine(Engine):
    """Writes drafts with an exported bundle on ONNX Runtime (CPU)."""

    name = "onnx"

    def __init__(self, bundle: ServedBundle, *, max_concurrency: int = 2, threads: int = 0,
                 defaults: SamplingParams | None = None, prefill_chunk: int = 0, constrain: bool = False,
                 grammar: GrammarOptions | None = None, jump_forward: bool = True) -> None:
        """``constrain``: epicrisis drafts follow their record's grammar (``clinical.grammar``) through
        xgrammar token masks; without xgrammar installed they are written unconstrained, said loudly."""
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.bundle = bundle
        self.model = bundle.name
        self.demo = bundle.demo
        self.model_version = f"{bundle.version}-{bundle.dtype}"
        self.tasks = tuple(bundle.tasks)
        self.defaults = defaults or SamplingParams()
        self.max_concurrency = max_concurrency
        self.tokenizer = Tokenizer.from_file(str(bundle.tokenizer))
        try:
            session = cpu_session(bundle.graph, threads)
        except ORT_ERRORS as exc:
            raise BundleError(f"ONNX Runtime cannot load {bundle.graph} ({bundle.dtype}): {exc}; re-export the "
                              "bundle or choose another dtype (ALTA_ONNX_DTYPE)") from exc
        self.decoder = KVDecoder(session, bundle.max_positions, prefill_chunk, config_head_dim(bundle.root))
        self.stop_ids = frozenset(bundle.eos_token_ids)
        self.constraints: GrammarConstraints | None = None
        self.constraint_detail = "unconstrained (ALTA_ONNX_CONSTRAIN=false)"
        if constrain:
            self.constraints, self.constraint_detail = load_constraints(self.tokenizer, self.stop_ids, grammar,
                                                                        jump_forward)
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="alta-onnx")
        self._lock = threading.Lock()
        self._active = 0
        logger.info("onnx engine: %s %s (%s), %d concurrent generations, %s", self.model, bundle.dtype,
                    self.model_version, max_concurrency, self.constraint_detail)

    @classmethod
    def from_settings(cls, settings: Settings) -> OnnxEngine:
        bundle = resolve_bundle(settings.models_dir, settings.onnx_model, settings.onnx_bundle, settings.onnx_dtype)
        defaults = SamplingParams(max_new_tokens=settings.onnx_max_new_tokens, temperature=settings.onnx_temperature,
                                  top_p=settings.onnx_top_p)
        return cls(bundle, max_concurrency=settings.onnx_max_concurrency, threads=settings.onnx_threads,
                   defaults=defaults, prefill_chunk=settings.onnx_prefill_chunk, constrain=settings.onnx_constrain,
                   grammar=GrammarOptions(narrative=settings.onnx_constrain_narrative),
                   jump_forward=settings.onnx_constrain_jump_forward)

    # --- slots ---------------------------------------------------------------------------------

    @property
    def active(self) -> int:
        return self._active

    def _acquire(self) -> None:
        with self._lock:
            if self._active >= self.max_concurrency:
                raise EngineBusy(f"onnx engine busy: {self._active} of {self.max_concurrency} generations running; "
                                 "retry shortly, or raise ALTA_ONNX_MAX_CONCURRENCY if the CPU has room")
            self._active += 1

    def _release(self) -> None:
        with self._lock:
            self._active -= 1

    # --- blocking core ------------------------------------------------------------------------

    def encode(self, stay: HospitalStay) -> list[int]:
        """The prompt contract's text for ``stay``, as the bundle's token ids."""
        return self.tokenizer.encode(epicrisis_prompt(stay), add_special_tokens=False).ids

    def encode_messages(self, messages: Messages) -> list[int]:
        """ChatML for ``messages`` with the assistant turn opened, as the bundle's token ids."""
        return self.tokenizer.encode(render_chatml(messages), add_special_tokens=False).ids

    def _params(self, **overrides: float | int | None) -> SamplingParams:
        return replace(self.defaults, **{k: v for k, v in overrides.items() if v is not None})

    def constraint_for(self, messages: Messages, task: str) -> TokenConstraint | None:
        """The record's grammar state for an epicrisis request whose prompt carries a valid record, else None."""
        if self.constraints is None or task != "epicrisis":
            return None
        stay = record_from_messages(messages)
        if stay is None:  # a free-form chat under the epicrisis adapter: no record to hold it to
            logger.info("onnx engine: an epicrisis request without a valid record is written unconstrained")
            return None
        try:
            return self.constraints.for_stay(stay)
        except RuntimeError as exc:  # xgrammar refused the grammar: a builder bug, never written unconstrained
            raise EngineError(f"the record's grammar did not compile ({type(exc).__name__}); "
                              "set ALTA_ONNX_CONSTRAIN=false to write unconstrained drafts meanwhile") from exc

    def _request(self, messages: Messages, task: str, params: GenerationParams | None
                 ) -> tuple[list[int], SamplingParams, Callable[[], TokenConstraint | None]]:
        """Prompt ids, sampling, and the constraint to build in the generation thread (compiling a grammar
        is CPU work the event loop should not wait on)."""
        if not self.supports(task):
            raise self._unsupported(task)
        p = params or GenerationParams()
        return self.encode_messages(messages), self._params(
            max_new_tokens=p.max_new_tokens, temperature=p.temperature, top_p=p.top_p, seed=p.seed
        ), lambda: self.constraint_for(messages, task)

    def _tokens(self, prompt_ids: list[int], params: SamplingParams, stop_ids: frozenset[int],
                cancel: threading.Event | None, constraint: TokenConstraint | None = None):
        try:
            yield from self.decoder.tokens(prompt_ids, params, stop_ids, cancel, constraint)
        except ORT_ERRORS as exc:
            raise EngineError(f"ONNX Runtime failed while generating: {exc}") from exc
        except PromptTooLong as exc:
            raise ContextLengthExceeded(str(exc), exc.context) from exc
        except ValueError as exc:  # an empty prompt
            raise EngineError(str(exc)) from exc

    def generate_ids(self, prompt_ids: list[int], max_new_tokens: int | None = None, temperature: float | None = None,
                     top_p: float | None = None, seed: int | None = None,
                     stop_token_ids: frozenset[int] | set[int] | None = None,
                     constraint: TokenConstraint | None = None) -> list[int]:
        """New token ids for ``prompt_ids`` (blocking; takes a slot). Stop ids end generation and are not returned;
        ``constraint`` (``self.constraints.for_stay(stay)``) holds them to a record's grammar."""
        params = self._params(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
        stops = self.stop_ids if stop_token_ids is None else frozenset(stop_token_ids)
        self._acquire()
        try:
            return list(self._tokens(prompt_ids, params, stops, None, constraint))
        finally:
            self._release()

    # --- async interface -----------------------------------------------------------------------

    def _submit(self, work: Callable[[threading.Event], T]) -> tuple[asyncio.Future[T], threading.Event]:
        """Start ``work`` in a generation thread under a slot (EngineBusy if none is free).

        The slot is released when the thread's future settles, whether it ran, failed or was
        cancelled before starting; setting the returned event stops a running decode at its next token.
        """
        self._acquire()
        cancel = threading.Event()
        try:
            future = self._executor.submit(work, cancel)
        except RuntimeError:  # the executor was shut down
            self._release()
            raise EngineError("onnx engine is shutting down") from None
        future.add_done_callback(lambda _f: self._release())
        return asyncio.wrap_future(future), cancel

    def chat_tasks(self) -> tuple[str, ...]:
        return self.tasks  # a model engine answers chat messages for every task it serves

    async def complete(self, messages: Messages, task: str, params: GenerationParams | None = None) -> Completion:
        prompt_ids, sampling, constraint = self._request(messages, task, params)

        def work(cancel: threading.Event) -> tuple[list[int], bool]:
            ids = list(self._tokens(prompt_ids, sampling, self.stop_ids, cancel, constraint()))
            return ids, len(ids) >= sampling.max_new_tokens

        future, cancel = self._submit(work)
        try:
            ids, hit_limit = await future
        except asyncio.CancelledError:
            cancel.set()
            raise
        return Completion(self.tokenizer.decode(ids, skip_special_tokens=True), self.name, self.model,
                          self.model_version, "length" if hit_limit else "stop", len(prompt_ids), len(ids))

    async def stream_complete(self, messages: Messages, task: str,
                              params: GenerationParams | None = None) -> AsyncIterator[str]:
        """Text as it is written, token by token; the chunks concatenate to what ``complete`` returns."""
        prompt_ids, sampling, constraint = self._request(messages, task, params)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()

        def post(item: object, cancel: threading.Event) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                cancel.set()

        def work(cancel: threading.Event) -> None:
            try:
                detok = IncrementalDetokenizer(self.tokenizer)
                for token in self._tokens(prompt_ids, sampling, self.stop_ids, cancel, constraint()):
                    if piece := detok.push(token):
                        post(piece, cancel)
                if not cancel.is_set() and (tail := detok.flush()):
                    post(tail, cancel)
            finally:
                post(_END, cancel)

        future, cancel = self._submit(work)
        try:
            while (item := await queue.get()) is not _END:
                yield item  # type: ignore[misc]
            await future  # the worker's error, if it had one
        finally:
            cancel.set()  # the client went away (or we are done): stop decoding for nobody

    async def health(self) -> EngineHealth:
        if self._active >= self.max_concurrency:
            return EngineHealth("busy", f"busy: {self._active}/{self.max_concurrency} generations running")
        return EngineHealth("ok", f"{self.model} {self.bundle.dtype} ({self._active}/{self.max_concurrency} generating); "
                                  f"{self.constraint_detail}")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
