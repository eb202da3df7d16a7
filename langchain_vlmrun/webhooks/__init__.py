"""Webhooks (``callback_url``): verifying a delivery's signature, the ASGI receiver
(the ``webhooks`` extra) and the hub where deliveries wake the clients waiting for
them (``VLMRunClient(hub=WebhookHub())``)."""

from langchain_vlmrun.webhooks.hub import WebhookHub
from langchain_vlmrun.webhooks.receiver import WebhookReceiver
from langchain_vlmrun.webhooks.signature import verify_webhook_signature

__all__ = ["WebhookHub", "WebhookReceiver", "verify_webhook_signature"]
