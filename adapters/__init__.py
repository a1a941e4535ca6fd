"""Translation between hosts/files and the bridge: Resolve, REAPER, timeline files."""
