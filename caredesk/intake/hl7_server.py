"""An asyncio MLLP listener. Each connection reads framed messages (VT … FS CR) and hands each to
``hl7_ingest.receive`` on that connection's own worker thread (the ORM never runs on the event
loop) and writes the ACK back before reading the next one. Any number of connections at once; a bad
frame or a failing message never stops the listener.

Performance: the worker thread keeps its database connection open for the life of the MLLP
connection (checked after an error, closed when the peer hangs up) instead of opening one per
message, and the listener shares one department/doctor directory (refreshed every minute, or on a
miss) across connections. Follow-up and survey planning for the visits a connection brings in is
done in batches on that connection's thread (``patients.hooks.DeferredPlanning``): when 500 visits
are waiting, when the oldest has waited a second, when the sender pauses for IDLE_FLUSH seconds,
and when it hangs up. pypinyin's dictionaries are loaded before the listener listens, not by the
first new patient's message. All of this matters for the ≥ 300 messages/s target on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

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


def _handler(directory: Directory, running: set[asyncio.Task[None]]):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
            task.add_done_callback(running.discard)
        host, port = (writer.get_extra_info("peername") or ("?", "?"))[:2]
        peer = f"{host}:{port}"
        loop = asyncio.get_running_loop()
        # One thread per MLLP connection: messages of a connection are applied in order, and the
        # thread's database connection is reused for every message.
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp")
        planning = DeferredPlanning()
        worker.submit(planning.install)
        buffer = b""
        try:
            while True:
                if len(planning):
                    try:
                        chunk = await asyncio.wait_for(reader.read(65536), IDLE_FLUSH)
                    except TimeoutError:  # the sender paused: plan what came in
                        await loop.run_in_executor(worker, _flush, planning)
                        continue
                else:
                    chunk = await reader.read(65536)
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
                    payload = block[start + 1:] if start >= 0 else block
                    try:
                        ack = await loop.run_in_executor(worker, _receive, payload, peer, directory, planning)
                    except Exception as exc:  # the database is unreachable or locked: no ACK AA
                        log.error("hl7 message could not be stored error=%s", type(exc).__name__)
                        ack = build_ack(_parsed(payload), "AE", "暂时无法保存消息，请重发（message could not be stored, resend）")
                    writer.write(frame(ack))
                    await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            try:  # plan what is waiting, then close, on the thread that owns the connection
                closing = loop.run_in_executor(worker, _close_connection, planning)
                while not closing.done():  # even when the listener is being stopped
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.shield(closing)
            except RuntimeError:  # the interpreter is shutting down
                pass
            finally:
                worker.shutdown(wait=False)
                writer.close()  # last: a peer that waits for the close knows the work is done

    return handle


async def serve(host: str, port: int, ready: asyncio.Event | None = None) -> None:
    running: set[asyncio.Task[None]] = set()
    # before listening: the first message's new patient would otherwise wait for the dictionaries
    pinyin.preload()
    server = await asyncio.start_server(_handler(Directory(), running), host, port)
    log.info("hl7 listener on %s:%s", host, port)
    if ready is not None:
        ready.set()
    try:
        async with server:
            await server.serve_forever()
    finally:  # stopping: let every connection plan what it has taken in and close its database connection
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
