"""The asyncio client against the emulator (CONNECT_EMULATOR_URL, started by
tests/it/python_binding.rs) and the scripted server: many calls from one loop, cancellation
without leaks, the blocking client's exceptions, Ctrl-C during asyncio.run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
from typing import Any, Dict, List

import connect_contact
from connect_contact import aio

from _support import ACCESS_KEY, REGION, SECRET_KEY, ScriptedServer, service_error

EMULATOR_URL = os.environ.get("CONNECT_EMULATOR_URL", "")
# The emulator's default test credentials (emulator/README.md).
EMULATOR = {
    "region_name": "us-east-1",
    "endpoint_url": EMULATOR_URL,
    "aws_access_key_id": "AKIDCONNECTEMULATOR",
    "aws_secret_access_key": "connect-emulator-secret",
}


def os_threads() -> int:
    """Every thread of this process, the library's workers included."""
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@unittest.skipUnless(EMULATOR_URL, "CONNECT_EMULATOR_URL is not set (tests/it/python_binding.rs sets it)")
class EmulatorTest(unittest.TestCase):
    def test_a_thousand_concurrent_updates_from_one_loop(self) -> None:
        python_threads = threading.active_count()

        async def main() -> List[Any]:
            async with aio.Client(**EMULATOR, config={"async_workers": 4}) as client:
                calls = [
                    client.update_contact(InstanceId="aio-i", ContactId=f"c-{n}", Name=f"name {n}")
                    for n in range(1000)
                ]
                results = await asyncio.gather(*calls, return_exceptions=True)
                self.assertEqual(threading.active_count(), python_threads, "no Python thread per call")
                return results

        results = asyncio.run(main())
        failures = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual(failures, [])
        self.assertEqual(len(results), 1000)
        for result in results:
            self.assertEqual(result["ResponseMetadata"]["HTTPStatusCode"], 200)
            self.assertTrue(result["ResponseMetadata"]["RequestId"])
        # Stored: read back through the blocking client's sibling, the emulator's state.
        with connect_contact.Client(**EMULATOR) as blocking:  # type: ignore[arg-type]
            same = blocking.update_contact(InstanceId="aio-i", ContactId="c-1", Name="again")
        self.assertEqual(set(same["ResponseMetadata"]), set(results[0]["ResponseMetadata"]))

    def test_cancelling_a_hundred_calls_leaks_nothing(self) -> None:
        async def cycle() -> None:
            client = aio.Client(**EMULATOR, config={"async_workers": 2})
            tasks = [
                asyncio.ensure_future(client.update_contact(InstanceId="aio-i", ContactId=f"x-{n}", Name="n"))
                for n in range(100)
            ]
            await asyncio.sleep(0.005)  # some running, most queued in the library or here
            in_flight = aio.pending_calls()
            self.assertGreater(in_flight, 0)
            for task in tasks:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            self.assertTrue(any(isinstance(o, asyncio.CancelledError) for o in outcomes))
            started = time.monotonic()
            await client.close()  # waits for the detached calls to be reported
            self.assertLess(time.monotonic() - started, 10.0)
            self.assertEqual(aio.pending_calls(), 0, "every handle the library held was reported")

        asyncio.run(cycle())  # warm-up: first-use allocations are not leaks
        threads, fds = os_threads(), open_fds()
        for _ in range(3):
            asyncio.run(cycle())
        self.assertEqual(aio.pending_calls(), 0)
        # Other tests' servers may still be winding down threads and sockets: let them settle
        # (bounded), then nothing may have grown over three cycles of 100 cancelled calls.
        deadline = time.monotonic() + 3.0
        while (os_threads() > threads or open_fds() > fds) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertLessEqual(os_threads(), threads, "worker threads are joined when the client closes")
        self.assertLessEqual(open_fds(), fds, "connections are closed with the client")


class ScriptedTest(unittest.TestCase):
    def settings(self, server: ScriptedServer) -> Dict[str, Any]:
        return {
            "region_name": REGION,
            "endpoint_url": server.url,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "config": {"max_attempts": 1},
        }

    def test_same_response_and_exceptions_as_the_blocking_client(self) -> None:
        with ScriptedServer() as server:
            kw = self.settings(server)

            async def call(**request: Any) -> Any:
                async with aio.Client(**kw) as client:
                    return await client.update_contact(**request)

            with connect_contact.Client(**kw) as blocking:
                expected = blocking.update_contact(InstanceId="i", ContactId="c", Name="n")
            got = asyncio.run(call(InstanceId="i", ContactId="c", Name="n"))
            for key in ("HTTPStatusCode", "RequestId", "RetryAttempts"):
                self.assertEqual(got["ResponseMetadata"][key], expected["ResponseMetadata"][key])

            with self.assertRaises(connect_contact.ParamValidationError) as refused:
                asyncio.run(call(InstanceId="i", ContactId="c", Nmae="n"))
            self.assertIn('did you mean "Name"?', str(refused.exception))

            server.responder = service_error("ResourceNotFoundException", 404, "no such contact")
            with self.assertRaises(connect_contact.ResourceNotFoundException) as missing:
                asyncio.run(call(InstanceId="i", ContactId="c", Name="n"))
            with connect_contact.Client(**kw) as blocking:
                with self.assertRaises(connect_contact.ResourceNotFoundException) as sync_missing:
                    blocking.update_contact(InstanceId="i", ContactId="c", Name="n")
            self.assertEqual(str(missing.exception), str(sync_missing.exception))
            self.assertEqual(missing.exception.response["Error"], sync_missing.exception.response["Error"])

    def test_a_closed_client_refuses_calls(self) -> None:
        with ScriptedServer() as server:

            async def main() -> None:
                client = aio.Client(**self.settings(server))
                await client.close()
                await client.close()
                self.assertTrue(client.closed)
                with self.assertRaises(connect_contact.ClientClosedError):
                    await client.update_contact(InstanceId="i", ContactId="c", Name="n")

            asyncio.run(main())

    def test_keyboard_interrupt_during_asyncio_run_exits_promptly(self) -> None:
        # A child process: a server that answers after 2 s, 50 calls in flight, then SIGINT.
        code = "\n".join(
            [
                "import asyncio, sys, time",
                "sys.path.insert(0, %r)" % os.path.dirname(os.path.abspath(__file__)),
                "from _support import ScriptedServer, success, ACCESS_KEY, SECRET_KEY",
                "from connect_contact import aio",
                "slow = success()",
                "def responder(req):",
                "    time.sleep(2)",
                "    return slow(req)",
                "server = ScriptedServer(responder).__enter__()",
                "async def main():",
                "    async with aio.Client(region_name='us-east-1', endpoint_url=server.url,",
                "            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,",
                "            config={'timeout_ms': 4000, 'max_attempts': 1}) as client:",
                "        calls = [client.update_contact(InstanceId='i', ContactId=str(n), Name='n') for n in range(50)]",
                "        task = asyncio.gather(*calls)",
                "        await asyncio.sleep(0.3)",
                "        print('ready', flush=True)",
                "        await task",
                "asyncio.run(main())",
            ]
        )
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            self.assertEqual(child.stdout.readline().strip(), "ready")
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=20)
            took = time.monotonic() - sent
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        self.assertIn("KeyboardInterrupt", stderr)
        self.assertNotEqual(child.returncode, 0)
        # Within the running calls' deadline (4 s) plus interpreter exit.
        self.assertLess(took, 8.0, stderr)


if __name__ == "__main__":
    unittest.main()
