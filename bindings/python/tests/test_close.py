"""Ctrl-C (KeyboardInterrupt) while close() waits for a call in flight must not leak the
client: issue 22, defect 7. The server is a ScriptedServer on 127.0.0.1."""

from __future__ import annotations

import signal
import threading
import time
import unittest
from typing import Any, Dict

import connect_contact

from _support import ScriptedServer, client_kwargs, success


def established_to(port: int) -> int:
    """Open (ESTABLISHED) TCP connections of this machine whose remote port is ``port``:
    the client's side of connections to the test server."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":
                count += 1
    return count


@unittest.skipUnless(hasattr(signal, "pthread_kill"), "needs signal.pthread_kill (POSIX)")
class CtrlCDuringClose(unittest.TestCase):
    def test_ctrl_c_while_close_waits_frees_the_client_when_the_call_ends(self) -> None:
        release = threading.Event()

        def slow(request: Any) -> Any:
            release.wait(30)  # bounded; released below once close() was interrupted
            return success("late")(request)

        with ScriptedServer(slow) as server:
            port = int(server.url.rsplit(":", 1)[1])
            # The call's own deadline outlasts the server's wait: only release ends it.
            client = connect_contact.Client(**client_kwargs(server.url, timeout_ms=60000))
            outcome: Dict[str, Any] = {}

            def call() -> None:
                try:
                    outcome["response"] = client.update_contact(InstanceId="i", ContactId="c", Name="n")
                except Exception as e:  # reported by the assertion below
                    outcome["error"] = e

            caller = threading.Thread(target=call)
            caller.start()
            for _ in range(100):  # the call reaches the server (at most 5 s)
                if server.received():
                    break
                time.sleep(0.05)
            self.assertTrue(server.received(), "the slow call is in flight")

            main = threading.main_thread().ident
            assert main is not None
            # Ctrl-C, delivered to the main thread while close() waits.
            interrupt = threading.Timer(0.3, signal.pthread_kill, args=(main, signal.SIGINT))
            interrupt.start()
            started = time.monotonic()
            with self.assertRaises(KeyboardInterrupt):
                client.close()
            # An order, not a time: Ctrl-C took effect while the call was still in flight
            # (its server holds it until released), so close() did not wait for the call.
            self.assertTrue(caller.is_alive(), "Ctrl-C took effect during the wait")
            self.assertNotIn("response", outcome)
            self.assertLess(time.monotonic() - started, 20.0, "a generous ceiling")
            interrupt.join()
            self.assertTrue(client.closed, "an interrupted close still refuses new calls")
            with self.assertRaises(connect_contact.ClientClosedError):
                client.update_contact(InstanceId="i", ContactId="c", Name="n")

            release.set()
            caller.join(10)
            self.assertIn("response", outcome, outcome.get("error"))
            # The call ended: the client was freed, and with it its pooled connection.
            for _ in range(60):  # at most 3 s; the server itself keeps idle connections 5 s
                if established_to(port) == 0:
                    break
                time.sleep(0.05)
            self.assertEqual(established_to(port), 0, "the client's connection was closed: it was freed")
            client.close()  # still fine, and frees nothing twice


if __name__ == "__main__":
    unittest.main()
