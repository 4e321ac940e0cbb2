from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap
from hypothesis import given, settings
from hypothesis import strategies as st

from media.sfu.active_speaker import (
    AUDIO_LEVEL_URI,
    ActiveSpeakerConfig,
    ActiveSpeakerDetector,
    AudioLevel,
    SpeakerChange,
    audio_level,
    audio_level_from_byte,
)

PACKET = 0.020
SILENT = -127
SPEECH = -30
CONFIG = ActiveSpeakerConfig()

# A script says, for each participant, the level of their packet at time t (None: no packet).
Script = dict[str, Callable[[float], float | None]]


def run(
    detector: ActiveSpeakerDetector[str], script: Script, start: float, end: float
) -> list[SpeakerChange[str]]:
    """Every participant sends one 20 ms packet per tick from start to end; the changes seen."""
    changes: list[SpeakerChange[str]] = []
    tick = 0
    while (now := start + tick * PACKET) < end:
        for participant, level_at in script.items():
            level = level_at(now)
            if level is not None:
                change = detector.feed(participant, level, True, now)
                if change is not None:
                    changes.append(change)
        tick += 1
    return changes


def between(
    start: float, end: float, level: float, otherwise: float | None = SILENT
) -> Callable[[float], float | None]:
    """A script entry: `level` inside [start, end), `otherwise` outside."""

    def level_at(t: float) -> float | None:
        return level if start <= t < end else otherwise

    return level_at


def speakers(changes: Iterable[SpeakerChange[str]]) -> list[str | None]:
    return [change.speaker for change in changes]


# --- parsing -----------------------------------------------------------------------------


def aiortc_round_trip(value: tuple[bool, int]) -> HeaderExtensions:
    """Through aiortc's own serialiser and parser, as the SFU's receiver sees it."""
    extensions_map = HeaderExtensionsMap()
    extensions_map.configure(
        RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(2, AUDIO_LEVEL_URI)])
    )
    profile, data = extensions_map.set(HeaderExtensions(audio_level=value))
    return extensions_map.get(profile, data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((True, 0), AudioLevel(True, 0)),  # the loudest, voice
        ((False, 0), AudioLevel(False, 0)),
        ((True, 127), AudioLevel(True, -127)),  # silence, whatever V says
        ((False, 127), AudioLevel(False, -127)),
        ((True, 42), AudioLevel(True, -42)),
    ],
)
def test_audio_level_from_aiortc_extensions(value: tuple[bool, int], expected: AudioLevel) -> None:
    assert audio_level(aiortc_round_trip(value)) == expected


def test_no_extension_gives_no_level() -> None:
    assert audio_level(HeaderExtensions()) is None
    assert audio_level(aiortc_round_trip_without_negotiation()) is None
    assert audio_level(object()) is None


def aiortc_round_trip_without_negotiation() -> HeaderExtensions:
    # The URI not negotiated: aiortc neither writes nor reads the extension.
    extensions_map = HeaderExtensionsMap()
    extensions_map.configure(RTCRtpParameters(headerExtensions=[]))
    profile, data = extensions_map.set(HeaderExtensions(audio_level=(True, 10)))
    return extensions_map.get(profile, data)


@pytest.mark.parametrize(
    "value", [(True, 128), (True, -1), (1, 10), (True, True), (True, 1.5), (True,), "x", 10]
)
def test_malformed_extension_values_are_ignored(value: object) -> None:
    assert audio_level(HeaderExtensions(audio_level=value)) is None


def test_audio_level_from_the_raw_byte() -> None:
    assert audio_level_from_byte(0x00) == AudioLevel(False, 0)
    assert audio_level_from_byte(0x7F) == AudioLevel(False, -127)
    assert audio_level_from_byte(0x80) == AudioLevel(True, 0)
    assert audio_level_from_byte(0xFF) == AudioLevel(True, -127)
    assert audio_level_from_byte(0x80 | 30) == AudioLevel(True, -30)
    with pytest.raises(ValueError, match="not a byte"):
        audio_level_from_byte(0x100)


# --- the detector ----------------------------------------------------------------------------


def test_a_single_speaker_is_detected_once() -> None:
    detector = ActiveSpeakerDetector[str]()
    changes = run(detector, {"a": between(0, 5, SPEECH), "b": between(0, 0, SPEECH)}, 0, 5)
    assert speakers(changes) == ["a"]
    # About 0.2 s to rise over the threshold from the floor, then switch_after of leading.
    assert CONFIG.switch_after <= changes[0].at <= 1.0
    assert detector.speaker == "a"


def test_silence_clears_the_speaker_after_the_decay() -> None:
    detector = ActiveSpeakerDetector[str]()
    changes = run(detector, {"a": between(0, 3, SPEECH)}, 0, 8)
    assert speakers(changes) == ["a", None]
    assert 3 + CONFIG.silence_after <= changes[1].at <= 3 + CONFIG.silence_after + 0.5
    assert detector.speakers(8) == []


def test_a_speaker_whose_packets_stop_is_cleared_by_tick() -> None:
    detector = ActiveSpeakerDetector[str]()
    run(detector, {"a": between(0, 3, SPEECH, otherwise=None)}, 0, 3)
    assert detector.speaker == "a"
    assert detector.tick(4.0) is None  # a pause, not yet silence
    change = detector.tick(3 + CONFIG.silence_after + 0.1)
    assert change is not None
    assert change.speaker is None
    assert detector.tick(20) is None  # changes only


def test_a_pause_between_sentences_keeps_the_floor() -> None:
    detector = ActiveSpeakerDetector[str]()

    def with_pause(t: float) -> float:
        return SILENT if 3 <= t < 4.2 else SPEECH

    assert speakers(run(detector, {"a": with_pause}, 0, 8)) == ["a"]


def test_two_people_taking_turns_switch_past_the_hysteresis() -> None:
    detector = ActiveSpeakerDetector[str]()
    script: Script = {
        "a": lambda t: SPEECH if t < 4 or 8 <= t < 12 else SILENT,
        "b": between(4, 8, SPEECH),
    }
    changes = run(detector, script, 0, 12)
    assert speakers(changes) == ["a", "b", "a"]
    for turn, change in zip((0, 4, 8), changes, strict=True):
        assert turn + CONFIG.switch_after <= change.at <= turn + 1.2
    assert all(b.at - a.at >= CONFIG.hold for a, b in itertools.pairwise(changes))


def test_a_cough_does_not_steal_the_floor() -> None:
    detector = ActiveSpeakerDetector[str]()
    # b coughs loudly while a talks, and again while a pauses between sentences.
    script: Script = {
        "a": lambda t: SILENT if 4 <= t < 5 else SPEECH,
        "b": lambda t: -10 if 2 <= t < 2.3 or 4.2 <= t < 4.5 else SILENT,
    }
    assert speakers(run(detector, script, 0, 8)) == ["a"]


def test_a_short_interjection_does_not_steal_the_floor() -> None:
    detector = ActiveSpeakerDetector[str]()
    script: Script = {"a": between(0, 8, SPEECH), "b": between(3, 3.5, -15)}  # "yes, exactly"
    assert speakers(run(detector, script, 0, 8)) == ["a"]


def test_a_cough_in_a_silent_room_is_not_a_speaker() -> None:
    detector = ActiveSpeakerDetector[str]()
    assert run(detector, {"a": between(1, 1.3, -10)}, 0, 5) == []


def test_talking_over_keeps_the_speaker_until_the_other_is_clearly_louder_for_long() -> None:
    detector = ActiveSpeakerDetector[str]()
    script: Script = {
        "a": between(0, 12, SPEECH),
        # b talks over a at about the same level, then briefly louder, then clearly louder.
        "b": lambda t: -32 if 3 <= t < 6 else -18 if 6 <= t < 6.4 or t >= 8 else SILENT,
    }
    changes = run(detector, script, 0, 12)
    assert speakers(changes) == ["a", "b"]
    # From b's floor past a's -30 + 6 dB takes about 0.65 s, then b leads for switch_after.
    assert 8 + CONFIG.switch_after <= changes[1].at <= 9.5


def test_a_removed_speaker_is_cleared_at_once_and_the_next_one_need_not_wait_for_the_hold() -> None:
    detector = ActiveSpeakerDetector[str]()
    changes = run(detector, {"a": between(0, 3, SPEECH), "b": between(0, 3, -35)}, 0, 3)
    assert speakers(changes) == ["a"]
    assert detector.remove("a") == SpeakerChange(None, 3 - PACKET)
    assert detector.speaker is None
    assert [entry.participant for entry in detector.speakers(3)] == ["b"]
    assert detector.remove("a") is None  # unknown now
    changes = run(detector, {"b": between(3, 5, -35)}, 3, 5)
    assert speakers(changes) == ["b"]
    assert changes[0].at < 3 + CONFIG.hold  # the hold does not restart on removal


def test_removing_a_challenger_or_listener_changes_nothing() -> None:
    detector = ActiveSpeakerDetector[str]()
    run(detector, {"a": between(0, 3, SPEECH), "b": between(2.5, 3, -10)}, 0, 3)
    assert detector.remove("b") is None
    assert detector.remove("nobody") is None
    assert detector.speaker == "a"


def test_speakers_are_listed_loudest_first_above_the_threshold() -> None:
    detector = ActiveSpeakerDetector[str]()
    script: Script = {
        "quiet": between(0, 2, -40),
        "loud": between(0, 2, -20),
        "noise": between(0, 2, -60),
        "gone": between(0, 1, SPEECH, otherwise=None),
    }
    run(detector, script, 0, 2)
    listed = detector.speakers(2)
    assert [entry.participant for entry in listed] == ["loud", "quiet"]
    assert listed[0].level_dbov == pytest.approx(-20, abs=0.5)
    assert [entry.participant for entry in detector.speakers(2, limit=1)] == ["loud"]


def test_the_voice_flag_is_ignored_unless_configured() -> None:
    plain = ActiveSpeakerDetector[str]()
    strict = ActiveSpeakerDetector[str](ActiveSpeakerConfig(use_voice_flag=True))
    for detector in (plain, strict):
        for tick in range(100):
            detector.feed("a", SPEECH, False, tick * PACKET)  # as an aiortc publisher sends
    assert plain.speaker == "a"
    assert strict.speaker is None


def test_packets_out_of_time_order_keep_the_timers_monotonic() -> None:
    detector = ActiveSpeakerDetector[str]()
    changes = run(detector, {"a": between(0, 3, SPEECH)}, 0, 3)
    assert speakers(changes) == ["a"]
    # A packet stamped long ago is late, not time travel: it cannot restart the hold or make b
    # a speaker "in the past".
    for tick in range(60):
        assert detector.feed("b", -10, True, 0.5 + tick * PACKET) is None
    assert detector.speaker == "a"


def test_locally_reordered_packets_give_the_same_decisions() -> None:
    in_order = ActiveSpeakerDetector[str]()
    reordered = ActiveSpeakerDetector[str]()
    packets: list[tuple[str, float, float]] = []
    for tick in range(500):
        now = tick * PACKET
        packets.append(("a", SPEECH if now < 4 else SILENT, now))
        packets.append(("b", SPEECH if now >= 4 else SILENT, now))
    swapped = list(packets)
    for i in range(0, len(swapped) - 3, 4):  # each pair of ticks arrives swapped
        swapped[i : i + 4] = swapped[i + 2 : i + 4] + swapped[i : i + 2]

    def decide(
        detector: ActiveSpeakerDetector[str], order: list[tuple[str, float, float]]
    ) -> list[SpeakerChange[str]]:
        return [
            change
            for participant, level, now in order
            if (change := detector.feed(participant, level, True, now)) is not None
        ]

    expected = decide(in_order, packets)
    got = decide(reordered, swapped)
    assert speakers(got) == speakers(expected) == ["a", "b"]
    for a, b in zip(got, expected, strict=True):
        assert abs(a.at - b.at) <= 2 * PACKET


@pytest.mark.parametrize(
    "overrides",
    [
        {"threshold_dbov": 1.0},
        {"floor_dbov": -50.0, "threshold_dbov": -50.0},
        {"floor_dbov": -128.0},
        {"hold": 0.0},
        {"smoothing": float("inf")},
        {"margin_db": -1.0},
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        ActiveSpeakerConfig(**overrides)  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    """`count` packets of one participant at one level, `gap` seconds apart (jitter: negative)."""

    participant: str
    level: int
    voice: bool
    count: int
    gap: float


@dataclass(frozen=True)
class Remove:
    participant: str


@dataclass(frozen=True)
class Tick:
    after: float


PARTICIPANTS = ("a", "b", "c")
events = st.lists(
    st.one_of(
        st.builds(
            Burst,
            st.sampled_from(PARTICIPANTS),
            st.one_of(st.integers(-127, 0), st.sampled_from([-127, -60, -45, -30, -10])),
            st.booleans(),
            st.integers(1, 80),
            st.sampled_from([0.0, 0.005, 0.02, 0.02, 0.02, 0.1, -0.03]),
        ),
        st.builds(Remove, st.sampled_from(PARTICIPANTS)),
        st.builds(Tick, st.floats(0, 3)),
    ),
    max_size=60,
)


# Short and long timings too, so each guard is tested alone (with the defaults a decay can never
# come within the hold anyway: silence_after > hold).
configs = st.builds(
    ActiveSpeakerConfig,
    use_voice_flag=st.booleans(),
    switch_after=st.sampled_from([0.05, 0.6]),
    hold=st.sampled_from([0.3, 1.5, 3.0]),
    silence_after=st.sampled_from([0.2, 2.0]),
)


@settings(max_examples=300, deadline=None)
@given(events, configs)
def test_changes_name_recent_loud_participants_and_never_flap(
    script: list[Burst | Remove | Tick], config: ActiveSpeakerConfig
) -> None:
    use_voice_flag = config.use_voice_flag
    detector = ActiveSpeakerDetector[str](config)
    now = 0.0
    loud_at: dict[str, list[float]] = {}
    present: set[str] = set()
    last_change: SpeakerChange[str] | None = None

    def check(change: SpeakerChange[str] | None) -> None:
        nonlocal last_change
        if change is None:
            return
        if change.speaker is not None:
            assert change.speaker in present
            # It sent a packet at or above the threshold within the window.
            assert any(change.at - config.window <= t for t in loud_at[change.speaker])
        if last_change is not None:
            assert change.at - last_change.at >= config.hold  # no flapping
        last_change = change

    for event in script:
        if isinstance(event, Burst):
            present.add(event.participant)
            for _ in range(event.count):
                now += event.gap
                if event.level >= config.threshold_dbov and (event.voice or not use_voice_flag):
                    loud_at.setdefault(event.participant, []).append(now)
                check(detector.feed(event.participant, event.level, event.voice, now))
        elif isinstance(event, Remove):
            present.discard(event.participant)
            loud_at.pop(event.participant, None)
            change = detector.remove(event.participant)
            # Removal clears at once (exempt from the hold) and only the speaker's removal shows.
            assert change is None or change.speaker is None
            assert detector.speaker != event.participant
        else:
            now += event.after
            check(detector.tick(now))
        assert detector.speaker is None or detector.speaker in present
        listed = [entry.level_dbov for entry in detector.speakers(now)]
        assert listed == sorted(listed, reverse=True)
        assert all(level >= config.threshold_dbov for level in listed)
