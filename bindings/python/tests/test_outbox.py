"""The durable outbox through the binding: validation as update_contact, delivery, dead
letters with the service's error, stats, retry and discard."""

from __future__ import annotations

import os
import tempfile
import threading
import unittest
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


if __name__ == "__main__":
    unittest.main()
