"""The client shell and transports of one flavour.

``_async`` is the hand-written source; ``_sync`` is generated from it by
``scripts/unasync.py`` (never edit it by hand: ``make lint`` fails on a stale copy). What
differs between the flavours beyond ``await`` goes through the hooks of ``.._io``.
"""
