"""Checkpoint -> validated Transformers.js bundle: export, convert, validate, lay out, manifest.

Every requested dtype is built in a work directory and judged by the validation gate; only those
that pass are moved into the bundle. The bundle is assembled beside ``out`` and renamed into place
at the end, so ``out`` is either the previous bundle or a complete new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from tokenizers import Tokenizer

from clinical.contract import CONTRACT_VERSION
from export import catalog as catalog_file
from export import layout, quantize
from export.fp16_range import overflowing_tensors
from export.genai_builder import BuildStats, build_dtype
from export.graph_files import ExternalData, GraphFileError, SavedGraph, save_graph
from export.manifest import checkpoint_digest, tool_versions, write_manifest
from export.onnx_export import CheckpointInfo, ExportError, export_fp32
from export.reference import Reference, torch_references
from export.structural import twin_references
from export.validate import STRUCTURAL_DTYPES, Verdict, thresholds_for, validate_graph

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "models" / "contract" / "golden.json"
DEFAULT_PREFERENCE = ("q4", "q4f16", "fp16", "fp32", "q8")  # when the requested default fails
FP16_COMPUTE = ("fp16", "q4f16")  # graphs whose activations are float16: checked for range too
BUILDERS = ("genai", "optimum")
GATES = ("reference", "structural")


class BundleRefused(RuntimeError):
    """No requested dtype passed the gate, or the checkpoint cannot make a bundle; nothing was written."""


@dataclass
class BundleConfig:
    """What ``python -m export bundle`` builds (see ``export.__main__`` for the help of each field)."""

    checkpoint: Path
    out: Path
    dtypes: tuple[str, ...] = ("fp32", "fp16", "q4", "q4f16", "q8")
    default_dtype: str = "q4"
    name: str | None = None
    golden: Path = GOLDEN
    validate_tokens: int = 32
    accuracy_level: int = 4
    external_data: ExternalData = "auto"
    chunk_bytes: int = 2**31 - 1
    overwrite: bool = False
    catalog: Path | None = None
    tasks: tuple[str, ...] = ("epicrisis",)
    demo: bool | None = None  # a demonstration model: labelled as one wherever its drafts are shown
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)  # {"q4": {"min_top1": 0.75}}
    builder: str = "optimum"  # "genai": onnxruntime-genai's model builder (export.genai_builder)
    gate: str = "reference"  # "structural": quantised graphs against their dequantised twins (random weights)
    embedding: str = "quantised"  # genai builder, quantised dtypes: "float" keeps a float input embedding (WASM)

    def __post_init__(self) -> None:
        if self.builder not in BUILDERS:
            raise ValueError(f"unknown builder {self.builder!r}; choose from {', '.join(BUILDERS)}")
        if self.gate not in GATES:
            raise ValueError(f"unknown gate {self.gate!r}; choose from {', '.join(GATES)}")
        unknown = [d for d in self.dtypes if d not in layout.GRAPH_FILES]
        if unknown or not self.dtypes:
            raise ValueError(f"unknown dtypes {unknown}; choose from {', '.join(layout.DTYPES)}")
        if self.default_dtype not in layout.GRAPH_FILES:
            raise ValueError(f"default dtype {self.default_dtype!r} is not one of {', '.join(layout.DTYPES)}")
        self.dtypes = tuple(dict.fromkeys(self.dtypes))
        for dtype in self.thresholds:
            thresholds_for(dtype, self.thresholds)  # unknown names fail here, before any work


@dataclass
class DtypeOutcome:
    dtype: str
    file: str
    size_bytes: int = 0
    verdict: Verdict | None = None
    failure: str | None = None  # a build failure, before any validation
    seconds: float = 0.0
    build: BuildStats | None = None  # the genai builder's wall time and peak memory for this dtype

    @property
    def passed(self) -> bool:
        return self.failure is None and self.verdict is not None and self.verdict.passed

    @property
    def reasons(self) -> list[str]:
        return [self.failure] if self.failure else (self.verdict.reasons if self.verdict else [])


@dataclass
class BundleResult:
    out: Path
    outcomes: dict[str, DtypeOutcome]
    default_dtype: str
    fp32_size_bytes: int
    manifest: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def all_passed(self) -> bool:
        return all(o.passed for o in self.outcomes.values())


class _Stages:
    """Progress per stage on the log, and the wall time of each."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.timings = total, 0, {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.done += 1
        logger.info("[%d/%d] %s ...", self.done, self.total, name)
        started = time.perf_counter()
        result = fn()
        self.timings[name] = round(time.perf_counter() - started, 3)
        logger.info("[%d/%d] %s done in %.1f s", self.done, self.total, name, self.timings[name])
        return result


def load_golden(path: Path) -> list[dict[str, Any]]:
    vectors = json.loads(path.read_text(encoding="utf-8"))
    if not vectors:
        raise BundleRefused(f"{path} holds no golden vectors; run `make golden`")
    return vectors


class _Work:
    """The graphs of one export in its work directory: the fp32 base, the fp16 base, each dtype."""

    def __init__(self, cfg: BundleConfig, work: Path, fp32: Path | None, refs: list[Reference],
                 prompts: dict[str, list[int]]) -> None:
        self.cfg, self.work, self.fp32, self.refs, self.prompts = cfg, work, fp32, refs, prompts
        self._fp16: Path | None = None
        self._overflow: dict[str, float] | None = None
        self.stats: dict[str, BuildStats] = {}

    def fp16(self) -> Path:
        """The fp16 graph (q4f16 starts from it), built once."""
        if self._fp16 is None:
            saved = save_graph(quantize.to_fp16(self.fp32), self.work / "fp16-base" / layout.GRAPH_FILES["fp16"],
                               self.cfg.external_data, self.cfg.chunk_bytes)
            self._fp16 = saved.path
        return self._fp16

    def fp16_overflow(self) -> dict[str, float]:
        """Float16 tensors that leave float16's range on the golden prompts, computed once."""
        if self._overflow is None:
            self._overflow = overflowing_tensors(self.fp32, self.fp16(), [r.prompt_ids for r in self.refs])
        return self._overflow

    def build(self, dtype: str) -> SavedGraph:
        if dtype == "fp32":
            model = onnx.load(str(self.fp32))
        elif dtype == "fp16":
            model = quantize.to_fp16(self.fp32)
        elif dtype == "q4":
            model = quantize.to_q4(onnx.load(str(self.fp32)), accuracy_level=self.cfg.accuracy_level)
        elif dtype == "q4f16":
            model = quantize.to_q4(onnx.load(str(self.fp16())), accuracy_level=self.cfg.accuracy_level)
        else:
            model = quantize.to_q8(self.fp32)
        saved = save_graph(model, self.work / dtype / layout.GRAPH_FILES[dtype], self.cfg.external_data,
                           self.cfg.chunk_bytes)
        if dtype == "fp16" and self._fp16 is None:
            self._fp16 = saved.path
        return saved

    def validate(self, dtype: str, saved: SavedGraph) -> Verdict:
        overflow = self.fp16_overflow() if dtype in FP16_COMPUTE and self.fp32 is not None else None
        structural = self.cfg.gate == "structural" and dtype in STRUCTURAL_DTYPES and not (
            self.cfg.builder == "optimum" and dtype == "q8")  # optimum's q8 is MatMulInteger: no twin
        refs = (twin_references(saved.path, self.prompts, self.cfg.validate_tokens) if structural else self.refs)
        return validate_graph(dtype, saved.path, refs, thresholds_for(dtype, self.cfg.thresholds, structural), overflow)

    def fp32_size(self) -> int:
        if self.fp32 is None:
            return 0
        return sum(p.stat().st_size for p in self.fp32.parent.glob(self.fp32.name + "*"))


class _GenaiWork(_Work):
    """The genai builder's graphs: each dtype built from the checkpoint on its own (no fp32 base to convert)."""

    def __init__(self, cfg: BundleConfig, work: Path, checkpoint: Path, refs: list[Reference],
                 prompts: dict[str, list[int]]) -> None:
        super().__init__(cfg, work, None, refs, prompts)
        self.checkpoint = checkpoint

    def build(self, dtype: str) -> SavedGraph:
        saved, self.stats[dtype] = build_dtype(self.checkpoint, dtype, self.work, self.cfg.accuracy_level,
                                               self.cfg.chunk_bytes, self.cfg.embedding)
        if dtype == "fp32":
            self.fp32 = saved.path
        return saved

    def validate(self, dtype: str, saved: SavedGraph) -> Verdict:
        if dtype in FP16_COMPUTE:  # each float16 graph against the fp32 graph's activations
            if self.fp32 is None:
                logger.warning("%s: float16 range check skipped (it runs on the fp32 graph: list fp32 first)", dtype)
            prompts = [r.prompt_ids for r in self.refs] or list(self.prompts.values())
            self._overflow = overflowing_tensors(self.fp32, saved.path, prompts) if self.fp32 else {}
        return super().validate(dtype, saved)


def _read_checkpoint(cfg: BundleConfig, checkpoint: Path):
    info = CheckpointInfo.read(checkpoint)
    golden = load_golden(cfg.golden)
    layout.check_contract(checkpoint, golden)
    layout.eos_token_ids(checkpoint)
    tokenizer = Tokenizer.from_file(str(checkpoint / "tokenizer.json"))
    prompts = {v["name"]: tokenizer.encode(v["prompt"], add_special_tokens=False).ids for v in golden}
    return info, golden, prompts, checkpoint_digest(checkpoint)


def _choose_default(cfg: BundleConfig, passed: list[str]) -> str:
    if cfg.default_dtype in passed:
        return cfg.default_dtype
    default = next(d for d in DEFAULT_PREFERENCE + tuple(passed) if d in passed)
    logger.warning("default dtype %s did not pass (or was not built); the bundle defaults to %s",
                   cfg.default_dtype, default)
    return default


def build_bundle(cfg: BundleConfig) -> BundleResult:
    """Build, validate and write the bundle; raises :class:`BundleRefused` when no dtype passes."""
    checkpoint, out = cfg.checkpoint.resolve(), cfg.out.resolve()
    if out.exists() and not cfg.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    name = cfg.name or out.name
    stages = _Stages(total=5 + 2 * len(cfg.dtypes))
    out.parent.mkdir(parents=True, exist_ok=True)
    info, golden, prompts, source = stages.run("read checkpoint, check the prompt contract",
                                               lambda: _read_checkpoint(cfg, checkpoint))
    with tempfile.TemporaryDirectory(prefix=f".{name}.work-", dir=out.parent) as tmp:
        if cfg.builder == "optimum":
            fp32 = stages.run("export fp32 graph with past key values (optimum-onnx)",
                              lambda: export_fp32(checkpoint, Path(tmp) / "optimum"))
        else:
            stages.done += 1  # each dtype is built on its own below
        needs_torch = cfg.gate == "reference" or any(d not in STRUCTURAL_DTYPES for d in cfg.dtypes)
        refs = stages.run(f"PyTorch reference: {len(prompts)} golden prompts x {cfg.validate_tokens} tokens",
                          lambda: torch_references(checkpoint, prompts, cfg.validate_tokens) if needs_torch else [])
        work = (_Work(cfg, Path(tmp), fp32, refs, prompts) if cfg.builder == "optimum"
                else _GenaiWork(cfg, Path(tmp), checkpoint, refs, prompts))
        outcomes: dict[str, DtypeOutcome] = {}
        saved_graphs: dict[str, SavedGraph] = {}
        for dtype in cfg.dtypes:
            outcome = outcomes[dtype] = DtypeOutcome(dtype, layout.GRAPH_FILES[dtype])
            started = time.perf_counter()
            try:
                saved = stages.run(f"build {dtype}", lambda d=dtype: work.build(d))
            except GraphFileError as exc:  # over the browsers' size rules: this dtype cannot ship
                outcome.failure = f"{dtype}: {exc}"
                stages.done += 1
                continue
            outcome.size_bytes = saved.size_bytes
            outcome.verdict = stages.run(f"validate {dtype}", lambda d=dtype, s=saved: work.validate(d, s))
            outcome.seconds = round(time.perf_counter() - started, 3)
            outcome.build = work.stats.get(dtype)
            if outcome.passed:
                saved_graphs[dtype] = saved
        shipped_fp32 = outcomes.get("fp32")
        fp32_size = shipped_fp32.size_bytes if shipped_fp32 and shipped_fp32.size_bytes else work.fp32_size()
        passed = [d for d in cfg.dtypes if outcomes[d].passed]
        if not passed:
            reasons = "; ".join(r for o in outcomes.values() for r in o.reasons)
            raise BundleRefused(f"no dtype passed the validation gate, nothing written: {reasons}")
        default = _choose_default(cfg, passed)

        stage_dir = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=out.parent))
        stage_dir.chmod(0o755)  # mkdtemp makes it private; a bundle is served to browsers
        try:
            def assemble() -> dict[str, Any]:
                (stage_dir / "onnx").mkdir()
                for saved in saved_graphs.values():
                    for file in saved.files:
                        shutil.move(file, stage_dir / "onnx" / file.name)
                layout.write_layout(checkpoint, stage_dir, default,
                                    {layout.GRAPH_FILES[d]: len(s.data_files) for d, s in saved_graphs.items()})
                content = _manifest_content(cfg, name, info, source, golden, prompts, outcomes, saved_graphs,
                                            default, fp32_size, stages.timings)
                return json.loads(write_manifest(stage_dir, content).read_text(encoding="utf-8"))

            manifest = stages.run("write layout and manifest", assemble)
            stages.run("move the bundle into place", lambda: _replace(stage_dir, out))
        finally:
            if stage_dir.exists():
                shutil.rmtree(stage_dir)
    if cfg.catalog is not None:
        entry = catalog_file.register(cfg.catalog, out, manifest, list(cfg.tasks), demo=cfg.demo)
        logger.info("registered %s in %s (dtype %s)", entry["name"], cfg.catalog, entry["dtype"])
    return BundleResult(out, outcomes, default, fp32_size, manifest, stages.timings)


def _replace(stage_dir: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    stage_dir.rename(out)
    if old.exists():
        shutil.rmtree(old)


def _manifest_content(cfg: BundleConfig, name: str, info: CheckpointInfo, source: dict[str, Any],
                      golden: list[dict[str, Any]], prompts: dict[str, list[int]],
                      outcomes: dict[str, DtypeOutcome], saved: dict[str, SavedGraph], default: str,
                      fp32_size: int, timings: dict[str, float]) -> dict[str, Any]:
    dtypes = {}
    for dtype, o in outcomes.items():
        entry: dict[str, Any] = {"status": "passed" if o.passed else "failed", "file": f"onnx/{o.file}",
                                 "size_bytes": o.size_bytes,
                                 "ratio_to_fp32": round(o.size_bytes / fp32_size, 4) if o.size_bytes and fp32_size else None}
        if o.build is not None:
            entry["build"] = {"seconds": o.build.seconds, "peak_rss_bytes": o.build.peak_rss_bytes}
        if o.passed:
            entry["external_data"] = [f"onnx/{n}" for n in saved[dtype].data_files]
        else:
            entry["reasons"] = o.reasons
        if o.verdict is not None:
            entry["validation"] = o.verdict.to_dict()
        dtypes[dtype] = entry
    return {
        "name": name,
        "default_dtype": default,
        "source": {"checkpoint": str(cfg.checkpoint), "sha256": source["sha256"], "files": source["files"],
                   "model_type": info.model_type, "num_layers": info.num_layers,
                   "tie_word_embeddings": info.tie_word_embeddings},
        "contract": {"version": CONTRACT_VERSION,
                     "golden": [{"name": v["name"], "prompt_token_ids": prompts[v["name"]]} for v in golden]},
        "export": {"task": "text-generation-with-past", "builder": cfg.builder, "q4": {"block_size": quantize.Q4_BLOCK_SIZE,
                   "symmetric": True, "accuracy_level": cfg.accuracy_level}, "external_data": cfg.external_data,
                   "fp32_size_bytes": fp32_size, "timings_s": dict(timings)},
        "validation": {"new_tokens": cfg.validate_tokens, "gate": cfg.gate, "reference": _reference_text(cfg),
                       "thresholds": {d: vars(thresholds_for(d, cfg.thresholds, cfg.gate == "structural"))
                                      for d in outcomes}},
        "tools": tool_versions(),
        "dtypes": dtypes,
    }


def _reference_text(cfg: BundleConfig) -> str:
    if cfg.gate == "structural":
        return ("quantised dtypes: their own dequantised float twin (ONNX Runtime, greedy); fp32/fp16: PyTorch fp32, "
                "greedy, no stop at end of turn")
    return "PyTorch fp32, greedy, no stop at end of turn"


def summary_table(result: BundleResult) -> str:
    """dtype, size, ratio to fp32 and verdict, one line each (with the first reason of a failure)."""
    lines = [f"{'dtype':6}  {'file':25}  {'size MB':>9}  {'vs fp32':>7}  {'top-1':>6}  {'KL':>8}  {'min cos':>8}"
             "  verdict", "-" * 92]
    for d, o in result.outcomes.items():
        size = f"{o.size_bytes / 1e6:9.2f}" if o.size_bytes else f"{'-':>9}"
        ratio = f"{o.size_bytes / result.fp32_size_bytes:7.2f}" if o.size_bytes and result.fp32_size_bytes else f"{'-':>7}"
        top1 = f"{o.verdict.top1_agreement:6.3f}" if o.verdict and o.verdict.prompts else f"{'-':>6}"
        cos = f"{o.verdict.min_cosine:8.5f}" if o.verdict and o.verdict.prompts else f"{'-':>8}"
        kl = f"{o.verdict.mean_kl:8.2g}" if o.verdict and o.verdict.prompts else f"{'-':>8}"
        verdict = "passed" + (" (default)" if d == result.default_dtype else "") if o.passed else "FAILED"
        lines.append(f"{d:6}  {'onnx/' + o.file:25}  {size}  {ratio}  {top1}  {kl}  {cos}  {verdict}")
    for o in result.outcomes.values():
        lines += [f"  {o.dtype} failed: {r}" for r in o.reasons]
    return "\n".join(lines)


__all__ = ["BundleConfig", "BundleRefused", "BundleResult", "ExportError", "build_bundle", "summary_table"]
