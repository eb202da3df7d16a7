"""When to poll an execution next, and what recent executions teach about that.

Three pieces, all pure (no I/O, no clock of their own):

- :class:`PollSchedule`: the generic schedule, a grid of poll times by the job's age
  (0.5 s, 1.25 s, 2.4 s, ... capped at 5 s apart). Without history, this is how a job
  is polled.
- :class:`DurationMemory`: per agent configuration (and file-size class), where to put
  the first poll (the *probe*) of the next job so that it usually finds the job done:
  one poll a document instead of several. It is built so that it is **never worse than
  the grid**: the probe sits at a low quantile of what recent jobs took, a probe that
  misses hands the job back to the grid (at the grid's own times, so a slow job costs
  no more polls than without learning), and the estimate only moves up when most jobs
  miss it.
- :class:`DeliveryHealth`: whether webhook deliveries to a ``callback_url`` are arriving;
  when they are not, waits poll as they would without webhooks until one arrives again.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from langchain_vlmrun.core._redaction import safe_url

if TYPE_CHECKING:
    from langchain_vlmrun.core.models import AgentExecution

__all__ = ["DeliveryHealth", "DurationMemory", "PollSchedule", "Probe", "Wave", "WaveState"]

logger = logging.getLogger("langchain_vlmrun")


@dataclass(frozen=True)
class PollSchedule:
    """Adaptive polling: start at ``initial`` seconds, grow by ``multiplier``, cap at ``maximum``.

    Intervals grow with the job's age, so a short job is noticed quickly and a long one
    costs few requests. With ``learn_durations`` the first poll of a job goes where
    executions of the same agent configuration have recently finished (see
    :class:`DurationMemory`), never later than most of them finished.
    ``PollSchedule.immediate()`` never sleeps (cassette replay, tests).

    Example:
        >>> s = PollSchedule(initial=0.5, multiplier=2.0, maximum=5.0)
        >>> [s.interval(n) for n in range(5)]
        [0.5, 1.0, 2.0, 4.0, 5.0]
        >>> [s.next_poll(age) for age in (0.0, 0.5, 0.7, 3.5)]  # the grid by job age
        [0.5, 1.5, 1.5, 7.5]
        >>> PollSchedule(initial=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: PollSchedule needs initial >= 0, maximum >= 0, multiplier >= 1
    """

    initial: float = 0.5
    multiplier: float = 1.5
    maximum: float = 5.0
    learn_durations: bool = True
    """Put the first poll where similar executions recently finished."""

    def __post_init__(self) -> None:
        if not (self.initial >= 0 and self.maximum >= 0 and self.multiplier >= 1):
            raise ValueError("PollSchedule needs initial >= 0, maximum >= 0, multiplier >= 1")

    @classmethod
    def immediate(cls) -> PollSchedule:
        return cls(initial=0.0, multiplier=1.0, maximum=0.0, learn_durations=False)

    def interval(self, polls_done: int) -> float:
        """Seconds between the grid's poll ``polls_done`` and the next one."""
        return float(min(self.maximum, self.initial * self.multiplier**polls_done))

    def next_poll(self, age: float) -> float:
        """The grid's first poll time after ``age`` seconds (job ages, not pauses).

        A wait that probed (or was slowed by retries) rejoins the grid here, so it polls
        when the plain schedule would have and never more often.
        """
        if self.interval(0) <= 0:
            return age
        at, polls = 0.0, 0
        age += 1e-9 * max(1.0, age)  # a point within rounding of ``age`` is ``age`` itself
        while True:
            step = self.interval(polls)
            # once the steps stop growing (capped, or a multiplier of 1), jump whole steps
            if (step >= self.maximum or self.multiplier == 1) and at + step <= age:
                at += math.floor((age - at) / step) * step
            at += step
            polls += 1
            if at > age:
                return at


@dataclass(frozen=True)
class Probe:
    """Where the first poll of a job goes, and the looks after it if it misses.

    ``at``: seconds after submission. ``then``: follow-ups (seconds after submission)
    if the probe finds the job running, before the grid takes over. ``scan_from``: look
    at an eighth, a quarter and a half of the probe's time (those above this age)
    before it, so that a job much faster than the few seen so far is not made to wait
    for them (None: straight to the probe). ``exploring``:
    this probe goes below where jobs of this kind were seen done, to find out whether
    they finish earlier; jobs running at once explore at different points of the
    bracket (``slot``: the share of the way from ``floor`` to the usual end).
    """

    at: float
    then: tuple[float, ...] = ()
    scan_from: float | None = None
    exploring: bool = False
    floor: float = 0.0
    slot: float = 0.0
    relaxed: bool = False
    exact: bool = False
    """Placed by the server's exact durations, which count from the job's true start:
    the wait places it from the execute's answer (the job started before it)."""
    first_wave: bool = False
    """Nothing learned yet: the jobs of the kind in flight share out the looks between
    the grid's first two polls (``slot``: this job's share of the way), and each polls
    as soon as another was seen done at its age (asking :meth:`DurationMemory.wave`)."""


#: A server duration this much shorter than our observation proves its timestamps exact,
EXACT_MARGIN = 0.05
#: once it is also shorter by more than this (seconds) plus the time from the job's placed
#: start to the execute's answer: the start is placed no later than the answer, and no
#: earlier than that much before the true start, so a lazy stamp (written when a poll
#: got there) can read shorter than what we saw by up to that much, however long the job.
EXACT_SLACK = 0.005
#: Learned probes are within this share of the true end once the bracket has closed.
TOLERANCE = 0.03
#: After a probe at the usual end misses, look again this share of it later.
FOLLOW_UP = 0.15
#: Jobs observed before the first probe (one job alone may be the slow one).
MIN_SAMPLES = 2
#: Exact durations known before a probe skips the grid below it.
EXACT_SAMPLES = 4
#: Completions remembered per kind.
KEEP = 16
#: Probes at the usual end remembered, and how many of them may miss before it moves up.
OUTCOMES, MISSES_TO_RISE = 8, 3
#: Probes at the usual end in a row that missed by far: the jobs all got slower. Rising
#: too late costs only polls (a missed probe hands the job to the grid); too early, time.
SLOWER = 12
#: Where concurrent explorations of one kind probe, as shares of the way from the floor
#: to the usual end: halfway first (bisection), then above it (a miss costs a poll, a
#: hit nothing). A relaxed floor (see RELAX) is explored by one job at a time.
EXPLORE_AT = (0.5, 0.75, 0.875, 0.625)
#: The widest spread of recent durations (interquartile range over the usual end) that
#: still stops exploring: exploring finer than jobs vary costs polls and finds nothing.
MAX_SPREAD = 0.5
#: When durations vary, one probe at the usual end in this many scouts below it.
SCOUT_EVERY = 8
#: Recent jobs from which where a job started is placed on the client's clock.
CLOCK_WINDOW = 32
#: How often a first-wave job checks whether another of its kind was seen done (no
#: request is sent for this).
WAVE_SLICE = 0.02
#: After this many completions without a probe below the usual end, try one; each such
#: probe that finds the end where it was doubles the wait for the next (up to
#: RELAX_MAX), one that finds it lower starts again from RELAX.
RELAX, RELAX_MAX = 16, 64


def _spread(n: int) -> float:
    """The share of the way between the grid's first two polls where the ``n``-th job of
    a first wave looks: 0, 1/2, 1/4, 3/4, 1/8, 5/8... (each new job halves a gap).

    Example:
        >>> [_spread(n) for n in range(6)]
        [0.0, 0.5, 0.25, 0.75, 0.125, 0.625]
    """
    share, scale = 0.0, 0.5
    while n:
        share += scale * (n & 1)
        n, scale = n >> 1, scale / 2
    return share


def _quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (lower of two neighbours; no interpolation)."""
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


@dataclass
class _Kind:
    """What the memory knows about one kind of job (agent configuration, size class)."""

    samples: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=KEEP))
    exact: bool = False
    ceiling: float | None = None
    """Where jobs of this kind were recently found done (the usual end)."""
    floor: float = 0.0
    """Where an exploring probe last saw a job of this kind still running."""
    floor_age: int = 0
    relax: int = RELAX
    """Completions after which the floor is next doubted (see RELAX)."""
    span: float = 0.0
    """How far below the ceiling the next exploration after a collapse goes."""
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=OUTCOMES))
    """Recent probes at the usual end: was each a near miss?"""
    slow_streak: int = 0
    """Probes at the usual end in a row that missed by far (found later by the grid)."""
    exploits: int = 0
    """Probes handed out at the usual end (every SCOUT_EVERY-th may scout)."""
    explorers: set[float] = field(default_factory=set)
    """The slots of explorations under way."""
    wave: int = 0
    """First-wave jobs so far (the next one's share of the looks)."""
    in_wave: int = 0
    """First-wave jobs in flight."""
    wave_ran: float = 0.0
    """The latest look of the first wave that saw a job running (until it sets the floor)."""
    members: dict[str, float] = field(default_factory=dict)
    """First-wave executions being waited for, and when each was submitted (our clock)."""
    found: dict[str, tuple[AgentExecution, float]] = field(default_factory=dict)
    """Executions of the first wave another's look found ended, and when it looked."""
    looked: dict[str, float] = field(default_factory=dict)
    """The age at which a look of the first wave last asked about each of its jobs."""
    asked: dict[str, float] = field(default_factory=dict)
    """The age at which another job's look last asked about each job of the first wave."""


@dataclass(frozen=True)
class Wave:
    """What a first-wave wait asks of the memory about the other jobs of its kind."""

    memory: DurationMemory
    key: str

    def ran(self, age: float) -> None:
        """A look between the grid's first two polls saw a job of the wave running at
        ``age``: the end lies above."""
        with self.memory._lock:
            kind = self.memory._kinds.setdefault(self.key, _Kind())
            kind.wave_ran = max(kind.wave_ran, age)

    def join(self, execution_id: str, since: float) -> None:
        """A first-wave wait begins (``since``: its submission, on the client's clock)."""
        with self.memory._lock:
            self.memory._kinds.setdefault(self.key, _Kind()).members[execution_id] = since

    def leave(self, execution_id: str) -> None:
        """A first-wave wait ended (whatever the outcome)."""
        with self.memory._lock:
            kind = self.memory._kinds.get(self.key)
            if kind is not None:
                kind.members.pop(execution_id, None)
                kind.found.pop(execution_id, None)
                kind.looked.pop(execution_id, None)
                kind.asked.pop(execution_id, None)

    def asked_at(self, execution_id: str) -> float | None:
        """The age at which another job's look last asked about ``execution_id`` (None:
        none did). A lazy ``completed_at`` may be that look's, not the job's own poll's."""
        with self.memory._lock:
            kind = self.memory._kinds.get(self.key)
            return None if kind is None else kind.asked.get(execution_id)

    def next_look(self, now: float, asker: str) -> tuple[str, float] | None:
        """The execution a look of the wave asks about at ``now`` (our clock), and when
        it was submitted: the one submitted first (the most likely done), whichever job's
        look it is (``asker``'s), unless a look saw it running less than TOLERANCE of its
        age ago (so that a slow one does not take every look: they go on to the next).
        None: one was seen done (each job now asks about itself), or no job is due a
        look. A look at another job is noted for :meth:`asked_at`."""
        with self.memory._lock:
            kind = self.memory._kinds.get(self.key)
            if kind is None or kind.samples or any(_completed(kind)):
                return None
            due = [
                (since, execution_id)
                for execution_id, since in kind.members.items()
                if now - since >= kind.looked.get(execution_id, 0.0) * (1 + TOLERANCE)
            ]
            if not due:
                return None
            since, execution_id = min(due)
            kind.looked[execution_id] = now - since
            if execution_id != asker:
                kind.asked[execution_id] = now - since
            return execution_id, since

    def post(self, execution_id: str, execution: AgentExecution, at: float) -> None:
        """A look found ``execution_id`` ended (at ``at``, our clock): its own wait takes
        the answer (:meth:`take`) instead of asking again."""
        with self.memory._lock:
            kind = self.memory._kinds.get(self.key)
            if kind is not None and execution_id in kind.members:
                kind.found[execution_id] = (execution, at)

    def take(self, execution_id: str) -> tuple[AgentExecution, float] | None:
        """What another's look found of ``execution_id`` (None: nothing yet)."""
        with self.memory._lock:
            kind = self.memory._kinds.get(self.key)
            return None if kind is None else kind.found.pop(execution_id, None)

    def state(self) -> WaveState:
        """What the other jobs of this kind show now (one read: a wave job asks this at
        every short pause)."""
        with self.memory._lock:
            kind = self.memory._kinds.get(self.key)
            if kind is None:
                return WaveState(None, exact=False, shared=False)
            done_at = min((u for _, u in kind.samples), default=None)
            if done_at is None and kind.found:  # done when a look found it: at most this
                ages = [at - kind.members[key] for key, at in _completed(kind)]
                done_at = min(ages, default=None)
                return WaveState(done_at, exact=False, shared=kind.in_wave > 1)
            return WaveState(done_at, exact=kind.exact, shared=kind.in_wave > 1)


def _completed(kind: _Kind) -> Iterator[tuple[str, float]]:
    """The first-wave jobs a look found completed (not failed), and when (our clock)."""
    for key, (execution, at) in kind.found.items():
        if execution.status == "completed":
            yield key, at


class WaveState(NamedTuple):
    """``done_at``: the earliest age at which a job of the kind was seen done (None: none
    yet); ``exact``: that age is the server's exact duration (from the job's true start);
    ``shared``: other first-wave jobs of the kind are in flight (one may be seen done)."""

    done_at: float | None
    exact: bool
    shared: bool


class DurationMemory:
    """How long recent executions of each kind took, and where to probe next (thread-safe).

    A *kind* is one agent configuration (agent, prompt, schema, model) and, when the
    client knows it, the file's size class: a 1-page scan and a 200-page report under
    one agent are different kinds.

    Every completion is known to lie between the last poll that saw the job running
    (``lower``) and the first that saw it done (``upper``), both on our clock from
    submission. The server's ``created_at``/``completed_at`` are used only once they
    have proved exact (a duration clearly inside that interval); then the probe goes at
    the lower quartile of recent durations and the follow-up at the upper quartile.

    Otherwise (timestamps late, early, naive, missing, or stamped when a poll first sees
    the job done) the memory brackets the usual end itself:

    - the *ceiling* starts at the lowest ``upper`` of the first jobs (so one slow job
      cannot set it) and moves to any probe that finds a job done below it;
    - one job at a time *explores* halfway between the ceiling and the highest age at
      which a job like the others was seen running; when the bracket is closed (within
      3 %), every job probes at the ceiling, and every 32 completions one job explores
      again so that the estimate can come down;
    - a probe at the ceiling that misses is followed up 15 % later and then left to the
      grid; only when 3 of the last 8 such probes missed does the ceiling move up (to
      the median of recent ``upper`` bounds).

    Example:
        >>> memory = DurationMemory()
        >>> for _ in range(4):
        ...     memory.observe("agent", lower=2.0, upper=3.0, server=2.5)
        >>> memory.probe("agent").at  # exact timestamps: the server's 2.5 s
        2.5
        >>> lazy = DurationMemory()
        >>> for _ in range(2):  # no timestamps: seen running at 2 s, done at 3 s
        ...     lazy.observe("agent", lower=2.0, upper=3.0, server=None)
        >>> lazy.probe("agent").at  # one job at a time explores below 3 s...
        1.5
        >>> lazy.probe("agent").at  # ...another at another point
        2.25
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, _Kind] = {}
        self._offsets: deque[float] = deque(maxlen=CLOCK_WINDOW)

    def started(self, sent: float, answered: float, created: float | None) -> float:
        """Where on the client's clock a job started, between its request (``sent``) and
        the answer (``answered``).

        The server's ``created`` stamp (seconds, its own clock) places it once mapped
        onto ours: the offset between the clocks is at least ``sent - created`` for every
        job, so the second highest of the recent ones is taken (the fastest request but
        one: one bad stamp must not move it; a lower quantile would place every job as
        early as the tenth fastest request was slow, blurring the ends learned from lazy
        stamps by that much); the result is kept between ``sent`` and ``answered``, so a
        wrong or missing stamp costs at most the round trip. A busy client's late
        requests and late answers then do not blur the ends it learns.

        Example:
            >>> memory = DurationMemory()
            >>> for i in range(9):  # the server's clock reads 1000 s ahead of ours
            ...     _ = memory.started(float(i), i + 0.1, created=1000.0 + i)
            >>> round(memory.started(20.0, 20.3, created=1020.05), 3)  # 50 ms to go out
            20.05
            >>> memory.started(30.0, 30.1, created=None)
            30.0
        """
        if created is None or not answered >= sent:
            return sent
        with self._lock:
            self._offsets.append(sent - created)
            offset = sorted(self._offsets)[-2:][0]
        return min(max(created + offset, sent), answered)

    def expected(self, key: str) -> float | None:
        """How long jobs of ``key`` typically take until their end is known: the median
        of recent observations (None before two). A webhook wait puts its first safety
        poll past twice this."""
        with self._lock:
            kind = self._kinds.get(key)
            if kind is None or len(kind.samples) < MIN_SAMPLES:
                return None
            return _quantile([upper for _, upper in kind.samples], 0.5)

    def probe(self, key: str, *, earliest: float = 0.0) -> Probe | None:
        """The first poll for the next job of ``key`` (None: poll on the grid).

        ``earliest``: no poll goes before this (the schedule's first poll), so nothing
        below it is explored. An exploring probe's slot is held by one job at a time:
        give it back with :meth:`observe` or :meth:`release`.
        """
        with self._lock:
            kind = self._kinds.setdefault(key, _Kind())
            if len(kind.samples) >= MIN_SAMPLES:
                return self._probe(kind, claim=True, earliest=earliest)
            # the first wave: each job looks at its own point between the grid's first two
            # polls (the first job at the first), so that together they find the end
            share = 0.0
            if not kind.samples:  # every other job only follows (it looks at the second)
                share = _spread(kind.wave // 2) if kind.wave % 2 == 0 else 1.0
            kind.wave += not kind.samples
            kind.in_wave += 1
            return Probe(earliest, slot=share, first_wave=True)

    def wave(self, key: str) -> Wave:
        return Wave(self, key)

    def release(self, key: str, probe: Probe | None) -> None:
        """The wait that held ``probe`` ended (each probe is released once, after
        :meth:`observe` if it learned anything)."""
        if probe is not None and (probe.exploring or probe.first_wave):
            with self._lock:
                kind = self._kinds.get(key)
                if kind is not None and probe.exploring:
                    kind.explorers.discard(probe.slot)
                elif kind is not None:
                    kind.in_wave -= 1

    def _probe(self, kind: _Kind, *, claim: bool, earliest: float = 0.0) -> Probe:
        uppers = [upper for _, upper in kind.samples]
        if kind.exact:
            at, then = _quantile(uppers, 0.25), _quantile(uppers, 0.75)
            scan = 0.0 if len(uppers) < EXACT_SAMPLES else None  # too few to skip the grid
            return Probe(at, (then,) if then > at else (), scan, exact=True)
        ceiling = kind.ceiling
        assert ceiling is not None  # set by ``observe`` with the second sample
        floor = kind.floor
        if kind.floor_age >= kind.relax:  # doubt it now and then: jobs may have got faster
            floor = min(floor, ceiling * (1 - 2 * TOLERANCE))
        scan_from = floor  # explorers keep to the grid from here up to their probe
        floor = max(floor, min(earliest, ceiling))
        width = ceiling - floor
        # jobs that vary by more than the tolerance cannot be bracketed finer than that
        spread = (_quantile(uppers, 0.75) - _quantile(uppers, 0.25)) / ceiling
        # (closed at the tolerance itself: a relaxed probe that misses leaves exactly
        # that, which rounding must not reopen)
        if width > max(TOLERANCE, min(spread, MAX_SPREAD)) * ceiling * (1 + 1e-9):
            relaxed = floor < kind.floor or kind.span > 0
            wide = width > 8 * TOLERANCE * ceiling and not relaxed
            for slot in EXPLORE_AT if wide else EXPLORE_AT[:1]:
                if slot not in kind.explorers:
                    if claim:
                        kind.explorers.add(slot)
                    at = floor + slot * width
                    follow_ups = (ceiling, ceiling * (1 + FOLLOW_UP))
                    return Probe(at, follow_ups, scan_from, True, floor, slot, relaxed)
        # jobs of this kind vary: now and then one scouts below the usual end (a few
        # cheap looks), so that a faster sort hidden under it is found
        kind.exploits += claim
        scout = spread > 2 * TOLERANCE and claim and kind.exploits % SCOUT_EVERY == 0
        return Probe(ceiling, (ceiling * (1 + FOLLOW_UP),), 0.0 if scout else None)

    def observe(
        self,
        key: str,
        *,
        lower: float,
        upper: float,
        server: float | None,
        probe: Probe | None = None,
        hit: bool = False,
        answered: float | None = None,
    ) -> None:
        """Learn from one completion of a fresh submission.

        Args:
            lower: seconds from submission to the last poll that saw the job running
                (0 when none did).
            upper: seconds from submission to the poll that saw it done.
            server: the server's own duration (``completed_at - created_at``), if any.
            probe: the probe the wait used (from :meth:`probe`), if any.
            hit: the probe's poll (or one before it) found the job done.
            answered: seconds from submission (the job's placed start) to the execute's
                answer: a server duration proves the stamps exact only if it is also
                shorter than ``upper`` by more than this (see EXACT_SLACK).
        """
        with self._lock:
            kind = self._kinds.setdefault(key, _Kind())
            if probe is not None and probe.exploring:
                kind.explorers.discard(probe.slot)
            if probe is not None and probe.first_wave:
                probe = None  # nothing was learned when it began
            if not upper > 0:
                return
            proof = upper * (1 - EXACT_MARGIN)
            if answered is not None:
                proof = min(proof, upper - answered - EXACT_SLACK)
            if server is not None and lower <= server < proof:
                kind.exact = True  # finished clearly before we looked: exact stamps
            if kind.exact:
                if server is not None and 0 < server <= upper:
                    kind.samples.append((server, server))
                return
            kind.samples.append((lower, upper))
            kind.floor_age += 1
            if kind.ceiling is None and len(kind.samples) >= MIN_SAMPLES:
                kind.ceiling = min(u for _, u in kind.samples)
            if kind.ceiling is not None and kind.floor < kind.wave_ran < kind.ceiling:
                # a job of the first wave was running at its look: the end lies above
                kind.floor, kind.floor_age, kind.wave_ran = kind.wave_ran, 0, 0.0
            if probe is None or kind.ceiling is None:
                return
            self._learn_from_probe(kind, probe, hit=hit, lower=lower, upper=upper)

    @staticmethod
    def _learn_from_probe(
        kind: _Kind, probe: Probe, *, hit: bool, lower: float, upper: float
    ) -> None:
        assert kind.ceiling is not None
        if hit and probe.scan_from is not None and upper < probe.at * (1 - TOLERANCE):
            # found by a look below the probe: this job ended between the last look that
            # saw it running and this one, well below the usual end
            kind.ceiling = min(kind.ceiling, upper)
            kind.floor, kind.floor_age, kind.span = lower, 0, 0.0
            kind.slow_streak = 0
            return
        if probe.exploring:
            if probe.relaxed:
                kind.relax = RELAX if hit else min(2 * kind.relax, RELAX_MAX)
            if hit and upper < kind.ceiling:
                # done before the probe: come down at once
                if probe.relaxed:
                    # the bracket closed on a hit: the floor is in doubt (it may come
                    # from slower jobs, or jobs got faster); look twice as far down each
                    # time until a probe misses
                    kind.span = max(2 * kind.span, 4 * TOLERANCE * kind.ceiling)
                    kind.floor, kind.floor_age = max(0.0, upper - kind.span), 0
                kind.ceiling = upper
            elif not hit and probe.then and upper <= probe.then[0] * (1 + TOLERANCE):
                # a job like the others still ran at the probe, and was done at the
                # usual end: the end lies between
                kind.floor, kind.floor_age, kind.span = probe.at, 0, 0.0
        if not probe.exploring and probe.at < kind.ceiling * (1 - TOLERANCE / 2):
            return  # handed out before the usual end rose: its miss is known already
        # a near miss: found done by the follow-up 15 % after the usual end, so like the
        # others but a little slower (a job found later by the grid is of a slower sort
        # and says nothing of these); a probe that had no poll to spare for a follow-up
        # (``then`` empty) was followed by the grid's next poll: found by that, it is
        # near too, but how near is not known
        follow_up = max(probe.then, default=0.0) * (1 + TOLERANCE)
        if probe.then:
            near_miss = not hit and kind.ceiling * (1 + TOLERANCE) < upper <= follow_up
            far_miss = not hit and upper > follow_up
        else:
            first_after = lower <= probe.at * (1 + TOLERANCE)  # no look between
            near_miss = not hit and kind.ceiling * (1 + TOLERANCE) < upper and first_after
            far_miss = not hit and not first_after
        kind.slow_streak = kind.slow_streak + 1 if far_miss else 0
        if kind.slow_streak >= SLOWER:
            # nearly every job now runs past the usual end: they all got slower
            recent = list(kind.samples)[-SLOWER:]
            # (the floor goes to 0: explorers keep to the grid from the start, so a job
            # of the faster sort, if any is left, is seen as early as without learning)
            kind.ceiling = max(kind.ceiling, _quantile([u for _, u in recent], 0.25))
            kind.floor, kind.floor_age, kind.span, kind.slow_streak = 0.0, 0, 0.0, 0
            kind.outcomes.clear()
        elif not probe.exploring or not hit:
            kind.outcomes.append(near_miss)
            if near_miss and kind.outcomes.count(True) >= MISSES_TO_RISE:
                # to where the follow-up found it; found by the grid, by one step
                step = upper if probe.then else kind.ceiling * (1 + TOLERANCE)
                kind.ceiling = max(kind.ceiling, step)
                kind.outcomes.clear()


class DeliveryHealth:
    """Whether webhook deliveries to each ``callback_url`` are arriving (thread-safe).

    A completion that a safety poll found, with no delivery, marks the URL *silent*: a
    warning names it once, and later waits poll as they would without webhooks (still
    woken by any delivery that does arrive). The next delivery marks it healthy again.

    Example:
        >>> health = DeliveryHealth()
        >>> health.silent("https://me.example/hook")
        False
        >>> health.missed("https://me.example/hook")
        >>> health.silent("https://me.example/hook")
        True
        >>> health.delivered("https://me.example/hook")
        >>> health.silent("https://me.example/hook")
        False
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._silent: set[str] = set()
        self._warned: set[str] = set()

    def silent(self, url: str) -> bool:
        with self._lock:
            return url in self._silent

    def missed(self, url: str) -> None:
        """A job's completion was found by polling: its delivery never came."""
        with self._lock:
            self._silent.add(url)
            warn = url not in self._warned
            self._warned.add(url)
        if warn:
            logger.warning(
                "webhook deliveries to %s are not arriving (a safety poll found the "
                "execution done first); polling as without webhooks until one arrives. "
                "Check that the URL reaches your WebhookReceiver.",
                safe_url(url),
            )

    def delivered(self, url: str) -> None:
        with self._lock:
            if url in self._silent:
                self._silent.discard(url)
                self._warned.discard(url)
                logger.info("webhook deliveries to %s arrive again", safe_url(url))
