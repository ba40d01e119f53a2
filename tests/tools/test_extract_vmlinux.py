#!/usr/bin/env python3
"""tools/extract-vmlinux against hand-made bzImages: a small ELF behind a
setup header, compressed as kernels do (XZ with the x86 filter, LZMA,
gzip; the uncompressed size appended). Good images give back the ELF
byte for byte; each broken one is refused with a reason and no output.
Prints PASS/FAIL per case and "N passed, N failed"."""

import gzip
import importlib.machinery
import importlib.util
import lzma
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "extract-vmlinux")
SETUP_SECTS = 7                         # setup = 8 * 512 bytes
PAYLOAD_OFFSET = 0x100                  # from the protected-mode start

loader = importlib.machinery.SourceFileLoader("extract_vmlinux", TOOL)
spec = importlib.util.spec_from_loader("extract_vmlinux", loader)
ev = importlib.util.module_from_spec(spec)
loader.exec_module(ev)

ELF = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 40


def xz(data):
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                         filters=[{"id": lzma.FILTER_X86},
                                  {"id": lzma.FILTER_LZMA2}])


def bzimage(payload, version=0x020f, size_trailer=True, sects=SETUP_SECTS):
    """A setup header, then the protected-mode part holding the payload."""
    if size_trailer:
        payload += struct.pack("<I", len(ELF))
    setup = bytearray(((sects or 4) + 1) * 512)
    setup[0x1f1] = sects
    struct.pack_into("<H", setup, 0x1fe, 0xaa55)
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<II", setup, 0x248, PAYLOAD_OFFSET, len(payload))
    pm = bytearray(PAYLOAD_OFFSET) + payload + b"\x90" * 64
    return bytes(setup) + bytes(pm)


def with_field(image, off, fmt, value):
    b = bytearray(image)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


RESULTS = {"pass": 0, "fail": 0}


def report(name, ok, detail=""):
    RESULTS["pass" if ok else "fail"] += 1
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and
                                                    not ok else ""))


def good(name, image):
    try:
        out = ev.extract(image)
    except ev.Refused as e:
        report(name, False, f"refused: {e}")
        return
    report(name, out == ELF, "output differs from the ELF")


def refused(name, image, why):
    try:
        ev.extract(image)
        report(name, False, "accepted")
    except ev.Refused as e:
        report(name, why in str(e), f"reason '{e}' lacks '{why}'")


def command_line():
    """The tool as make runs it: OUT written, or no OUT and exit 1."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "bzImage"), os.path.join(tmp, "vmlinux")
        with open(src, "wb") as f:
            f.write(bzimage(xz(ELF)))
        r = subprocess.run([TOOL, src, out], capture_output=True, text=True)
        with open(out, "rb") as f:
            report("command line writes OUT", r.returncode == 0 and
                   f.read() == ELF, r.stderr)
        os.remove(out)
        with open(src, "wb") as f:
            f.write(bzimage(xz(ELF))[:-200])
        r = subprocess.run([TOOL, src, out], capture_output=True, text=True)
        report("command line refuses, names the file, writes nothing",
               r.returncode == 1 and src in r.stderr and
               not os.path.exists(out), f"exit {r.returncode}: {r.stderr}")


def main():
    image = bzimage(xz(ELF))
    good("xz with the x86 filter", image)
    good("lzma", bzimage(lzma.compress(ELF, format=lzma.FORMAT_ALONE)))
    good("gzip", bzimage(gzip.compress(ELF)))
    good("no size trailer", bzimage(xz(ELF), size_trailer=False))
    good("setup_sects 0 means 4", bzimage(xz(ELF), sects=0))
    refused("too small", image[:0x240], "truncated")
    refused("no boot flag", with_field(image, 0x1fe, "<H", 0x55aa),
            "boot flag")
    refused("no HdrS", with_field(image, 0x202, "<I", 0), "HdrS")
    refused("protocol 2.07", bzimage(xz(ELF), version=0x0207), "2.08")
    refused("payload past the end", image[:-300], "past the end")
    refused("payload_length 0", with_field(image, 0x24c, "<I", 0),
            "past the end")
    refused("payload cut short", with_field(
        image, 0x24c, "<I", len(xz(ELF)) // 2), "ends early")
    refused("size trailer differs",
            bzimage(xz(ELF) + struct.pack("<I", 12345), size_trailer=False),
            "says")
    refused("zstd", bzimage(b"\x28\xb5\x2f\xfd" + bytes(64)), "not understood")
    refused("corrupt xz", bzimage(xz(ELF)[:40] + bytes(200)),
            "does not decompress")
    refused("not an ELF inside", bzimage(xz(b"MZ" + ELF[2:])), "not an ELF")
    command_line()
    print(f"{RESULTS['pass']} passed, {RESULTS['fail']} failed")
    return 1 if RESULTS["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
