"""The foley daemon: an OSC server that keeps the models loaded and runs jobs from a journaled queue.

Modules: ``protocol`` (OSC encode/decode of our messages), ``paths`` (state/output folders, allowed
roots), ``journal`` (append-only job log), ``jobs`` (queue + engine worker), ``server`` (UDP/TCP
OSC server), ``watch`` (watch-folder drop-in), ``client`` (what ``foley submit/status/cancel`` use).
"""
