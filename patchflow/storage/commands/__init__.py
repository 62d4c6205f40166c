"""Typed kv and db commands: one class per command, parsed from messages, run in one transaction."""
