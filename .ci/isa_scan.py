"""Fail when an x86-64 shared object uses instructions above the x86-64-v2 baseline.

Usage: python .ci/isa_scan.py FILE.so [...]

Disassembles each file with objdump and flags, per function, every instruction that a
Nehalem-class CPU (x86-64-v2: SSE4.2, SSSE3, POPCNT, CMPXCHG16B) does not have: VEX/EVEX
encodings (AVX, AVX2, FMA, F16C, AVX-512: every mnemonic starting with "v"), ymm/zmm and
mask registers, BMI1/BMI2, LZCNT, MOVBE, ADX, AES-NI, PCLMUL, SHA, RDRAND/RDSEED,
PREFETCHW. Functions that are runtime-dispatched clones (GCC's `target_clones` /
multiversioning names them `f.avx2`, `f.arch_x86_64_v3`, ...) are skipped: they run only
after the resolver checked the CPU.

`tzcnt` is allowed: compilers emit `rep bsf` for __builtin_ctz on a non-zero operand, which
objdump decodes as tzcnt and which runs as bsf (same result) on CPUs without BMI1.

Exit status 0 when clean, 1 with a report of what was found, 2 on bad usage.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict

ABOVE_V2 = frozenset(
    {
        # BMI1 / BMI2 / LZCNT / MOVBE / ADX
        "andn", "bextr", "blsi", "blsmsk", "blsr", "bzhi", "mulx", "pdep", "pext",
        "rorx", "sarx", "shlx", "shrx", "lzcnt", "movbe", "adcx", "adox",
        # AES-NI, PCLMUL, SHA, RDRAND/RDSEED, PREFETCHW
        "aesenc", "aesenclast", "aesdec", "aesdeclast", "aesimc", "aeskeygenassist",
        "pclmulqdq", "sha1rnds4", "sha1nexte", "sha1msg1", "sha1msg2", "sha256rnds2",
        "sha256msg1", "sha256msg2", "rdrand", "rdseed", "prefetchw",
    }
)  # fmt: skip
WIDE_REG = re.compile(r"%(?:ymm|zmm)\d+|%k[0-7]\b")
FUNC = re.compile(r"^[0-9a-f]+ <(?P<name>[^>]+)>:$")
# GCC's names for multiversioned clones: f.avx2, f.arch_x86_64_v3, f.bmi2, f.fma, ...
CLONE = re.compile(r"\.(?:arch_[a-z0-9_]+|avx\w*|bmi\w*|fma\w*|sse4\w*|popcnt|lzcnt)(?:\.\d+)?$")


def offending(mnemonic: str, operands: str) -> bool:
    """Whether one instruction needs more than x86-64-v2."""
    base = mnemonic.split(".")[0]  # objdump's {vex}/.s suffixes
    return base.startswith("v") or base in ABOVE_V2 or WIDE_REG.search(operands) is not None


def scan(path: str) -> dict[str, Counter[str]]:
    """Return {function: Counter(mnemonic)} of the above-baseline instructions in `path`."""
    dump = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-w", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, Counter[str]] = defaultdict(Counter)
    func = "?"
    skip = False
    for line in dump.splitlines():
        m = FUNC.match(line)
        if m:
            func = m["name"]
            skip = CLONE.search(func.split("@")[0]) is not None
            continue
        if skip or not line.startswith(" ") or ":\t" not in line:
            continue
        insn = line.split(":\t", 1)[1].strip()
        if not insn or insn.startswith("("):
            continue
        parts = insn.split(None, 1)
        # Drop prefixes objdump prints as words (rep, lock, notrack, bnd, data16, ...).
        while parts and parts[0] in {"rep", "repz", "repnz", "lock", "notrack", "bnd", "data16"}:
            parts = parts[1].split(None, 1) if len(parts) > 1 else []
        if not parts:
            continue
        mnemonic, operands = parts[0], parts[1] if len(parts) > 1 else ""
        if offending(mnemonic, operands):
            found[func][mnemonic] += 1
    return found


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    bad = 0
    for path in argv:
        found = scan(path)
        total = sum(sum(c.values()) for c in found.values())
        if not found:
            print(f"isa_scan: {path}: no instruction above x86-64-v2 outside dispatched clones")
            continue
        bad += 1
        print(f"isa_scan: {path}: {total} instructions above x86-64-v2 in {len(found)} functions:")
        for func, counts in sorted(found.items(), key=lambda kv: -sum(kv[1].values()))[:15]:
            top = ", ".join(f"{m} x{n}" for m, n in counts.most_common(5))
            print(f"  {func[:100]}: {top}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
