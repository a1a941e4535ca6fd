"""What a file says about itself: BWF bext and iXML (WAV), text tags (other formats), and the UCS
category from its name or those fields."""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

from bridge.bwf import find_chunk
from models import ucs

log = logging.getLogger("foley.library")


def _riff_chunk(path: str, wanted: bytes, limit: int = 1 << 20) -> bytes | None:
    """Body of a top-level RIFF/RF64 chunk, or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None
            return find_chunk(fh, wanted, limit)
    except OSError:
        return None


def parse_ixml(text: bytes) -> dict[str, str]:
    """Upper-case tag -> text of the first occurrence of each iXML element (empty on bad XML)."""
    try:
        root = ET.fromstring(text.rstrip(b"\0 \r\n\t"))
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    for el in root.iter():
        tag = el.tag.upper()
        if tag not in out and el.text and el.text.strip():
            out[tag] = el.text.strip()
    return out


def file_metadata(path: str) -> dict[str, str]:
    """Description and category hints from BWF bext, iXML (WAV) or text tags (other formats)."""
    meta: dict[str, str] = {}
    if path.lower().endswith((".wav", ".wave", ".bwf")):
        try:
            from bridge.bwf import read_bext

            bext = read_bext(path)
        except Exception as exc:  # noqa: BLE001 - a bad chunk must not stop indexing
            log.debug("no bext in %s: %s", path, exc)
            bext = {}
        if bext.get("description"):
            meta["description"] = str(bext["description"]).strip()
        ixml_body = _riff_chunk(path, b"iXML")
        if ixml_body:
            ixml = parse_ixml(ixml_body)
            for key, tag in (("description", "DESCRIPTION"), ("description", "BWF_DESCRIPTION"),
                             ("cat_id", "CATID"), ("category", "CATEGORY"),
                             ("subcategory", "SUBCATEGORY"), ("fx_name", "FXNAME"),
                             ("keywords", "KEYWORDS")):
                if tag in ixml and key not in meta:
                    meta[key] = ixml[tag]
    else:
        import soundfile as sf

        try:
            with sf.SoundFile(path) as f:
                text = " ".join(t for t in (f.title, f.comment) if t)
            if text.strip():
                meta["description"] = text.strip()
        except Exception as exc:  # noqa: BLE001
            log.debug("no text tags in %s: %s", path, exc)
    return meta


def classify(path: str, meta: dict[str, str]) -> dict[str, str]:
    """Category fields from iXML, else the UCS name, else keywords of the name or description."""
    name = ucs.parse_name(path)
    out = {"cat_id": name.cat_id, "category": name.category, "subcategory": name.subcategory,
           "fx_name": meta.get("fx_name") or name.fx_name, "creator_id": name.creator_id,
           "source_id": name.source_id, "user_category": name.user_category}
    found = ucs.lookup_catid(meta["cat_id"]) if meta.get("cat_id") else None
    if found:
        out.update(cat_id=meta["cat_id"], category=found[0], subcategory=found[1])
    elif meta.get("category"):
        out.update(category=meta["category"].upper(), subcategory=(meta.get("subcategory") or "MISC").upper())
    elif not name.is_ucs and meta.get("description"):
        from_desc = ucs.keyword_category(meta["description"])
        if from_desc[0] and (not name.category or ucs.keyword_category(name.fx_name)[0] == ""):
            out.update(category=from_desc[0], subcategory=from_desc[1])
    return out
