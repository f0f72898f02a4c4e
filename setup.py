"""Build script: compiles the Cython strided core and ships the OpenCL kernels inside the package.

`cl_kernels/` at the top of the repository is the source of truth for the kernels; it is installed
as the resource package `pygrad.cl_kernels` so the code can find the `.cl` files after `pip install`.
"""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

extensions = [
    Extension(
        "pygrad._core",
        ["pygrad/_core.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    ),
    Extension(  # PyTorch's CPU generator (mt19937 + transforms); no -ffast-math: results must be bit-exact
        "pygrad._rng",
        ["pygrad/_rng.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O2", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"],
    ),
    Extension(  # float32 gelu/erf loops that gcc vectorises (no libm call per element)
        "pygrad._vmath",
        ["pygrad/_vmath.pyx"],
        include_dirs=[np.get_include(), "pygrad"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno"],  # lets gcc if-convert the selects and
        # vectorise sqrtf (errno is never read; same results)
    ),
    Extension(  # the compiled fast path of small elementwise ops (pygrad/ops/elementwise.py binary())
        "pygrad._hotpath",
        ["pygrad/_hotpath.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O2"],
    ),
]

setup(
    packages=find_packages(include=["pygrad", "pygrad.*"]) + ["pygrad.cl_kernels"],
    package_dir={"pygrad.cl_kernels": "cl_kernels"},
    package_data={"pygrad.cl_kernels": ["*.cl", "*.h"], "pygrad": ["*.pyx", "*.pyi", "*.h"]},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)
