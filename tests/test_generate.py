"""`rlar-jax generate` end to end with the real SmolLM2-135M-Instruct GGUF."""

import time

import pytest

from rlar_jax.cli import main


def test_greedy_capital_of_france_is_paris(capsys: pytest.CaptureFixture) -> None:
    t0 = time.perf_counter()
    rc = main(["generate", "--model", "smollm2-135m-instruct", "--prompt", "What is the capital of France?",
               "--max-new-tokens", "24", "--temperature", "0"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Paris" in out, out
    assert "<|im_end|>" not in out  # the stop token is not printed
    print(f"generate took {time.perf_counter() - t0:.1f}s")


@pytest.mark.parametrize("argv,message", [
    (["--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
    (["--temperature", "-0.5"], "--temperature must be >= 0"),
])
def test_bad_arguments_name_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        main(["generate", "--model", "smollm2-135m-instruct", "--prompt", "hi", *argv])
