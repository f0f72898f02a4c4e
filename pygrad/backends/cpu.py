"""``pygrad.backends.cpu``: what the CPU backend vectorises with."""


def get_cpu_capability():
    """The widest SIMD level pygrad's compiled loops (``_vmath``) choose on this CPU: "AVX512", "AVX2" or
    "DEFAULT" (the loops are compiled for each and picked at load time)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return "DEFAULT"
    if " avx512f" in flags:
        return "AVX512"
    if " avx2" in flags and " fma" in flags:
        return "AVX2"
    return "DEFAULT"
