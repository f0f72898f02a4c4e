"""The per-model-family example scripts in ``examples/`` reach the results their docstrings state.

Each example is imported from its file (``examples/`` is not a package) and its ``main()`` is run
with its default settings, which are small enough for CPU, on every device (``device`` fixture); each
asserts the threshold stated in that script's docstring.  The examples are seeded (``pygrad.manual_seed``), so results are
deterministic.  The whole file takes about half a minute on 2 cores.
"""
import importlib.util
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load_example(name):
    """Import ``examples/<name>.py`` as a module named ``examples_<name>``."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sklearn_digits():
    pytest.importorskip("sklearn.datasets")


def test_linear_regression_recovers_the_line(device):
    error = load_example("linear_regression").main(device=device)
    assert error < 0.05, f"max |weight error| {error:.4f}"


def test_linear_regression_runs_as_a_script():
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "linear_regression.py"), "--device", "cpu"],
                         capture_output=True, text=True, check=True).stdout
    assert "within 0.05" in out and "NOT" not in out, out


def test_mlp_solves_xor_where_a_perceptron_cannot(device):
    accuracy = load_example("mlp_xor").main(device=device)  # main() itself asserts the perceptron stays <= 75%
    assert accuracy == 1.0


def test_custom_function_passes_gradcheck_and_trains(device):
    example = load_example("custom_function")
    assert example.check_functions()  # MyLeakyReLU passes gradcheck, SignSTE is flagged, matches nn.LeakyReLU
    accuracy = example.main(device=device)
    assert accuracy >= 0.95, f"ring accuracy {accuracy:.3f}"


@pytest.mark.slow
def test_lenet_on_digits(sklearn_digits, device):
    accuracy = load_example("lenet_digits").main(device=device)
    assert accuracy >= 0.95, f"test accuracy {accuracy:.3f}"


@pytest.mark.slow
def test_resnet_blocks_on_digits(sklearn_digits, device):
    accuracy = load_example("resnet_block").main(device=device)
    assert accuracy >= 0.95, f"test accuracy {accuracy:.3f}"


@pytest.mark.slow
def test_char_rnn_learns_the_text(device):
    example = load_example("char_rnn")
    loss = example.main(device=device)
    assert example.LOSS_TARGET == 0.3  # the threshold the docstring states
    assert loss < 0.3, f"loss over the text {loss:.3f} nats per character"


@pytest.mark.slow
def test_transformer_classifies_sorted_sequences(device):
    accuracy = load_example("transformer_classifier").main(device=device)
    assert accuracy >= 0.90, f"test accuracy {accuracy:.3f}"


@pytest.mark.slow
def test_autoencoder_reconstructs_digits(sklearn_digits, device):
    example = load_example("autoencoder_digits")
    mse = example.main(device=device)
    assert example.MSE_TARGET == 0.025  # the threshold the docstring states
    assert mse < 0.025, f"held-out reconstruction MSE {mse:.4f}"


@pytest.mark.slow
def test_save_load_freeze_and_fine_tune(sklearn_digits, device):
    # main() asserts that both reloaded models reproduce the outputs and the frozen weights do not change
    accuracy = load_example("save_load_freeze").main(device=device)
    assert accuracy >= 0.95, f"odd-vs-even test accuracy {accuracy:.3f}"
