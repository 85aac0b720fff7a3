"""The sans-IO core: everything that decides, nothing that talks to Redis.

:mod:`.validation` checks input, :mod:`.commands` builds every command (tuples and RESP)
and the key layout, :mod:`.protocol` and :mod:`.subjects` are the generators the shells
drive, :mod:`.classify` says what a reply means, :mod:`.routing` routes Redis Cluster
commands, :mod:`.replication` decides what a Sentinel ``WAIT`` confirms and
:mod:`.stream` batches ``blacklist_stream``. Tested without a server (``tests/unit``).
"""
