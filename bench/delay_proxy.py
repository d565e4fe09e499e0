"""A loopback TCP relay that delays every chunk by half a round trip in each direction, so a
client's round trips can be counted from its elapsed time: `bench/run.py` counts cold, warm and
after-idle-close calls with it, directly and through a configured HTTP proxy.

Two listeners, both forwarding to one upstream (the benchmark's TLS server):
- `port`: a plain relay (the client's endpoint);
- `proxy_port`: an HTTP proxy answering `CONNECT any-host:any-port` (after the same delay each
  way, so the CONNECT costs its round trip) and then relaying to the upstream.
A relayed connection idle for `idle_close` seconds is closed (FIN to the client), as a server
closes an idle keep-alive connection. The kernel completes the TCP handshake with the relay
at once, so it is not counted: a round trip here is one application-data flight and its answer.
"""
import asyncio
import threading


class DelayProxy:
    def __init__(self, upstream_port, one_way, idle_close):
        self.upstream_port = upstream_port
        self.one_way = one_way
        self.idle_close = idle_close
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait(10)

    def _run(self, started):
        asyncio.set_event_loop(self.loop)
        plain = self.loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        proxy = self.loop.run_until_complete(asyncio.start_server(self._connect, "127.0.0.1", 0))
        self.port = plain.sockets[0].getsockname()[1]
        self.proxy_port = proxy.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _later(self, writer, data):
        # Equal delays keep the order: call_later runs callbacks due together in FIFO order.
        self.loop.call_later(self.one_way, lambda: writer.is_closing() or writer.write(data))

    async def _pump(self, reader, writer, state):
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionError:
                data = b""
            if not data:
                self.loop.call_later(self.one_way, writer.close)
                return
            state["last"] = self.loop.time()
            self._later(writer, data)

    async def _idle_watch(self, state, writers):
        while not any(w.is_closing() for w in writers):
            await asyncio.sleep(self.idle_close / 4)
            if self.loop.time() - state["last"] > self.idle_close:
                for w in writers:
                    w.close()
                return

    async def _join(self, c_reader, c_writer):
        self.connections += 1
        u_reader, u_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        state = {"last": self.loop.time()}
        await asyncio.gather(
            self._pump(c_reader, u_writer, state),
            self._pump(u_reader, c_writer, state),
            self._idle_watch(state, [c_writer, u_writer]),
            return_exceptions=True,
        )

    async def _relay(self, reader, writer):
        await self._join(reader, writer)

    async def _connect(self, reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(self.one_way)
        if not head.startswith(b"CONNECT "):
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            writer.close()
            return
        self._later(writer, b"HTTP/1.1 200 Connection established\r\n\r\n")
        await self._join(reader, writer)
