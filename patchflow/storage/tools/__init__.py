"""Whole-patch tools over the layout: dumps (export/import) for `patchflow data`."""
