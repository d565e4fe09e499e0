"""Updates many contacts concurrently from one asyncio event loop.

    python examples/python/update_contact_async.py http://127.0.0.1:8977   # the emulator

Credentials and region come from the environment unless given; these are the emulator's.
"""

from __future__ import annotations

import asyncio
import sys

import connect_contact
from connect_contact import aio
from connect_contact.types import UpdateContactResponse


async def main(endpoint_url: str) -> int:
    async with aio.Client(
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIDCONNECTEMULATOR",
        aws_secret_access_key="connect-emulator-secret",
        config={"timeout_ms": 5000},
    ) as client:
        calls = [
            client.update_contact(
                InstanceId="my-instance",
                ContactId=f"contact-{n}",
                Name="Billing callback",
                References={"ticket": {"Type": "URL", "Value": f"https://tickets/{n}"}},
            )
            for n in range(10)
        ]
        responses: list[UpdateContactResponse] = await asyncio.gather(*calls)
        for response in responses:
            print(response["ResponseMetadata"]["RequestId"])
        try:
            await client.update_contact(InstanceId="my-instance", ContactId="contact-0")
        except connect_contact.ParamValidationError as e:
            print(f"refused before sending: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8977")))
