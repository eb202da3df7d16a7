"""``RedisWebhookRelay``: webhook deliveries reach hubs in other processes.

A :class:`~langchain_vlmrun.webhooks.receiver.WebhookReceiver` runs in one process (your web
server); workers waiting for executions often run elsewhere. The receiver publishes
each accepted delivery on a Redis channel; every worker process subscribes its own
:class:`~langchain_vlmrun.webhooks.hub.WebhookHub` to it. Pub/sub does not keep
messages: a worker that was not subscribed when a delivery came by still finishes
through its safety polls.

Anyone who can publish on the channel can complete a waiter: with ``signing_key``
(the same on the publishing and the subscribing side), messages are sealed with an
HMAC over the channel and the execution, and subscribers drop any other message.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from langchain_vlmrun.core._signing import seal, unseal
from langchain_vlmrun.core._signing import signing_key as signing_key_of
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.scaleout._redis import connect

if TYPE_CHECKING:
    from redis import Redis

    from langchain_vlmrun.webhooks.hub import WebhookHub

__all__ = ["RedisWebhookRelay", "Subscription"]

logger = logging.getLogger("langchain_vlmrun")

#: How long the reader waits for a message before it checks whether it was stopped.
_READ_WAIT = 1.0
#: How long :meth:`Subscription.close` waits for the reader thread: two of its reads.
_CLOSE_WAIT = 2 * _READ_WAIT
#: The reader's pause after a failed read (the client reconnects on the next one).
_RETRY_PAUSE = 1.0


class Subscription:
    """A hub fed from the channel by a background thread; :meth:`close` to stop.

    The reader is our own daemon thread rather than redis-py's ``run_in_thread``, whose
    ``stop()`` waits for the reader without a bound in recent releases: a reader stuck
    in a read of a stalled connection would hang :meth:`close`.
    """

    def __init__(self, pubsub: Any) -> None:
        # (the relay, whose client owns the pool of the pub/sub connection, stays alive
        # as long as the pub/sub: its message handler refers to it)
        self._pubsub = pubsub
        self._stopped = threading.Event()
        self._reader = threading.Thread(target=self._read, name="vlmrun-relay", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stopped.is_set():
            try:  # a message calls its handler (deliver) inside get_message
                self._pubsub.get_message(ignore_subscribe_messages=True, timeout=_READ_WAIT)
            except Exception as error:  # a dropped connection: reconnects on the next read
                logger.warning("relay: %s; reconnecting", error)
                self._stopped.wait(_RETRY_PAUSE)

    def close(self) -> None:
        """Stop the reader, waiting for it at most ``_CLOSE_WAIT`` seconds (a reader stuck
        in a read of a stalled connection is left behind, its connection closed)."""
        self._stopped.set()
        self._reader.join(timeout=_CLOSE_WAIT)
        self._pubsub.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RedisWebhookRelay:
    """Publish deliveries from the receiver; subscribe worker hubs to them.

    Example:
        >>> relay = RedisWebhookRelay("redis://localhost:6379/0")  # doctest: +SKIP
        >>> # web process:
        >>> receiver = WebhookReceiver(secret, forward=relay.publish)  # doctest: +SKIP
        >>> # each worker process:
        >>> hub = WebhookHub()  # doctest: +SKIP
        >>> relay.subscribe(hub)  # doctest: +SKIP
        >>> client = VLMRunClient(hub=hub)  # doctest: +SKIP

    Args:
        redis: a URL or a ``redis.Redis`` client (``decode_responses=False``).
        channel: the pub/sub channel (one per deployment sharing a webhook).
        signing_key: seal published messages, and accept only sealed ones.
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        channel: str = "vlmrun:completions",
        signing_key: str | SecretStr | None = None,
    ) -> None:
        self.channel = channel
        self._key = signing_key_of(signing_key)
        self._redis = connect(redis)

    def __repr__(self) -> str:
        return f"RedisWebhookRelay(channel={self.channel!r})"

    def publish(self, execution: AgentExecution) -> int:
        """Send a delivered execution to every subscribed hub; returns how many got it."""
        payload = execution.model_dump_json().encode()
        if self._key is not None:
            payload = seal(self._key, self.channel, payload)
        return int(self._redis.publish(self.channel, payload))

    def subscribe(self, hub: WebhookHub, *, ready_timeout: float = 10.0) -> Subscription:
        """Feed ``hub`` from the channel; returns once Redis confirmed the subscription."""

        def deliver(message: dict[str, Any]) -> None:
            data = message["data"]
            if self._key is not None:
                data = unseal(self._key, self.channel, bytes(data))
                if data is None:
                    logger.warning("relay: ignored a message not signed with signing_key")
                    return
            try:
                execution = AgentExecution.model_validate_json(data)
            except ValueError:
                logger.warning("relay: ignored a message that is not an execution")
                return
            hub.complete(execution)

        pubsub = self._redis.pubsub()
        pubsub.subscribe(**{self.channel: deliver})
        deadline = time.monotonic() + ready_timeout
        while True:
            message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is not None and message.get("type") == "subscribe":
                break
            if time.monotonic() >= deadline:
                pubsub.close()
                raise TimeoutError(f"Redis did not confirm the subscription to {self.channel}")

        return Subscription(pubsub)
