"""The key layout of a patch's storage: spaces, store keys, the msgpack codec, inventory."""
