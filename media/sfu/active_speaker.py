"""Active speaker from the client-to-mixer audio level (RFC 6464), with no transport and no clock.

The input is the one-byte ``urn:ietf:params:rtp-hdrext:ssrc-audio-level`` extension that browsers
put on every audio packet: a V bit (the sender's voice activity guess) and a 7-bit level in -dBov,
0 the loudest and 127 silence (-127 dBov or quieter). aiortc 1.16.0 negotiates it for audio
(``codecs.HEADER_EXTENSIONS``, id 2) and parses it into ``RtpPacket.extensions.audio_level`` as a
``(voice, level)`` tuple (``rtp.HeaderExtensionsMap.get``); ``audio_level`` turns that into
``AudioLevel(voice, level_dbov)`` with ``level_dbov`` in -127..0.

``ActiveSpeakerDetector`` is fed ``(participant, level_dbov, voice, now)`` for each audio packet and
reports a ``SpeakerChange`` only when the dominant speaker changes. Time is an argument, so it is
deterministic, and each packet costs O(1): only the sender's state, the current speaker and one
challenger are looked at.

How it decides, and why these defaults:

* **Smoothing.** Each packet's level, clamped to ``floor_dbov`` (-70), moves the participant's level
  by ``1 - exp(-packet_time / smoothing)`` of the way (20 ms packets, 0.3 s time constant). The
  weight comes from the packet's duration, not its arrival gap, so jitter bursts and reordering do
  not bias it. The clamp makes speech onset equally quick whether the idle level is -127
  (digital silence) or a -75 dBov noise floor: from the floor, speech at -30 dBov crosses the
  threshold in about 0.2 s. 0.3 s is Jitsi's decision interval (``DECISION_INTERVAL = 300`` ms
  in jitsi-utils ``DominantSpeakerIdentification``); mediasoup's ``AudioLevelObserver`` instead
  averages the dBov of all packets over an ``interval`` (default 1000 ms, at least 250).
* **Threshold.** A participant is *speaking* while fresh (a packet within ``stale_after``,
  0.5 s), the smoothed level is at or above ``threshold_dbov`` (-50) and at least one packet in
  the last ``window`` (1 s) was at or above it. mediasoup's default threshold is -80 dBov, which
  lets in room noise from an open microphone; speech after the browser's gain control sits
  around -20 to -40 dBov (our estimate, not measured here), so -50 keeps speech and drops most
  noise. It is a setting because microphones differ.
* **Voice flag.** Ignored by default: an aiortc publisher always sends V=0 (``rtcrtpsender.py``:
  ``extensions.audio_level = (False, -enc_frame.audio_level)``), RFC 6464 lets a sender turn the
  flag off (``vad=off``), and mediasoup's ``AudioLevelObserver`` keeps only a sum of dBov and a
  count per producer. With ``use_voice_flag`` a packet with
  V=0 counts as silence.
* **Switching with hysteresis.** With nobody holding the floor, a speaking participant takes it
  after leading for ``switch_after`` (0.6 s). Otherwise a challenger must be speaking *and*
  ``margin_db`` (6 dB, twice the amplitude) above the current speaker, whose level counts as the
  floor once stale, without a break for ``switch_after``. A cough or a "yes" of up to about half a
  second is therefore never long enough, and when two people talk over each other the current one
  keeps the floor until the other is clearly louder for long enough. Jitsi's dominant speaker
  identification gets the same effect differently: a challenger must beat the dominant speaker's
  speech-activity score in three time spans at once (immediate, medium, about 1 s long; C1=3,
  C2=2, C3=0).
* **Hold.** Two changes are never closer than ``hold`` (1.5 s), so the enlarged video does not
  flap. Removal is the only exception: a participant who leaves is cleared at once.
* **Decay.** The speaker is cleared (``SpeakerChange(None)``) once they have not been speaking for
  ``silence_after`` (2 s): long enough to keep the floor through pauses between sentences. The
  check runs on every packet and on ``tick(now)``, which the caller runs on a timer because a room
  where everyone has muted sends no packets at all.
* **Time order.** The detector's clock is the latest ``now`` it has seen, so hold and switch timers
  never run backwards; a late packet still counts towards its sender's level, at the time of the
  newest packet.

``speakers(now)`` lists everyone speaking, loudest first (mediasoup's ``volumes`` order), for a UI.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
SILENCE_DBOV = -127

K = TypeVar("K", bound=Hashable)


class AudioLevel(NamedTuple):
    """One packet's RFC 6464 audio level: the V bit and the level in dBov (-127..0)."""

    voice: bool
    level_dbov: int


def audio_level(extensions: Any) -> AudioLevel | None:
    """The audio level of an aiortc ``HeaderExtensions``, None without a well-formed extension.

    aiortc stores ``audio_level`` as ``(voice, level)`` with level 0..127 in -dBov; anything else
    (the extension not negotiated, a hand-built packet with a wrong shape) is ignored rather than
    trusted.
    """
    value = getattr(extensions, "audio_level", None)
    if not isinstance(value, tuple) or len(value) != 2:
        return None
    voice, level = value
    if not isinstance(voice, bool) or isinstance(level, bool) or not isinstance(level, int):
        return None
    if not 0 <= level <= 127:
        return None
    return AudioLevel(voice, -level)


def audio_level_from_byte(octet: int) -> AudioLevel:
    """The audio level of the extension's one data byte: V in the top bit, -dBov in the rest."""
    if not 0 <= octet <= 0xFF:
        raise ValueError(f"not a byte: {octet}")
    return AudioLevel(bool(octet & 0x80), -(octet & 0x7F))


@dataclass(frozen=True, slots=True)
class ActiveSpeakerConfig:
    """The detector's parameters; the module docstring says why each default is what it is."""

    threshold_dbov: float = -50.0
    floor_dbov: float = -70.0
    packet_time: float = 0.020
    smoothing: float = 0.3
    window: float = 1.0
    stale_after: float = 0.5
    switch_after: float = 0.6
    margin_db: float = 6.0
    hold: float = 1.5
    silence_after: float = 2.0
    use_voice_flag: bool = False

    def __post_init__(self) -> None:
        if not SILENCE_DBOV <= self.floor_dbov < self.threshold_dbov <= 0:
            raise ValueError("need -127 <= floor_dbov < threshold_dbov <= 0")
        durations = (
            self.packet_time,
            self.smoothing,
            self.window,
            self.stale_after,
            self.switch_after,
            self.hold,
            self.silence_after,
        )
        if not all(math.isfinite(d) and d > 0 for d in durations):
            raise ValueError("durations must be positive and finite")
        if not (math.isfinite(self.margin_db) and self.margin_db >= 0):
            raise ValueError("margin_db must be finite and not negative")


@dataclass(frozen=True, slots=True)
class SpeakerChange(Generic[K]):
    """The dominant speaker changed at ``at`` (detector time); ``speaker`` None means nobody."""

    speaker: K | None
    at: float


@dataclass(frozen=True, slots=True)
class SpeakerLevel(Generic[K]):
    """A participant speaking now and their smoothed level in dBov."""

    participant: K
    level_dbov: float


class _Participant:
    __slots__ = ("last_active", "last_loud", "last_packet", "level")

    def __init__(self, level: float, now: float) -> None:
        self.level = level
        self.last_packet = now
        self.last_loud = -math.inf
        self.last_active = -math.inf


class ActiveSpeakerDetector(Generic[K]):
    """Picks the room's dominant speaker from per-packet audio levels; see the module docstring."""

    def __init__(self, config: ActiveSpeakerConfig | None = None) -> None:
        self.config = config or ActiveSpeakerConfig()
        self._alpha = 1.0 - math.exp(-self.config.packet_time / self.config.smoothing)
        self._participants: dict[K, _Participant] = {}
        self._clock = -math.inf
        self._speaker: K | None = None
        self._changed_at = -math.inf
        self._challenger: K | None = None
        self._challenging_since = -math.inf

    @property
    def speaker(self) -> K | None:
        return self._speaker

    def feed(
        self, participant: K, level_dbov: float, voice: bool, now: float
    ) -> SpeakerChange[K] | None:
        """One audio packet of ``participant``: the change of speaker it caused, or None."""
        config = self.config
        clock = self._clock = max(self._clock, now)
        state = self._participants.get(participant)
        if state is None:
            state = self._participants[participant] = _Participant(config.floor_dbov, now)
        else:
            state.last_packet = max(state.last_packet, now)
        if config.use_voice_flag and not voice:
            level_dbov = SILENCE_DBOV
        if level_dbov >= config.threshold_dbov:
            state.last_loud = max(state.last_loud, now)
        sample = min(max(level_dbov, config.floor_dbov), 0.0)
        state.level += self._alpha * (sample - state.level)
        if self._speaking(state, clock):
            state.last_active = clock

        change = self._decay(clock)
        if participant != self._speaker:
            change = self._challenge(participant, state, clock) or change
        return change

    def __len__(self) -> int:
        """The participants it follows (those that sent a level and were not removed)."""
        return len(self._participants)

    def tick(self, now: float) -> SpeakerChange[K] | None:
        """Advance time without a packet: clears a speaker gone silent or whose packets stopped."""
        self._clock = max(self._clock, now)
        return self._decay(self._clock)

    def remove(self, participant: K) -> SpeakerChange[K] | None:
        """Forget a participant who unpublished or left; SpeakerChange(None) if they held the floor.

        The hold does not restart: the room should not wait to show the next speaker because
        someone left.
        """
        self._participants.pop(participant, None)
        if self._challenger == participant:
            self._challenger = None
        if self._speaker != participant:
            return None
        self._speaker = None
        return SpeakerChange(None, self._clock)

    def speakers(self, now: float, limit: int | None = None) -> list[SpeakerLevel[K]]:
        """Everyone speaking at ``now``, loudest first, with their smoothed level in dBov."""
        clock = max(self._clock, now)
        speaking = [
            SpeakerLevel(participant, round(state.level, 1))
            for participant, state in self._participants.items()
            if self._speaking(state, clock)
        ]
        speaking.sort(key=lambda entry: entry.level_dbov, reverse=True)
        return speaking if limit is None else speaking[:limit]

    def _speaking(self, state: _Participant, clock: float) -> bool:
        config = self.config
        return (
            clock - state.last_packet <= config.stale_after
            and clock - state.last_loud <= config.window
            and state.level >= config.threshold_dbov
        )

    def _effective_level(self, participant: K | None, clock: float) -> float:
        """The level a challenger must beat: the speaker's, or the floor once their packets stop."""
        state = self._participants.get(participant) if participant is not None else None
        if state is None or clock - state.last_packet > self.config.stale_after:
            return self.config.floor_dbov
        return state.level

    def _leads(self, state: _Participant, clock: float) -> bool:
        if not self._speaking(state, clock):
            return False
        if self._speaker is None:
            return True
        return state.level >= self._effective_level(self._speaker, clock) + self.config.margin_db

    def _challenge(
        self, participant: K, state: _Participant, clock: float
    ) -> SpeakerChange[K] | None:
        config = self.config
        if not self._leads(state, clock):
            if self._challenger == participant:
                self._challenger = None  # the lead must be unbroken
            return None
        if self._challenger != participant:
            current = (
                self._participants.get(self._challenger) if self._challenger is not None else None
            )
            if (
                current is not None
                and self._leads(current, clock)
                and state.level < current.level + config.margin_db
            ):
                return None  # one challenger at a time, unless this one is clearly louder
            self._challenger = participant
            self._challenging_since = clock
        if (
            clock - self._challenging_since < config.switch_after
            or clock - self._changed_at < config.hold
        ):
            return None
        self._challenger = None
        return self._change(participant, clock)

    def _decay(self, clock: float) -> SpeakerChange[K] | None:
        if self._speaker is None or clock - self._changed_at < self.config.hold:
            return None
        state = self._participants[self._speaker]
        if clock - state.last_active < self.config.silence_after:
            return None
        return self._change(None, clock)

    def _change(self, speaker: K | None, clock: float) -> SpeakerChange[K]:
        self._speaker = speaker
        self._changed_at = clock
        return SpeakerChange(speaker, clock)
