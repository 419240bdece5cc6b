"""Firmware integration tests written with the npuemu pytest plugin (a package: unique module names)."""
