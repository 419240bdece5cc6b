"""Fuzz the ELF loader: firmware images with random byte corruption, concentrated on the headers
(ELF header, program headers), sometimes cut short.  Loading either succeeds and the image runs
without crashing the emulator, or it raises one ElfError whose message is one line (what the
CLI prints); never another exception, never a hang."""

from __future__ import annotations

import random

from fuzzing import FUZZ, Campaign, no_hang
from hypothesis import given, settings
from hypothesis import strategies as st

from emu import ElfError, Machine


def test_fuzz_elf_mutated_images_load_or_fail_with_one_line(firmware, tmp_path, campaign: Campaign) -> None:
    images = {arch: firmware("hello", arch).read_bytes() for arch in ("rv32", "rv64")}
    path = tmp_path / "fuzz.elf"

    @settings(FUZZ, max_examples=FUZZ.max_examples * 4)
    @given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 40), cut=st.booleans())
    def fuzzer(seed: int, flips: int, cut: bool) -> None:
        campaign.tried()
        rng = random.Random(seed)
        data = bytearray(images[rng.choice(["rv32", "rv64"])])
        for _ in range(flips):
            pos = rng.randrange(0, 256) if rng.random() < 0.7 else rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        if cut:
            data = data[: rng.randrange(len(data))]
        path.write_bytes(bytes(data))
        with no_hang(10):
            try:
                machine = Machine.from_elf(path)
            except ElfError as e:
                assert str(e) and "\n" not in str(e)
                return
            try:
                machine.run(max_insns=2000)  # whatever it loaded must not crash the emulator either
            finally:
                machine.close()

    campaign.run(fuzzer)
