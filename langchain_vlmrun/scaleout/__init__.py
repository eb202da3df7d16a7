"""Many workers, one account (the ``redis`` extra): a request budget shared through
Redis (:class:`RedisRequestBudget`), a shared result cache store
(:class:`RedisByteStore`), in-flight dedupe (:class:`DedupeLeases`), and webhook
deliveries relayed to every worker's hub (:class:`RedisWebhookRelay`).

Each plugs into the client through the protocol it implements; nothing below this
layer imports it."""

from langchain_vlmrun.scaleout.leases import DedupeLeases
from langchain_vlmrun.scaleout.redis_budget import RedisRequestBudget
from langchain_vlmrun.scaleout.redis_relay import RedisWebhookRelay
from langchain_vlmrun.scaleout.redis_store import RedisByteStore

__all__ = ["DedupeLeases", "RedisByteStore", "RedisRequestBudget", "RedisWebhookRelay"]
