#!/usr/bin/env python3
"""Writes the uncompressed kernel (an ELF file) inside a bzImage.

Like the kernel's scripts/extract-vmlinux: find the compressed payload by its
magic bytes, decompress it, keep the first result that is an ELF file.
Booting the uncompressed kernel saves QEMU's software emulation the
decompression (several seconds under TCG).

usage: extract-vmlinux.py VMLINUZ VMLINUX
"""
import gzip
import lzma
import shutil
import subprocess
import sys
import zlib

ELF_MAGIC = b"\x7fELF"


def xz(data):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def gz(data):
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


def zstd(data):
    if not shutil.which("zstd"):
        raise RuntimeError("zstd is not installed")
    # zstd stops with an error at the trailing bytes after the frame, but has
    # written the frame by then.
    return subprocess.run(["zstd", "-dcq"], input=data, capture_output=True).stdout


FORMATS = [(b"\xfd7zXZ\x00", xz), (b"\x1f\x8b\x08", gz), (b"\x28\xb5\x2f\xfd", zstd)]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    data = open(sys.argv[1], "rb").read()
    for magic, decompress in FORMATS:
        offset = data.find(magic)
        while offset != -1:
            try:
                kernel = decompress(data[offset:])
            except (lzma.LZMAError, zlib.error, gzip.BadGzipFile, RuntimeError):
                kernel = b""
            if kernel.startswith(ELF_MAGIC):
                with open(sys.argv[2], "wb") as out:
                    out.write(kernel)
                return
            offset = data.find(magic, offset + 1)
    sys.exit(f"extract-vmlinux: no compressed ELF kernel found in {sys.argv[1]}")


if __name__ == "__main__":
    main()
