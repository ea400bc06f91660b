"""An MLLP listener. It accepts connections on an asyncio event loop and gives each its own thread,
which reads framed messages (VT … FS CR) from the socket, hands each to ``hl7_ingest.receive`` and
writes the ACK back before reading the next one (the ORM never runs on the event loop). Any number
of connections at once; a bad frame or a failing message never stops the listener.

Performance: a connection's thread does its socket reads and writes itself, with blocking calls.
The former way (the loop read each frame and passed it to a worker thread, which passed the ACK
back) cost the loop's thread 0.4 ms of CPU a message, a tenth of the message, in hand-offs between
threads. The thread keeps its database connection open for the life of the MLLP connection
(checked after an error, closed when the peer hangs up) instead of opening one per message, and
the listener shares one department/doctor directory (refreshed every minute, or on a miss) across
connections. Follow-up and survey planning for the visits a connection brings in is done in
batches on that connection's thread (``patients.hooks.DeferredPlanning``): when 500 visits are
waiting, when the oldest has waited a second, when the sender pauses for IDLE_FLUSH seconds, and
when it hangs up. pypinyin's dictionaries are loaded before the listener listens, not by the first
new patient's message. All of this matters for the ≥ 300 messages/s target on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading

from django.db import connection

from caredesk.patients import pinyin
from caredesk.patients.directory import Directory
from caredesk.patients.hooks import DeferredPlanning

from . import hl7_ingest
from .hl7_adt import HL7Error, Message, build_ack, normalise

log = logging.getLogger(__name__)
START, END = b"\x0b", b"\x1c\x0d"
MAX_MESSAGE = 4 * 1024 * 1024
IDLE_FLUSH = 0.2  # seconds without a message before the waiting planning is done


def frame(text: str) -> bytes:
    return START + text.encode("utf-8") + END


def _ready_connection() -> None:
    """Keep the thread's connection across messages; drop it only when it broke or is too old."""
    if connection.connection is None:
        return
    if connection.errors_occurred and not connection.is_usable():
        connection.close()
        return
    connection.errors_occurred = False
    max_age = connection.settings_dict.get("CONN_MAX_AGE")
    if max_age and connection.close_at is not None:
        connection.close_if_unusable_or_obsolete()


def _receive(payload: bytes, peer: str, directory: Directory | None = None,
             planning: DeferredPlanning | None = None) -> str:
    _ready_connection()
    ack = hl7_ingest.receive(payload, peer=peer, directory=directory)
    if planning is not None and planning.due():
        planning.flush()
    return ack


def _flush(planning: DeferredPlanning) -> None:
    _ready_connection()
    planning.flush()


def _parsed(payload: bytes) -> Message | None:
    try:
        return Message.parse(normalise(payload))
    except HL7Error:
        return None


def _close_connection(planning: DeferredPlanning) -> None:
    try:
        planning.flush()
    finally:
        DeferredPlanning.uninstall()
        connection.close()


def _answer(payload: bytes, peer: str, directory: Directory, planning: DeferredPlanning) -> bytes:
    try:
        ack = _receive(payload, peer, directory, planning)
    except Exception as exc:  # the database is unreachable or locked: no ACK AA
        log.error("hl7 message could not be stored error=%s", type(exc).__name__)
        ack = build_ack(_parsed(payload), "AE", "暂时无法保存消息，请重发（message could not be stored, resend）")
    return frame(ack)


def _serve_connection(sock: socket.socket, peer: str, directory: Directory) -> None:
    """One MLLP connection, on its own thread, until the peer hangs up (or the listener stops, which
    shuts the socket's reading side): messages in order, each answered before the next is read."""
    planning = DeferredPlanning()
    planning.install()
    buffer = b""
    try:
        while True:
            # with visits waiting to be planned, a pause of the sender plans them
            sock.settimeout(IDLE_FLUSH if len(planning) else None)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                _flush(planning)
                continue
            if not chunk:
                break
            buffer += chunk
            if len(buffer) > MAX_MESSAGE and END not in buffer:
                log.warning("hl7 frame too large from peer, dropping buffer")
                buffer = b""
                continue
            while END in buffer:
                block, buffer = buffer.split(END, 1)
                start = block.find(START)
                sock.sendall(_answer(block[start + 1:] if start >= 0 else block, peer, directory, planning))
    except OSError:  # reset by the peer, or a broken pipe while answering
        pass
    finally:
        try:  # plan what is waiting and close the database connection, then the socket
            _close_connection(planning)
        finally:
            sock.close()  # last: a peer that waits for the close knows the work is done


async def serve(host: str, port: int, ready: asyncio.Event | None = None) -> None:
    # before listening: the first message's new patient would otherwise wait for the dictionaries
    pinyin.preload()
    directory = Directory()
    loop = asyncio.get_running_loop()
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]  # IPv4 or IPv6
    listener = socket.create_server((host, port), family=family)
    listener.setblocking(False)
    open_connections: dict[threading.Thread, socket.socket] = {}
    log.info("hl7 listener on %s:%s", host, port)
    if ready is not None:
        ready.set()
    try:
        while True:
            sock, address = await loop.sock_accept(listener)
            sock.setblocking(True)
            peer = f"{address[0]}:{address[1]}"
            thread = threading.Thread(target=_serve_connection, args=(sock, peer, directory), name=f"mllp {peer}",
                                      daemon=True)
            for done in [t for t in open_connections if not t.is_alive()]:
                del open_connections[done]
            open_connections[thread] = sock
            thread.start()
    finally:  # stopping: every connection plans what it has taken in and closes its database connection
        listener.close()
        for sock in open_connections.values():
            with contextlib.suppress(OSError):  # wakes a thread waiting for the next message
                sock.shutdown(socket.SHUT_RD)
        try:
            closing = asyncio.ensure_future(asyncio.to_thread(_join_all, list(open_connections)))
            while not closing.done():  # even when the listener is being cancelled again
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(closing)
        except RuntimeError:  # the interpreter is shutting down: the threads are daemons
            pass


def _join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join()
