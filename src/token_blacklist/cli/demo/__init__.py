"""``token-blacklist demo``: the whole thing on an embedded redis-server.

The command itself is :mod:`.command`; its parts are the demo's Redis (:mod:`.redis_server`),
the faults it injects (:mod:`.faults`), the traffic (:mod:`.traffic`), the live view
(:mod:`.view`) and the optional Prometheus (:mod:`.prometheus`).
"""

from .command import register, run

__all__ = ["register", "run"]
