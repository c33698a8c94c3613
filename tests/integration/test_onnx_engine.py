"""The ONNX Runtime engine on an exported tiny bundle: exporter parity, streaming, busy, refusing bad bundles."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.config import Settings
from backend.engines.base import EngineBusy
from backend.engines.bundle import BundleError, open_bundle
from backend.engines.decoding import SamplingParams
from backend.engines.onnx import OnnxEngine
from backend.engines.registry import build_registry
from backend.services.epicrisis import stream_with, write_with
from clinical.contract import GOLDEN_TODAY
from clinical.record import HospitalStay
from devtools import export_testing as testing
from tests.support import REPO

GOLDEN = json.loads((REPO / "models/contract/golden.json").read_text(encoding="utf-8"))
NEW_TOKENS = 32


@pytest.fixture(scope="module")
def bundle_dir() -> Path:
    return testing.tiny_bundle().out


@pytest.fixture(scope="module")
def manifest(bundle_dir) -> dict:
    return json.loads((bundle_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def engine(bundle_dir) -> OnnxEngine:
    return OnnxEngine(open_bundle(bundle_dir), defaults=SamplingParams(max_new_tokens=NEW_TOKENS))


def stay_of(vector: dict) -> HospitalStay:
    return HospitalStay.model_validate(vector["record"], context={"today": GOLDEN_TODAY})


def recorded(manifest: dict, dtype: str, name: str) -> list[int]:
    return next(p for p in manifest["dtypes"][dtype]["validation"]["prompts"] if p["name"] == name)["greedy_tokens"]


@pytest.mark.parametrize("dtype", testing.ALL_DTYPES)
def test_engine_produces_the_tokens_the_exporter_recorded(bundle_dir, manifest, dtype):
    engine = OnnxEngine(open_bundle(bundle_dir, dtype))
    for vector in GOLDEN:
        ids = engine.encode(stay_of(vector))
        assert ids == next(g["prompt_token_ids"] for g in manifest["contract"]["golden"] if g["name"] == vector["name"])
        assert engine.generate_ids(ids, max_new_tokens=NEW_TOKENS, stop_token_ids=()) == \
            recorded(manifest, dtype, vector["name"]), f"{dtype} {vector['name']}"


def test_chunked_prefill_gives_the_same_tokens(bundle_dir, manifest):
    engine = OnnxEngine(open_bundle(bundle_dir, "fp32"), prefill_chunk=256)  # the prompts span 3-7 chunks
    for vector in GOLDEN:
        ids = engine.encode(stay_of(vector))
        assert engine.generate_ids(ids, max_new_tokens=NEW_TOKENS, stop_token_ids=()) == \
            recorded(manifest, "fp32", vector["name"])


def test_generate_writes_the_recorded_tokens_up_to_end_of_turn(engine, manifest):
    eos = set(engine.bundle.eos_token_ids)
    for vector in GOLDEN:
        tokens = recorded(manifest, engine.bundle.dtype, vector["name"])
        expected = tokens[:next((i for i, t in enumerate(tokens) if t in eos), len(tokens))]
        draft = asyncio.run(write_with(engine, stay_of(vector)))
        assert draft.text == engine.tokenizer.decode(expected, skip_special_tokens=True)
        assert (draft.engine, draft.model, draft.model_version) == ("onnx", "bundle", f"{manifest['version']}-q4")


def test_stream_concatenates_to_generate(engine):
    async def both(stay):
        chunks = [chunk async for chunk in stream_with(engine, stay)]
        return chunks, (await write_with(engine, stay)).text

    for vector in GOLDEN:
        chunks, text = asyncio.run(both(stay_of(vector)))
        assert "".join(chunks) == text and len(chunks) > 1
        assert engine.active == 0


def test_stream_never_splits_a_utf8_character(engine):
    from backend.engines.decoding import IncrementalDetokenizer

    byte_token = {b: engine.tokenizer.token_to_id(c) for b, c in zip(range(256), _byte_level_chars(), strict=True)}
    text = "é€😀 ok"
    detok = IncrementalDetokenizer(engine.tokenizer)
    pieces = [detok.push(byte_token[b]) for b in text.encode()] + [detok.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    assert pieces[:2] == ["", "é"]  # the first byte alone is held back


def _byte_level_chars() -> list[str]:
    """GPT-2's byte-to-unicode table, which byte-level BPE vocabularies are written in."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def test_sampling_is_reproducible_with_a_seed(engine):
    ids = engine.encode(stay_of(GOLDEN[1]))
    sample = dict(max_new_tokens=24, temperature=1.0, top_p=0.9, stop_token_ids=())
    first = engine.generate_ids(ids, seed=7, **sample)
    assert first == engine.generate_ids(ids, seed=7, **sample)
    assert first != engine.generate_ids(ids, seed=8, **sample)
    greedy = engine.generate_ids(ids, max_new_tokens=24, stop_token_ids=())
    assert engine.generate_ids(ids, max_new_tokens=24, temperature=1.0, top_p=1e-9, seed=3,
                               stop_token_ids=()) == greedy  # a nucleus of one token is greedy


def test_busy_when_every_slot_is_taken(bundle_dir, monkeypatch):
    engine = OnnxEngine(open_bundle(bundle_dir), max_concurrency=1, defaults=SamplingParams(max_new_tokens=8))
    gate = threading.Event()
    real_tokens = engine.decoder.tokens

    def held_tokens(*args, **kwargs):
        for token in real_tokens(*args, **kwargs):
            gate.wait(10)
            yield token

    monkeypatch.setattr(engine.decoder, "tokens", held_tokens)
    stay = stay_of(GOLDEN[1])

    async def scenario():
        first = asyncio.ensure_future(write_with(engine, stay))
        while engine.active == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(EngineBusy, match="busy: 1 of 1 generations running"):
            await write_with(engine, stay)
        with pytest.raises(EngineBusy):
            async for _chunk in stream_with(engine, stay):
                pass
        health = await engine.health()
        assert not health.healthy and health.busy and "busy" in health.detail
        gate.set()
        await first
        assert engine.active == 0 and (await engine.health()).healthy
        assert (await write_with(engine, stay)).engine == "onnx"

    asyncio.run(scenario())


def test_a_stream_left_early_frees_its_slot(bundle_dir):
    engine = OnnxEngine(open_bundle(bundle_dir), max_concurrency=1, defaults=SamplingParams(max_new_tokens=2000))

    async def scenario():
        stream = stream_with(engine, stay_of(GOLDEN[1]))
        await anext(stream)
        await stream.aclose()
        for _ in range(500):
            if engine.active == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the abandoned generation kept its slot")

    asyncio.run(scenario())


def _copy(bundle_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle_dir, tmp_path / "bundle"))


def test_renamed_external_data_file_is_refused_naming_it(bundle_dir, tmp_path):
    copy = _copy(bundle_dir, tmp_path)
    (copy / "onnx/model.onnx_data").rename(copy / "onnx/model.onnx.data")  # what ORT's own tools would name it
    with pytest.raises(BundleError, match=r"onnx/model\.onnx_data is missing.*renamed.*found instead: model\.onnx\.data"):
        open_bundle(copy, "fp32")


def test_wrong_sha256_is_refused_naming_the_file(bundle_dir, tmp_path):
    copy = _copy(bundle_dir, tmp_path)
    data = copy / "onnx/model_q4.onnx_data"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte changed
    data.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match=r"onnx/model_q4\.onnx_data does not match its sha256"):
        open_bundle(copy, "q4")
    (copy / "tokenizer.json").write_text((copy / "tokenizer.json").read_text() + " ")
    with pytest.raises(BundleError, match=r"tokenizer\.json is \d+ bytes"):
        open_bundle(copy, "fp32")


def test_missing_manifest_or_dtype_is_refused(bundle_dir, tmp_path):
    copy = _copy(bundle_dir, tmp_path)
    with pytest.raises(BundleError, match="no bf16 graph"):
        open_bundle(copy, "bf16")
    (copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest.json is missing"):
        open_bundle(copy)


def test_engine_module_needs_neither_torch_nor_transformers():
    code = ("import sys, backend.engines.onnx, backend.engines.bundle; "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'optimum', 'onnx'}); "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def models_dir(bundle_dir, tmp_path) -> Path:
    """A models/ folder whose catalog names the tiny bundle."""
    return testing.catalog_dir(tmp_path / "models", bundle_dir)


def test_registry_builds_the_onnx_engine_from_the_catalog(models_dir):
    settings = Settings(environment="test", models_dir=models_dir, onnx_max_new_tokens=16)
    registry = build_registry(["onnx", "template"], settings)
    assert registry.order == ["onnx", "template"]
    onnx_engine = registry.get("onnx")
    assert onnx_engine.model == "bundle" and onnx_engine.bundle.dtype == "q4"
    assert onnx_engine.defaults.max_new_tokens == 16


def test_api_says_which_engine_wrote_the_draft(models_dir, settings: Settings, auth, record):
    app_settings = settings.model_copy(update={"engines": ["onnx", "template"], "models_dir": models_dir,
                                               "onnx_max_new_tokens": 16})
    with TestClient(create_app(app_settings)) as client:
        models = client.get("/api/v1/models", headers=auth).json()
        assert [m["engine"] for m in models] == ["onnx", "template"] and models[0]["healthy"]
        # the default chain: the random tiny model's draft fails the record review, so the template
        # writes the stored one, and says why
        chained = client.post("/api/v1/epicrisis", headers=auth, json={"record": record})
        provenance = chained.json()["provenance"]
        assert chained.status_code == 201 and provenance["engine"] == "template"
        assert provenance["fallbacks"][0]["engine"] == "onnx"
        assert "record review" in provenance["fallbacks"][0]["reason"] and chained.json()["checks"]["ok"]
        # pinned: the onnx engine alone writes, and its draft is stored with its findings in plain view
        only_onnx = client.post("/api/v1/epicrisis", headers=auth, json={"record": record, "engine": "onnx"})
        assert only_onnx.status_code == 201 and only_onnx.json()["provenance"]["engine"] == "onnx"
        assert only_onnx.json()["checks"]["ok"] is False and only_onnx.json()["checks"]["findings"]
        # streamed under the default chain: the model's draft is shown, reviewed, and replaced
        streamed = client.post("/api/v1/epicrisis/stream", headers=auth, json={"record": record})
        assert streamed.status_code == 200 and streamed.headers["X-Alta-Engine"] == "onnx"
        events = [(block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\ndata: ", 1)[1]))
                  for block in streamed.text.strip().split("\n\n")]
        names = [name for name, _ in events]
        assert names[0] == "start" and "chunk" in names and names[-3:] == ["review", "replaced", "done"]
        review, replaced, done = (data for _, data in events[-3:])
        assert review == {"ok": False, "findings": replaced["findings"], "replaced": True}
        assert replaced["engine"] == "onnx" and replaced["by"]["engine"] == "template"
        assert done["provenance"]["engine"] == "template" and done["checks"]["ok"] and done["text"] == replaced["text"]
        assert done["provenance"]["fallbacks"][0]["engine"] == "onnx"
        # streamed and pinned: nothing is replaced, the findings are stored with the draft
        pinned = client.post("/api/v1/epicrisis/stream", headers=auth, json={"record": record, "engine": "onnx"})
        blocks = pinned.text.strip().split("\n\n")
        assert blocks[-2].startswith("event: review") and blocks[-1].startswith("event: done")
        stored = json.loads(blocks[-1].split("\ndata: ", 1)[1])
        assert stored["provenance"]["engine"] == "onnx" and stored["checks"]["ok"] is False


def test_default_engine_order_follows_the_catalog(models_dir, tmp_path):
    with_model = Settings(environment="test", models_dir=models_dir)
    assert with_model.engine_order == ["onnx", "template", "apertium"]
    assert Settings(environment="test", models_dir=tmp_path / "nothing").engine_order == ["template", "apertium"]
    assert Settings(environment="test", models_dir=models_dir, engines=["template"]).engine_order == ["template"]
