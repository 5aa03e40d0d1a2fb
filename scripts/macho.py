#!/usr/bin/env python3
"""Reads a 64-bit Mach-O executable's load commands (no macOS tools needed): the libraries it
loads, and whether it carries a code signature. With --check: exit 0 only when it loads system
libraries only and, for arm64, is signed (Apple Silicon runs no unsigned code; the linker signs
ad hoc; Intel Macs run unsigned binaries).
Used by scripts/check-dist.sh for the darwin_* binaries."""
import struct
import sys

LC_LOAD_DYLIB, LC_CODE_SIGNATURE = 0xC, 0x1D
CPU_TYPE_ARM64 = 0x0100000C
SYSTEM = ("/usr/lib/", "/System/Library/")


def read(path):
    data = open(path, "rb").read()
    magic, cpu, _sub, _filetype, ncmds, _size, _flags, _reserved = struct.unpack_from("<IIiIIIII", data, 0)
    if magic != 0xFEEDFACF:
        raise SystemExit(f"{path}: not a 64-bit little-endian Mach-O file")
    offset, dylibs, signed = 32, [], False
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, offset)
        if cmd == LC_LOAD_DYLIB:
            (name_at,) = struct.unpack_from("<I", data, offset + 8)
            dylibs.append(data[offset + name_at : offset + size].split(b"\0")[0].decode())
        signed |= cmd == LC_CODE_SIGNATURE
        offset += size
    return dylibs, signed, cpu == CPU_TYPE_ARM64


def main():
    check = "--check" in sys.argv
    path = [a for a in sys.argv[1:] if a != "--check"][0]
    dylibs, signed, arm64 = read(path)
    if check:
        sys.exit(0 if (signed or not arm64) and all(d.startswith(SYSTEM) for d in dylibs) else 1)
    print(("arm64, " if arm64 else "") + ("signed" if signed else "unsigned"))
    for d in dylibs:
        print(d)


if __name__ == "__main__":
    main()
