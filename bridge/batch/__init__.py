"""``foley batch``: a whole reel (a timeline's shots, or a folder's videos), one ``foley run`` per shot, on
this machine or a Ray cluster. See :func:`bridge.batch.run.run_batch`."""
from bridge.batch.run import BatchConfig, run_batch

__all__ = ["BatchConfig", "run_batch"]
