"""A TCP proxy that adds a fixed delay to every round trip, for benches that need the database
"a few milliseconds away" on a machine whose kernel has no ``netem``.

Each chunk a client sends is held ``delay`` seconds before it goes on to the server; answers
come back at once. A request and its answer therefore take ``delay`` longer, and chunks are
never reordered (each connection keeps a queue with the time each chunk may leave).
"""

import asyncio
import threading
import time


class DelayProxy:
    """``with DelayProxy(5432, 0.002) as proxy:`` then connect to ``proxy.port``."""

    def __init__(self, target_port: int, delay: float, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay = delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "DelayProxy":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delaying proxy did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(10)

    def _stop(self) -> None:
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.call_soon(self._loop.stop)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _connection(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        queue: asyncio.Queue = asyncio.Queue()
        await asyncio.gather(
            self._read_delayed(client_reader, queue),
            self._write_delayed(queue, server_writer),
            self._pipe(server_reader, client_writer),
            return_exceptions=True,
        )
        for writer in (client_writer, server_writer):
            writer.close()

    async def _read_delayed(self, reader, queue) -> None:
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, chunk))
        except OSError:  # the client went away: pass its end on
            pass
        queue.put_nowait((0.0, b""))

    @staticmethod
    async def _write_delayed(queue, writer) -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                if not writer.is_closing():
                    writer.write_eof()
                return
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                writer.write(chunk)
                await writer.drain()
            except OSError:
                return

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            writer.write_eof()
        except OSError:
            pass
