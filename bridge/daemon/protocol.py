"""Our OSC messages, encoded and decoded in one place (python-osc does the OSC byte layout).

Every address, argument and reply is documented in docs/osc.md. UDP carries one packet per
datagram; TCP carries OSC 1.1 SLIP-framed packets (python-osc's ``SimpleTCPClient(mode="1.1")``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from bridge.errors import InputError

PING = "/foley/ping"
PONG = "/foley/pong"
SUBMIT = "/foley/submit"
ACCEPTED = "/foley/accepted"
ERROR = "/foley/error"
PROGRESS = "/foley/progress"
DONE = "/foley/done"
FAILED = "/foley/failed"
CANCEL = "/foley/cancel"
CANCELLING = "/foley/cancelling"
STATUS = "/foley/status"
MODELS = "/foley/models"

#: Error codes sent in ``/foley/error code message`` besides the FoleyError codes
#: (bad_input, bad_output, backend, forbidden, cancelled).
MALFORMED = "malformed"
UNKNOWN_ADDRESS = "unknown_address"
BAD_ARGS = "bad_args"
UNKNOWN_JOB = "unknown_job"
FINISHED = "finished"
SHUTTING_DOWN = "shutting_down"
INTERRUPTED = "interrupted"
INTERNAL = "internal"

#: Largest UDP datagram we accept (python-osc's UDP servers stop at 8 KiB by default).
MAX_DATAGRAM = 65507
#: Largest SLIP frame a TCP peer may send before it is disconnected.
MAX_FRAME = 16 * 1024 * 1024

SLIP_END = 0xC0
_SLIP_ESC = 0xDB
_SLIP_ESC_END = 0xDC
_SLIP_ESC_ESC = 0xDD


class ProtocolError(InputError):
    """A packet that is not a well-formed OSC message or bundle."""

    code = MALFORMED


class BadArguments(InputError):
    """A known address with the wrong number or types of arguments."""

    code = BAD_ARGS


class UnknownAddress(InputError):
    """An address this daemon does not serve."""

    code = UNKNOWN_ADDRESS


@dataclass(frozen=True)
class Message:
    address: str
    args: tuple[Any, ...]


def encode(address: str, *args: Any) -> bytes:
    """One OSC message as bytes. Arguments are str, int, float or bool."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def decode(data: bytes) -> list[Message]:
    """The messages of one OSC packet (a message or a bundle). Raises ProtocolError."""
    from pythonosc.osc_bundle import OscBundle
    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_packet import OscPacket, ParseError

    if not (OscBundle.dgram_is_bundle(data) or OscMessage.dgram_is_message(data)):
        head = data[:16]
        raise ProtocolError(f"packet of {len(data)} bytes starting {head!r} is not an OSC message or bundle")
    check_structure(data)
    try:
        packet = OscPacket(data)
    except (ParseError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"packet of {len(data)} bytes is not valid OSC: {exc}") from None
    return [Message(m.message.address, tuple(m.message.params)) for m in packet.messages]


#: OSC type tags python-osc decodes; any other tag makes the message malformed.
TYPE_TAGS = frozenset("ifdsbhtTFNIcrm[]")
_BUNDLE = b"#bundle\x00"
MAX_BUNDLE_DEPTH = 8


def _padded_string_end(data: bytes, start: int) -> int:
    """Index after the NUL-terminated, 4-byte-padded OSC string at ``start``; ProtocolError if none."""
    end = data.find(b"\x00", start)
    if end < 0:
        raise ProtocolError(f"OSC string at byte {start} is not terminated")
    return (end // 4 + 1) * 4


def check_structure(data: bytes, depth: int = 0) -> None:
    """Reject what python-osc would silently skip: a bundle whose elements do not fill it exactly
    (truncated), an empty bundle, and type tags it does not know. Raises ProtocolError."""
    if depth > MAX_BUNDLE_DEPTH:
        raise ProtocolError(f"bundles nested over {MAX_BUNDLE_DEPTH} deep")
    if data.startswith(_BUNDLE):
        pos, count = 16, 0
        if len(data) < pos:
            raise ProtocolError(f"bundle of {len(data)} bytes is shorter than its 16-byte header")
        while pos < len(data):
            if pos + 4 > len(data):
                raise ProtocolError(f"bundle truncated at byte {pos} of {len(data)} (element size cut off)")
            size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
            if size <= 0 or pos + 4 + size > len(data):
                raise ProtocolError(f"bundle truncated: an element of {size} bytes at byte {pos + 4} does not "
                                    f"fit in the {len(data)}-byte packet")
            check_structure(data[pos + 4:pos + 4 + size], depth + 1)
            pos, count = pos + 4 + size, count + 1
        if count == 0:
            raise ProtocolError("bundle holds no messages")
        return
    tags_at = _padded_string_end(data, 0)
    if tags_at >= len(data) or data[tags_at:tags_at + 1] != b",":
        return  # no type tag string: python-osc reads no arguments
    tags_end = data.find(b"\x00", tags_at)
    tags = data[tags_at + 1:tags_end if tags_end >= 0 else len(data)].decode("ascii", "replace")
    unknown = sorted(set(tags) - TYPE_TAGS)
    if unknown:
        raise ProtocolError(f"OSC type tag {unknown[0]!r} is not supported (message type tags {tags!r})")


def slip_encode(packet: bytes) -> bytes:
    out = bytearray([SLIP_END])
    for b in packet:
        if b == SLIP_END:
            out += bytes([_SLIP_ESC, _SLIP_ESC_END])
        elif b == _SLIP_ESC:
            out += bytes([_SLIP_ESC, _SLIP_ESC_ESC])
        else:
            out.append(b)
    out.append(SLIP_END)
    return bytes(out)


def slip_decode(frame: bytes) -> bytes:
    """Undo SLIP escaping of one frame (without END bytes). Raises ProtocolError on a bad escape."""
    out = bytearray()
    it = iter(frame)
    for b in it:
        if b == _SLIP_ESC:
            nxt = next(it, None)
            if nxt == _SLIP_ESC_END:
                out.append(SLIP_END)
            elif nxt == _SLIP_ESC_ESC:
                out.append(_SLIP_ESC)
            else:
                raise ProtocolError(f"bad SLIP escape sequence in a {len(frame)}-byte frame")
        else:
            out.append(b)
    return bytes(out)


def split_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return the complete SLIP frames at the head of ``buffer`` (still escaped)."""
    frames: list[bytes] = []
    while True:
        end = buffer.find(SLIP_END)
        if end < 0:
            return frames
        if end > 0:
            frames.append(bytes(buffer[:end]))
        del buffer[:end + 1]


def expect(message: Message, types: Iterable[type], optional: int = 0) -> tuple[Any, ...]:
    """Check a message's argument count and types; the last ``optional`` ones may be missing."""
    types = tuple(types)
    n = len(message.args)
    if not len(types) - optional <= n <= len(types):
        want = " ".join(t.__name__ for t in types) or "no arguments"
        raise BadArguments(f"{message.address} takes {want} ({optional} optional), got {n} argument(s)")
    for i, (arg, typ) in enumerate(zip(message.args, types)):
        ok = isinstance(arg, typ) and not (typ in (int, float) and isinstance(arg, bool))
        if typ is float and isinstance(arg, int) and not isinstance(arg, bool):
            ok = True
        if not ok:
            raise BadArguments(f"{message.address} argument {i + 1} must be {typ.__name__}, got "
                             f"{type(arg).__name__} {arg!r:.60}")
    return message.args
