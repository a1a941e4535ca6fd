"""The sound-library index: the editor's own sound effects, analysed once, kept in SQLite.

One module per concern: :mod:`~models.library.paths` (where the index lives, which files are
library audio), :mod:`~models.library.analysis` (level, transient, brightness; pure numpy),
:mod:`~models.library.metadata` (bext, iXML, tags, UCS category), :mod:`~models.library.rows`
(one index row per file), :mod:`~models.library.index` (the SQLite index) and
:mod:`~models.library.watcher` (keeping it current). Audio is decoded by :mod:`models.audio`.
"""
from __future__ import annotations

from models.audio import read_audio
from models.library.analysis import analyse_audio, block_envelope, dbfs, find_transient, mono, spectral_features
from models.library.index import KINDS, SCHEMA_VERSION, LibraryIndex
from models.library.metadata import classify, file_metadata, parse_ixml
from models.library.paths import AUDIO_EXTENSIONS, default_db_path, iter_audio_files
from models.library.rows import ANALYSIS_VERSION, AddReport, LibraryFile, analyse_file
from models.library.watcher import start_watcher

__all__ = ["ANALYSIS_VERSION", "AUDIO_EXTENSIONS", "KINDS", "SCHEMA_VERSION", "AddReport", "LibraryFile",
           "LibraryIndex", "analyse_audio", "analyse_file", "block_envelope", "classify", "dbfs", "default_db_path",
           "file_metadata", "find_transient", "iter_audio_files", "mono", "parse_ixml", "read_audio",
           "spectral_features", "start_watcher"]
