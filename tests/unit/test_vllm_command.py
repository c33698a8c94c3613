"""`python -m training vllm-command`: the `vllm serve` line read from the training configs."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import REPO
from training.__main__ import main
from training.vllm_command import vllm_serve_command

CONFIGS = REPO / "training/configs"
EPICRISIS = CONFIGS / "epicrisis-qwen2.5-1.5b-lora.yaml"
TRANSLATION = CONFIGS / "translation-qwen2.5-0.5b-lora.yaml"


def translation_on_the_epicrisis_base(tmp_path: Path, rank: int = 12, max_length: int = 6144) -> Path:
    """The shipped translation config, retargeted at the 1.5B base so both adapters share a server."""
    raw = yaml.safe_load(TRANSLATION.read_text())
    raw["model"]["base_model"] = "Qwen/Qwen2.5-1.5B-Instruct"
    raw["lora"]["r"] = rank
    raw["data"]["max_length"] = max_length
    path = tmp_path / "translation-1.5b.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_one_adapter_gives_the_exact_command(capsys):
    assert main(["vllm-command", "--config", str(EPICRISIS), "--merged-base", "/srv/models/qwen2.5-1.5b"]) == 0
    out, err = capsys.readouterr()
    assert shlex.split(out) == [
        "vllm", "serve", "/srv/models/qwen2.5-1.5b", "--served-model-name", "alta-base",
        "--enable-lora", "--lora-modules", "epicrisis=runs/epicrisis-qwen2.5-1.5b-lora/final",
        "--max-lora-rank", "16", "--max-loras", "1", "--max-model-len", "4096",
        "--gpu-memory-utilization", "0.9", "--generation-config", "vllm", "--port", "8000"]
    assert "ALTA_VLLM_BASE_URLS" in err


def test_two_adapters_on_one_base_share_a_server(tmp_path):
    argv = vllm_serve_command([EPICRISIS, translation_on_the_epicrisis_base(tmp_path)], "/srv/base",
                              {"translation": "/srv/adapters/translation v2"}, gpu_memory_utilization=0.85,
                              host="0.0.0.0", port=8100, tensor_parallel_size=2)
    line = shlex.join(argv)
    assert "--lora-modules epicrisis=runs/epicrisis-qwen2.5-1.5b-lora/final 'translation=/srv/adapters/translation v2' " \
        in line
    assert argv[:3] == ["vllm", "serve", "/srv/base"]
    assert "--enable-lora" in argv and argv[argv.index("--generation-config") + 1] == "vllm"
    assert argv[argv.index("--max-lora-rank") + 1] == "16"  # r=12 and r=16: the largest, as vLLM accepts it
    assert argv[argv.index("--max-loras") + 1] == "2"
    assert argv[argv.index("--max-model-len") + 1] == "6144"  # the longest trained sequence
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.85"
    assert argv[argv.index("--tensor-parallel-size") + 1] == "2"
    assert argv[-4:] == ["--host", "0.0.0.0", "--port", "8100"]


def test_rank_is_rounded_up_to_one_vllm_accepts(tmp_path):
    argv = vllm_serve_command([translation_on_the_epicrisis_base(tmp_path, rank=40)], "/b")
    assert argv[argv.index("--max-lora-rank") + 1] == "64"


@pytest.mark.parametrize(("configs", "message"), [
    ([EPICRISIS, TRANSLATION], "adapters trained on different bases cannot share one vLLM server"),
    ([EPICRISIS, EPICRISIS], "two configs train the same task"),
    ([CONFIGS / "demo.yaml"], "trains the whole model"),
    ([CONFIGS / "missing.yaml"], "missing.yaml"),
])
def test_configs_that_cannot_be_served_together_are_refused(configs, message, capsys):
    argv = ["vllm-command", "--merged-base", "/b"] + [a for c in configs for a in ("--config", str(c))]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_adapter_overrides_are_checked(capsys):
    assert main(["vllm-command", "--config", str(EPICRISIS), "--merged-base", "/b", "--adapter", "translation=/x"]) == 2
    assert "no --config trains" in capsys.readouterr().err
    assert main(["vllm-command", "--config", str(EPICRISIS), "--merged-base", "/b", "--adapter", "epicrisis"]) == 2
    assert "TASK=PATH" in capsys.readouterr().err


def test_reading_the_configs_needs_no_torch():
    code = ("import sys; from training.__main__ import main; "
            f"rc = main(['vllm-command', '--config', {str(EPICRISIS)!r}, '--merged-base', '/b']); "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'peft', 'vllm'}); "
            "print(heavy, file=sys.stderr); sys.exit(rc or (1 if heavy else 0))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("vllm serve /b ")


def test_the_backend_cli_points_to_the_training_command(capsys):
    from backend.cli import main as backend_main

    assert backend_main(["vllm-command", "--config", str(EPICRISIS), "--merged-base", "/b"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().startswith("error: vllm-command moved to the training command line: "
                                  "python -m training vllm-command --config ")
    assert len(err.strip().splitlines()) == 1


def test_python_m_training_vllm_command_runs_as_a_program():
    result = subprocess.run([sys.executable, "-m", "training", "vllm-command", "--config", str(EPICRISIS),
                             "--merged-base", "/b"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert shlex.split(result.stdout)[:3] == ["vllm", "serve", "/b"]
