"""The durable outbox through the binding: validation as update_contact, delivery, dead
letters with the service's error, stats, retry and discard."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import unittest
import warnings
from typing import Any, Dict, List

import connect_contact

from _support import ScriptedServer, client_kwargs, service_error, success


class OutboxTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = ScriptedServer(success("req-ok"))
        self.server.__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)
        self.client = connect_contact.Client(**client_kwargs(self.server.url))
        self.addCleanup(self.client.close)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.path = os.path.join(tmp.name, "outbox.db")

    def test_bad_input_raises_as_update_contact_and_stores_nothing(self) -> None:
        with self.client.outbox(self.path, Rate=100, Burst=10) as outbox:
            with self.assertRaises(connect_contact.ParamValidationError) as direct:
                self.client.update_contact(InstanceId="i", ContactId="c")
            with self.assertRaises(connect_contact.ParamValidationError) as queued:
                outbox.enqueue(InstanceId="i", ContactId="c")
            self.assertEqual(str(queued.exception), str(direct.exception))
            self.assertEqual(outbox.get_stats()["pending"], 0)
        self.assertEqual(len(self.server.received()), 0)
        with self.assertRaises(TypeError):
            self.client.outbox(self.path, Speed=1)

    def test_a_postgresql_url_opens_a_store_with_the_same_calls(self) -> None:
        # A database of the tests' own server (tests/support/postgres.rs), set by the runner.
        url = os.environ["CONNECT_POSTGRES_URL"]
        with self.client.outbox(url, Rate=100, Burst=10, Queue="python") as outbox:
            outbox.enqueue(InstanceId="i", ContactId="c", Name="one")
            outbox.enqueue(InstanceId="i", ContactId="c", Description="two")
            self.assertTrue(outbox.flush(Timeout=20))
            stats = outbox.get_stats()
            self.assertEqual((stats["pending"], stats["delivered"], stats["dead"]), (0, 2, 0))
        self.assertGreaterEqual(len(self.server.received()), 1)
        with self.assertRaises(connect_contact.Error) as refused:
            self.client.outbox(url.replace("sslmode=disable", "sslmode=sometimes"))
        self.assertNotIn("pg-secret", str(refused.exception))

    def test_delivers_then_dead_letters_a_final_error(self) -> None:
        events: List[Dict[str, Any]] = []
        lock = threading.Lock()

        def on_event(event: Dict[str, Any]) -> None:
            with lock:
                events.append(event)

        with self.client.outbox(self.path, Rate=100, Burst=10, OnEvent=on_event) as outbox:
            first = outbox.enqueue(InstanceId="i", ContactId="c", Name="one")
            self.assertTrue(outbox.flush(Timeout=20))
            self.assertEqual(outbox.get_stats()["delivered"], 1)
            self.server.responder = service_error("ResourceNotFoundException", 404, "no such contact")
            second = outbox.enqueue(InstanceId="i", ContactId="d", Name="two")
            self.assertTrue(outbox.flush(Timeout=20))
            [dead] = outbox.list_dead_letters()
            self.assertEqual(dead["Id"], second)
            self.assertEqual(dead["Error"]["Code"], "ResourceNotFoundException")
            self.assertEqual(dead["Error"]["Message"], "no such contact")
            self.assertEqual(dead["Request"]["ContactId"], "d")
            self.server.responder = success("req-ok")
            outbox.retry_dead_letter(Id=second)
            self.assertTrue(outbox.flush(Timeout=20))
            self.assertEqual(outbox.list_dead_letters(), [])
            with self.assertRaises(connect_contact.InvalidConfigError):
                outbox.discard_dead_letter(Id=first)
        kinds = [(e["Id"], e["Event"]) for e in events]
        self.assertEqual(kinds, [(first, "Delivered"), (second, "Dead"), (second, "Delivered")])

    def test_a_file_that_is_not_an_outbox_raises_outbox_storage_error_naming_it(self) -> None:
        with open(self.path, "w", encoding="utf-8") as f:
            f.write("not an SQLite file\n" * 200)
        with self.assertRaises(connect_contact.OutboxStorageError) as raised:
            self.client.outbox(self.path, Rate=100, Burst=10)
        self.assertIsInstance(raised.exception, OSError)
        self.assertEqual(raised.exception.status_name, "CONNECT_STATUS_STORAGE")
        self.assertIn(self.path, str(raised.exception))
        self.assertIn("SQLITE_NOTADB", str(raised.exception))

    def test_close_while_flush_runs_waits_for_it_and_later_calls_raise(self) -> None:
        # Every call answers 503: flush cannot finish before its Timeout, and runs in C all
        # that time. close() must wait for it rather than free the outbox under it.
        self.server.responder = service_error("ServiceUnavailableException", 503, "down")
        outbox = self.client.outbox(self.path, Rate=100, Burst=10, MaxBackoff=0.05)
        outbox.enqueue(InstanceId="i", ContactId="c", Name="pending")
        for _ in range(200):  # delivery is under way (at most 10 s)
            if self.server.received():
                break
            time.sleep(0.05)
        self.assertTrue(self.server.received(), "delivery started")
        outcome: Dict[str, Any] = {}

        def flush() -> None:
            try:
                outcome["flushed"] = outbox.flush(Timeout=2)
            except BaseException as e:  # reported by the assertion below
                outcome["error"] = e

        flusher = threading.Thread(target=flush)
        flusher.start()
        time.sleep(0.3)  # let flush enter the library (it stays there for 2 s)
        outbox.close()
        flusher.join(10)
        self.assertFalse(flusher.is_alive())
        self.assertEqual(outcome, {"flushed": False})
        self.assertTrue(outbox.closed)
        with self.assertRaises(connect_contact.ClientClosedError) as raised:
            outbox.enqueue(InstanceId="i", ContactId="c", Name="late")
        self.assertIn("this Outbox is closed", str(raised.exception))
        with self.assertRaises(connect_contact.ClientClosedError):
            outbox.get_stats()
        outbox.close()  # twice is fine

    def test_files_are_owner_only_whatever_the_umask(self) -> None:
        old = os.umask(0)
        try:
            with self.client.outbox(self.path, Rate=100, Burst=10) as outbox:
                outbox.enqueue(InstanceId="i", ContactId="c", Name="private")
                modes = {s: os.stat(self.path + s).st_mode & 0o777 for s in ("", "-wal", "-shm")}
        finally:
            os.umask(old)
        self.assertEqual(modes, {"": 0o600, "-wal": 0o600, "-shm": 0o600})

    @unittest.skipUnless(hasattr(os, "fork"), "needs os.fork (POSIX)")
    def test_close_in_a_forked_child_is_quiet_and_leaves_the_parents_outbox_working(self) -> None:
        outbox = self.client.outbox(self.path, Rate=100, Burst=10)
        self.addCleanup(outbox.close)
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: its stderr goes to the pipe; close, then leave at once
            code = 1
            try:
                os.dup2(write_end, 2)
                outbox.close()
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as child_stderr:
            printed = child_stderr.read()
        _, status = os.waitpid(pid, 0)
        self.assertEqual(printed.decode("utf-8", "replace"), "")
        self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status)
        # The parent's outbox is untouched and still delivers.
        outbox.enqueue(InstanceId="i", ContactId="c", Name="after fork")
        self.assertTrue(outbox.flush(Timeout=20))
        self.assertEqual(outbox.get_stats()["delivered"], 1)


if __name__ == "__main__":
    unittest.main()
