"""Helpers shared by the test suite (QEMU reference runs...)."""
