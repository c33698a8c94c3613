"""One review policy on every server path, with the engines `make run` serves (the shipped demo model on
ONNX Runtime, then the template writer): whatever the demo model writes, the stored document of the
default chain passes the record review, and a stream that showed a failing draft says it replaced it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.core.config import Settings
from clinical.contract import example_records

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def demo_client(settings: Settings):
    app_settings = settings.model_copy(update={"engines": ["onnx", "template"], "models_dir": MODELS,
                                               "onnx_max_new_tokens": 96})
    with TestClient(create_app(app_settings)) as client:
        yield client


def events_of(body: str) -> list[tuple[str, dict]]:
    return [(block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\ndata: ", 1)[1]))
            for block in body.strip().split("\n\n")]


@pytest.mark.parametrize("name", sorted(example_records()))
def test_default_chain_never_stores_a_draft_that_fails_the_review(demo_client, auth, name):
    record = example_records()[name]
    streamed = demo_client.post("/api/v1/epicrisis/stream", headers=auth, json={"record": record})
    events = events_of(streamed.text)
    names = [n for n, _ in events]
    assert names[0] == "start" and events[0][1]["engine"] == "onnx" and events[0][1]["demo"] is True
    review = dict(events)["review"]
    done = events[-1][1]
    assert names[-1] == "done" and done["checks"]["ok"] is True and done["checks"]["reviewed"] is True
    if review["replaced"]:  # the demo model's draft failed: the stream said so before storing another
        assert names[-3:] == ["review", "replaced", "done"] and done["provenance"]["engine"] == "template"
        assert done["provenance"]["fallbacks"][0]["engine"] == "onnx"
    else:
        assert done["provenance"]["demo"] is True
    posted = demo_client.post("/api/v1/epicrisis", headers=auth, json={"record": record}).json()
    assert posted["checks"]["ok"] is True


def test_a_pinned_demo_engine_stores_its_findings_in_plain_view(demo_client, auth, doctor):
    record = example_records()["neumonia_chile"]
    posted = demo_client.post("/api/v1/epicrisis", headers=auth, json={"record": record, "engine": "onnx"}).json()
    assert posted["provenance"] == {**posted["provenance"], "engine": "onnx", "demo": True}
    assert posted["checks"]["ok"] is False
    kinds = {f["kind"] for f in posted["checks"]["findings"]}
    assert "identity" in kinds or "medication" in kinds  # the demo model writes another person or invents
    signed = demo_client.post(f"/api/v1/documents/{posted['id']}/sign", headers=auth,
                              json={"version": 1, **doctor})
    assert signed.status_code == 409 and signed.json()["code"] == "unresolved_findings"


def test_control_characters_are_refused_naming_the_field(demo_client, auth):
    record = json.loads(json.dumps(example_records()["minimo"]))
    record["admission"]["reason"] = "Crisis\u0000 asmática"
    response = demo_client.post("/api/v1/epicrisis", headers=auth, json={"record": record})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "control_character" and error["loc"][-2:] == ["admission", "reason"]
    assert "Crisis" not in response.text  # the rejected value is never repeated


def test_per_kg_dose_without_weight_is_refused_naming_the_unit(demo_client, auth):
    record = json.loads(json.dumps(example_records()["neumonia_pediatrica_chile"]))
    del record["patient"]["weight_kg"]
    response = demo_client.post("/api/v1/epicrisis", headers=auth, json={"record": record})
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "record", "inpatient_medications", 0, "unit"] in locs


def test_the_page_gets_the_records_grammar_the_server_engines_use(demo_client, auth):
    from clinical.grammar import epicrisis_grammar
    from clinical.record import HospitalStay

    record = example_records()["neumonia_pediatrica_chile"]
    answer = demo_client.post("/api/v1/epicrisis/grammar", headers=auth, json={"record": record})
    assert answer.status_code == 200
    assert answer.json()["grammar"] == epicrisis_grammar(HospitalStay.model_validate(record))
    assert "Fuentes Rojas" in answer.json()["grammar"]  # literals are split after non-ASCII letters
    assert demo_client.post("/api/v1/epicrisis/grammar", json={"record": record}).status_code == 401
