"""``RedisRequestBudget``: one request budget shared by every process, through Redis.

The account's limit (10 requests/min pay-as-you-go, 100/min Pro) counts every upload,
execute and poll of every worker. :class:`~langchain_vlmrun.RequestBudget` paces one
process; this class paces all of them with the same interface, so a client takes
either (``VLMRunClient(budget=RedisRequestBudget(...))``).

It is a *moving window with reservations*: at most ``limit`` request slots in any
``window`` seconds (stretched by ``headroom``). ``reserve()`` books the earliest slot
that keeps every window within the limit and returns the seconds to wait for it, so
the caller sleeps once and sends, exactly as with ``RequestBudget``. One Lua script
does the booking atomically, on the Redis server's clock (workers' clocks may
disagree). After a 429, :meth:`penalize` holds every worker until ``Retry-After`` (at
most ``MAX_HOLD``, 60 s, as the retry policy and ``RequestBudget`` cap it: a hostile or
broken answer cannot freeze every process) and stretches the window by ``slowdown``;
successes shrink it back. That state lives in Redis too, so one worker's 429 slows all
of them.

Why not the ``limits`` library's moving window: it only answers "may I send now?",
stamping the hit with the caller's clock; it cannot book a later slot. A caller told
"not now, retry in 4 s" would have to ask again after sleeping, which the clients'
one-sleep-then-send admission (and ``RequestBudget``'s semantics) do not do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_vlmrun.client._budget import MAX_HOLD, MAX_SLOWDOWN
from langchain_vlmrun.scaleout._redis import Reconnects, connect

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["RedisRequestBudget", "Slot"]

# KEYS[1]: booked slot times (list, oldest first, at most `limit` kept)
# KEYS[2]: shared state (hash): `factor` (window stretch after 429s), `hold` (no slot before)
# ARGV: op, limit, window (seconds, headroom included), slowdown, max factor, retry_after,
# max hold. The script clamps what it reads and is given (whatever wrote it: NaN, inf, a
# hold days away): no caller is held longer than the max hold from now.
_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local op = ARGV[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local max_factor = tonumber(ARGV[5])
local max_hold = tonumber(ARGV[7])
local factor = tonumber(redis.call('HGET', KEYS[2], 'factor') or '1') or 1
if factor ~= factor or factor < 1 then factor = 1 end
if factor > max_factor then factor = max_factor end
local hold = tonumber(redis.call('HGET', KEYS[2], 'hold') or '0') or 0
if hold ~= hold then hold = 0 end
if hold > now + max_hold then hold = now + max_hold end
local function keep_state()
  local ms = math.ceil((math.max(hold - now, 0) + 10 * window * factor) * 1000)
  redis.call('HSET', KEYS[2], 'factor', string.format('%.6f', factor),
             'hold', string.format('%.6f', hold))
  redis.call('PEXPIRE', KEYS[2], ms)
end
if op == 'penalize' then
  factor = math.min(factor * tonumber(ARGV[4]), max_factor)
  local pause = tonumber(ARGV[6]) or -1
  if pause ~= pause or pause < 0 then pause = window * factor / limit end
  if pause > max_hold then pause = max_hold end
  hold = math.max(hold, now + pause)
  keep_state()
  return {string.format('%.6f', now), string.format('%.6f', hold), string.format('%.6f', factor)}
end
if op == 'succeeded' then
  if factor > 1 then
    factor = math.max(1, factor * 0.95)
    keep_state()
  end
  return {string.format('%.6f', now), string.format('%.6f', now), string.format('%.6f', factor)}
end
local span = window * factor
local slot = math.max(now, hold)
local count = redis.call('LLEN', KEYS[1])
if count > 0 then
  slot = math.max(slot, tonumber(redis.call('LINDEX', KEYS[1], -1)))
end
if count >= limit then
  slot = math.max(slot, tonumber(redis.call('LINDEX', KEYS[1], count - limit)) + span)
end
if op == 'reserve' then
  redis.call('RPUSH', KEYS[1], string.format('%.6f', slot))
  redis.call('LTRIM', KEYS[1], -limit, -1)
  redis.call('PEXPIRE', KEYS[1], math.ceil((slot - now + span) * 1000) + 1000)
end
return {string.format('%.6f', now), string.format('%.6f', slot), string.format('%.6f', factor)}
"""


@dataclass(frozen=True)
class Slot:
    """A booking, in the Redis server's clock: send at ``start`` (``now`` when booked)."""

    now: float
    start: float
    factor: float

    @property
    def delay(self) -> float:
        return max(0.0, self.start - self.now)


class RedisRequestBudget(Reconnects):
    """At most ``requests_per_minute`` requests per minute across every process.

    Every process (and thread, and task) that shares ``redis`` and ``key`` books from
    the same window. Give all of them the same settings.

    Example:
        >>> budget = RedisRequestBudget(10, redis="redis://localhost:6379/0")  # doctest: +SKIP
        >>> client = VLMRunClient(budget=budget)  # doctest: +SKIP

    Args:
        requests_per_minute: the account's limit.
        redis: a ``redis://``/``rediss://``/``unix://`` URL or a ``redis.Redis`` client
            (``decode_responses=False``).
        key: the budget's name in Redis; one per API key (account) sharing a limit.
        window: the server's counting window in seconds (60); tests use a shorter one.
            ``requests_per_minute * window / 60`` requests fit in one window.
        headroom: stretch the window a little (2 %): a request leaves a few ms after
            its slot, and the server's window must never see one too many.
        slowdown: window stretch after each 429 (x1.5, at most ``max_slowdown``);
            every success shrinks it by 5 % back toward 1.
    """

    def __init__(
        self,
        requests_per_minute: float,
        *,
        redis: str | Redis,
        key: str = "vlmrun:budget",
        window: float = 60.0,
        headroom: float = 0.02,
        slowdown: float = 1.5,
        max_slowdown: float = MAX_SLOWDOWN,
    ) -> None:
        if not 0 < requests_per_minute < math.inf:
            raise ValueError(
                "requests_per_minute must be positive and finite (None means unlimited)"
            )
        limit = math.floor(requests_per_minute * window / 60.0 + 1e-9)
        if limit < 1:
            raise ValueError(
                f"{requests_per_minute}/min allows no request in a {window} s window; "
                "use a longer window"
            )
        self.requests_per_minute = requests_per_minute
        self.limit = limit
        self.window = window * (1.0 + headroom)
        self.slowdown = slowdown
        self.max_slowdown = max_slowdown
        self.key = key
        self._redis = connect(redis)
        self._remember(
            redis,
            requests_per_minute=requests_per_minute,
            key=key,
            window=window,
            headroom=headroom,
            slowdown=slowdown,
            max_slowdown=max_slowdown,
        )
        # a hash tag keeps both keys in one Redis Cluster slot (the script uses both)
        self._keys = [f"{{{key}}}:slots", f"{{{key}}}:state"]
        self._script = self._redis.register_script(_SCRIPT)
        self.factor = 1.0  # last seen from Redis; spares a round trip per success
        self.reserved = 0
        self.penalties = 0

    def __repr__(self) -> str:
        return (
            f"RedisRequestBudget({self.requests_per_minute}/min, key={self.key!r}, "
            f"limit={self.limit} per {self.window:g} s)"
        )

    def _run(self, op: str, retry_after: float | None = None) -> Slot:
        # the hold: the server's Retry-After within [0, MAX_HOLD]; none (or NaN): -1, one
        # slowed interval
        if retry_after is None or math.isnan(retry_after):
            hold = -1.0
        else:
            hold = min(max(retry_after, 0.0), MAX_HOLD)
        args: list[Any] = [
            op,
            self.limit,
            repr(self.window),
            repr(self.slowdown),
            repr(self.max_slowdown),
            repr(hold),
            repr(MAX_HOLD),
        ]
        now, start, factor = (float(v) for v in self._script(keys=self._keys, args=args))
        self.factor = factor
        return Slot(now=now, start=start, factor=factor)

    def reserve_slot(self) -> Slot:
        """Book the next free slot (shared by every process); see :meth:`reserve`."""
        slot = self._run("reserve")
        self.reserved += 1
        return slot

    def reserve(self) -> float:
        """Book a slot for one request; returns the seconds to wait before sending it."""
        return self.reserve_slot().delay

    def backlog(self) -> float:
        """Seconds until the slot a new caller would get (nothing is booked)."""
        return self._run("peek").delay

    def penalize(self, retry_after: float | None) -> None:
        """A 429 was received: hold every worker and stretch the window."""
        self.penalties += 1
        self._run("penalize", retry_after)

    def succeeded(self) -> None:
        """A request went through: drift back toward the nominal pace."""
        if self.factor > 1.0:
            self._run("succeeded")

    @property
    def interval(self) -> float:
        """Mean seconds between requests at the current pace."""
        return self.window * self.factor / self.limit

    def reset(self) -> None:
        """Forget every booking and slow-down (e.g. after changing plan)."""
        self._redis.delete(*self._keys)
        self.factor = 1.0
