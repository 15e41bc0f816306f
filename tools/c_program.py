"""Compiles a generated C program in a temporary directory and runs it: the shared part of the
microbenchmark tools (zmm_throughput.py, bf_chains.py, stream_add.py). Standard library only."""

import os
import subprocess
import tempfile

AVX512_IFMA = ["-O2", "-mavx512f", "-mavx512dq", "-mavx512ifma"]


def compile_and_run(source, flags):
    """Builds `source` with `cc` and `flags`, runs it (its output goes to ours); returns the
    program's exit status."""
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "prog.c"), os.path.join(d, "prog")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run(["cc", *flags, src, "-o", exe], check=True)
        return subprocess.run([exe]).returncode
