"""Per-flavour hooks: what ``scripts/unasync.py`` cannot rewrite mechanically.

The hand-written ``_async`` modules call ``hooks.sleep(...)``, ``hooks.clock()``... on
``from .._io import async_hooks as hooks``; the generated ``_sync`` modules get
``sync_hooks`` instead (httpcore's ``_backends`` play this part for its network calls).
Both modules define the same names with the same meaning.
"""
