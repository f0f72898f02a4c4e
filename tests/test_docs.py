"""Every ```python block in docs/ and the README runs, and every ``# ...`` comment right after code is its output.

Convention in the docs: code lines, then ``#`` lines with what they print.  A ``# SomeError: msg``
line means the code above raises that exception with a message starting with ``msg`` (a message
may continue on further ``#`` lines).
"""
import contextlib
import io
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def chunks(block):
    """Split a code block into (code, expected output lines) pairs."""
    out, code, expected = [], [], []
    for line in block.splitlines():
        if line.startswith("#"):
            expected.append(line[1:].strip())
        else:
            if expected:
                out.append(("\n".join(code), expected))
                code, expected = [], []
            code.append(line)
    out.append(("\n".join(code), expected))
    return out


def doc_pages():
    pages = sorted(DOCS.rglob("*.md")) + [DOCS.parent / "README.md"]
    return [pytest.param(p, id=str(p.relative_to(DOCS.parent))) for p in pages
            if BLOCK.search(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", doc_pages())
def test_doc_page(page):
    """The blocks of one page run in order in one namespace, as a reader would type them."""
    text = page.read_text(encoding="utf-8")
    if '"opencl"' in text:
        import pygrad

        if not pygrad.opencl.is_available():
            pytest.skip("the page runs code on an OpenCL device and none is available")
    if '"-m", "pygrad", "run"' in text:
        import pygrad.distributed

        if not pygrad.distributed.is_available():
            pytest.skip('the page starts an MPI job and mpi4py is not installed (pip install "pygrad[distributed]")')
    ns = {}
    for block in BLOCK.findall(text):
        run_block(block, ns)


def run_block(block, ns):
    for code, expected in chunks(block):
        err = re.match(r"(\w+Error): (.*)", expected[0]) if expected else None
        buf = io.StringIO()
        if err:
            with pytest.raises(Exception) as info:
                with contextlib.redirect_stdout(buf):
                    exec(code, ns)
            assert type(info.value).__name__ == err.group(1)
            message = " ".join([err.group(2)] + expected[1:])
            assert " ".join(str(info.value).split()).startswith(message), str(info.value)
            continue
        with contextlib.redirect_stdout(buf):
            exec(code, ns)
        if expected:
            assert [line.strip() for line in buf.getvalue().strip().splitlines()] == expected
