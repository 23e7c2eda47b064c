#!/usr/bin/env python3
"""A minimal HTTP/1.1 keep-alive receiver for the webhook benchmark.

POST any path: answers 200 (or 503 in "down" mode) and counts the bodies it accepted.
GET /count: the number accepted so far. POST /mode/up or /mode/down switches the mode.
POST /hook: a no-op blocking hook, always {"is_allowed": true} (not counted).
Usage: webhook_receiver.py PORT
"""
import asyncio
import sys

state = {"count": 0, "up": False, "first": None, "last": None}


async def handle(reader, writer):
    loop = asyncio.get_running_loop()
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            if method == "GET" and path == "/count":
                body = f'{{"count": {state["count"]}, "first": {state["first"] or 0}, "last": {state["last"] or 0}}}'.encode()
                status = b"200 OK"
            elif path == "/hook":
                body, status = b'{"is_allowed": true}', b"200 OK"
            elif path == "/mode/up":
                state["up"], body, status = True, b"", b"200 OK"
            elif path == "/mode/down":
                state["up"], body, status = False, b"", b"200 OK"
            elif state["up"]:
                now = loop.time()
                state["count"] += 1
                state["first"] = state["first"] or now
                state["last"] = now
                body, status = b"", b"200 OK"
            else:
                body, status = b"", b"503 Service Unavailable"
            writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
