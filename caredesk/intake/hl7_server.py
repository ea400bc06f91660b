"""An asyncio MLLP listener. Each connection reads framed messages (VT … FS CR), hands each to
``hl7_ingest.receive`` in a worker thread (the ORM never runs on the event loop) and writes the
ACK back before reading the next one. Any number of connections at once; a bad frame or a failing
message never stops the listener."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from . import hl7_ingest

log = logging.getLogger(__name__)
START, END = b"\x0b", b"\x1c\x0d"
MAX_MESSAGE = 4 * 1024 * 1024


def frame(text: str) -> bytes:
    return START + text.encode("utf-8") + END


def _receive(payload: bytes, peer: str) -> str:
    close_old_connections()
    return hl7_ingest.receive(payload, peer=peer)


receive_async = sync_to_async(_receive, thread_sensitive=False)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    host, port = (writer.get_extra_info("peername") or ("?", "?"))[:2]
    peer = f"{host}:{port}"
    buffer = b""
    try:
        while True:
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
                ack = await receive_async(payload, peer)
                writer.write(frame(ack))
                await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


async def serve(host: str, port: int, ready: asyncio.Event | None = None) -> None:
    server = await asyncio.start_server(handle, host, port)
    log.info("hl7 listener on %s:%s", host, port)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()
