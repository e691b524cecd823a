"""What the CPU's matrix units can do, read once at start-up from the kernel's CPU flags.

The encoder registry uses this to pick a runtime (`auto`) and to say which kernels run: int8 dot
products (AVX-512 VNNI, AVX-VNNI, AMX-INT8) and bf16 (AVX512-BF16, AMX-BF16). Linux only; on other
systems, or when /proc/cpuinfo is unreadable, no feature is assumed and the portable path runs.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU flags that decide the encoder's kernels."""

    model: str
    flags: frozenset[str]

    @property
    def int8_dot(self) -> bool:
        """int8 dot-product instructions (what onnxruntime's u8s8 GEMM uses)."""
        return bool(self.flags & {"avx512_vnni", "avx_vnni", "amx_int8"})

    @property
    def bf16(self) -> bool:
        """bf16 dot products in hardware (what OpenVINO's bf16 inference precision needs)."""
        return bool(self.flags & {"avx512_bf16", "amx_bf16"})

    @property
    def amx(self) -> bool:
        return bool(self.flags & {"amx_int8", "amx_bf16"})

    def kernels(self) -> str:
        """One line for logs and benchmark tables: the matrix units present."""
        units = [
            name
            for name, present in (
                ("AMX", self.amx),
                ("AVX512-VNNI", "avx512_vnni" in self.flags),
                ("AVX-VNNI", "avx_vnni" in self.flags),
                ("AVX512-BF16", "avx512_bf16" in self.flags),
                ("AVX-512", "avx512f" in self.flags),
                ("AVX2", "avx2" in self.flags),
            )
            if present
        ]
        return ", ".join(units) or "no SIMD matrix extensions detected"


def parse_cpuinfo(lines: Iterable[str]) -> CpuFeatures:
    """Model name and flags of the first processor in /proc/cpuinfo text."""
    model, flags = "unknown", frozenset()
    for line in lines:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
        if model != "unknown" and flags:
            break
    return CpuFeatures(model, flags)


@lru_cache(maxsize=1)
def detect() -> CpuFeatures:
    """This machine's features (cached); no features when /proc/cpuinfo cannot be read."""
    try:
        with CPUINFO.open() as handle:
            return parse_cpuinfo(handle)
    except OSError:
        return CpuFeatures("unknown", frozenset())
