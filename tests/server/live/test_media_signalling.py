"""The SFU's signalling on ``/live`` against real SFU worker processes and aiortc peers.

The host publishes the numbered test video and a tone; a student subscribes and decodes the
frames the worker forwards, reading the host's frame numbers back (they rise: the content is
the host's, in order). An attendee's offer is refused; a promotion lets them publish, a
demotion stops them. A publisher leaving takes their tracks out of the room and the
subscribers get an offer without them. A killed worker sends everyone ``media:restart`` and
the restarted transports carry video again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import Any

import pytest

from lms_core.accounts.models import Role
from server.sfu.plane import MEDIA_PLANE
from server.state import SFU_WORKERS
from tests.server.live.harness import Sock, World
from tests.server.live.media_peer import (
    Publisher,
    Subscriber,
    data_of,
    eventually,
    media_call,
    problem_code,
)

pytestmark = pytest.mark.timeout(180)


async def media_world(world: World, workers: int = 2) -> None:
    """The fixture's node replaced by one running ``workers`` SFU worker processes."""
    await world.servers.pop(0).close()
    await world.start_server(sfu_workers=workers)


async def classroom(world: World, *students: str) -> tuple[Sock, list[Sock], str]:
    host = await world.person("host", Role.INSTRUCTOR)
    people = [await world.person(s) for s in students]
    live_id = await world.live_session(host, *students)
    host_sock = await world.join(host, live_id)
    socks = [await world.join(p, live_id) for p in people]
    for sock in (host_sock, *socks):
        data_of(await sock.call("join"))
    return host_sock, socks, live_id


def tracks_of(sock: Sock) -> list[dict[str, Any]]:
    """The latest ``media:tracks`` broadcast's tracks (the highest version)."""
    seen = sock.of("media:tracks")
    return max(seen, key=lambda d: d["version"])["tracks"] if seen else []


async def test_a_student_decodes_the_hosts_camera_and_hears_the_microphone(world: World) -> None:
    await media_world(world)
    host_sock, (pupil_sock,), _ = await classroom(world, "pupil")
    publisher = Publisher(host_sock)
    subscriber = Subscriber(pupil_sock)
    try:
        published = await publisher.publish()
        kinds = sorted(t["kind"] for t in published["tracks"])
        assert kinds == ["camera", "microphone"]
        await eventually(lambda: len(tracks_of(pupil_sock)) == 2)
        listed = data_of(await media_call(pupil_sock, "media:tracks"))
        assert sorted(t["track_id"] for t in listed["tracks"]) == sorted(
            t["track_id"] for t in published["tracks"]
        )
        assert {t["user_id"] for t in listed["tracks"]} == {world.ids["host"]}

        offer = await subscriber.subscribe([t["track_id"] for t in listed["tracks"]])
        assert sorted(t["track_id"] for t in offer["tracks"]) == sorted(
            t["track_id"] for t in listed["tracks"]
        )
        await subscriber.frames_after(30)
        await eventually(lambda: subscriber.audio_frames >= 25)
        numbers = subscriber.numbers
        assert numbers == sorted(numbers), "frames out of order"
        assert numbers[-1] - numbers[0] >= 29  # the host's own frame numbers, rising
        assert numbers[-1] < publisher.video.count  # nothing the host has not sent

        # The tone is loud: the host is the active speaker, announced to the room.
        microphone = next(t for t in published["tracks"] if t["kind"] == "microphone")
        speaker = (await _wait(pupil_sock, "media:speaker"))[0]
        assert speaker == {"user_id": world.ids["host"], "track_id": microphone["track_id"]}
        data_of(await media_call(host_sock, "media:unpublish"))
        await eventually(lambda: pupil_sock.of("media:speaker")[-1]["track_id"] is None)
    finally:
        await subscriber.close()
        await publisher.close()


async def test_an_attendee_may_not_publish_until_promoted(world: World) -> None:
    await media_world(world, workers=1)
    host_sock, (pupil_sock,), _ = await classroom(world, "pupil")
    pupil = Publisher(pupil_sock)
    try:
        refused = await media_call(pupil_sock, "media:publish", await pupil.offer())
        assert problem_code(refused) == "publish_forbidden"
        assert refused["problem"]["status"] == 403
        assert data_of(await media_call(host_sock, "media:tracks"))["tracks"] == []

        data_of(
            await host_sock.call(
                "participant:role", {"user_id": world.ids["pupil"], "role": "presenter"}
            )
        )
        published = await pupil.publish(restart=True)
        assert len(published["tracks"]) == 2
        await eventually(lambda: len(tracks_of(host_sock)) == 2)

        data_of(
            await host_sock.call(
                "participant:role", {"user_id": world.ids["pupil"], "role": "attendee"}
            )
        )
        notice = (await pupil_sock.wait("media:unpublished"))[0]
        assert notice["reason"] == "demoted"
        assert sorted(notice["track_ids"]) == sorted(t["track_id"] for t in published["tracks"])
        await eventually(lambda: tracks_of(host_sock) == [])
        again = await media_call(pupil_sock, "media:publish", await pupil.offer())
        assert problem_code(again) == "publish_forbidden"
    finally:
        await pupil.close()


async def test_bad_media_events_get_problems(world: World) -> None:
    await media_world(world, workers=1)
    host_sock, (pupil_sock,), _ = await classroom(world, "pupil")
    publisher = Publisher(host_sock)
    try:
        garbage = await media_call(
            host_sock, "media:publish", {"sdp": "v=0 nonsense", "tracks": []}
        )
        assert problem_code(garbage) == "sdp_invalid"
        huge = await media_call(
            host_sock, "media:publish", {"sdp": "x" * (65 * 1024), "tracks": []}
        )
        assert problem_code(huge) == "payload_too_large"
        offer = await publisher.offer()
        unlisted = await media_call(host_sock, "media:publish", {**offer, "tracks": []})
        assert problem_code(unlisted) == "sdp_invalid"
        twice = [{"mid": offer["tracks"][0]["mid"], "kind": "camera"}] * 2
        assert problem_code(
            await media_call(host_sock, "media:publish", {**offer, "tracks": twice})
        ) in ("sdp_invalid", "invalid_payload")
        published = data_of(await media_call(host_sock, "media:publish", offer))
        camera = next(t for t in published["tracks"] if t["kind"] == "camera")

        unknown = "00000000-0000-4000-8000-000000000000"
        assert (
            problem_code(await media_call(pupil_sock, "media:subscribe", {"track_ids": [unknown]}))
            == "track_not_found"
        )
        own = await media_call(host_sock, "media:subscribe", {"track_ids": [camera["track_id"]]})
        assert problem_code(own) == "track_not_found"
        assert (
            problem_code(
                await media_call(
                    pupil_sock, "media:candidate", {"transport_id": unknown, "candidate": None}
                )
            )
            == "transport_not_found"
        )
        # The host's publish transport is not the student's to add candidates to.
        foreign = {"transport_id": published["transport_id"], "candidate": None}
        assert problem_code(await media_call(pupil_sock, "media:candidate", foreign)) == (
            "transport_not_found"
        )
        assert (
            problem_code(
                await media_call(pupil_sock, "media:unsubscribe", {"track_ids": [unknown]})
            )
            == "transport_not_found"
        )
        assert (
            problem_code(
                await media_call(pupil_sock, "media:mute", {"kind": "camera", "muted": True})
            )
            == "track_not_found"
        )
        assert (
            problem_code(await media_call(pupil_sock, "media:subscribe", {"track_ids": []}))
            == "invalid_payload"
        )

        offered = data_of(
            await media_call(pupil_sock, "media:subscribe", {"track_ids": [camera["track_id"]]})
        )
        busy = await media_call(pupil_sock, "media:subscribe", {"track_ids": [camera["track_id"]]})
        assert problem_code(busy) == "negotiation_in_progress"
        stale = {
            "transport_id": offered["transport_id"],
            "revision": offered["revision"] + 1,
            "sdp": "v=0",
        }
        assert problem_code(await media_call(pupil_sock, "media:answer", stale)) == (
            "offer_superseded"
        )
        sending = {**stale, "revision": offered["revision"], "sdp": offer["sdp"]}
        assert problem_code(await media_call(pupil_sock, "media:answer", sending)) == "sdp_invalid"

        muted = data_of(
            await media_call(host_sock, "media:mute", {"kind": "camera", "muted": True})
        )
        assert muted["muted"] is True
        await eventually(
            lambda: any(t["muted"] for t in tracks_of(pupil_sock) if t["kind"] == "camera")
        )
    finally:
        await publisher.close()


async def test_without_workers_media_is_unavailable(world: World) -> None:
    host_sock, _, _ = await classroom(world)
    publisher = Publisher(host_sock)
    try:
        refused = await media_call(host_sock, "media:publish", await publisher.offer())
        assert problem_code(refused) == "media_unavailable"
        assert refused["problem"]["status"] == 503
        assert refused["problem"]["retry_after"] >= 1
    finally:
        await publisher.close()


async def test_a_publisher_leaving_ends_the_subscription(world: World) -> None:
    await media_world(world, workers=1)
    host_sock, (pupil_sock,), _ = await classroom(world, "pupil")
    publisher = Publisher(host_sock)
    subscriber = Subscriber(pupil_sock)
    try:
        published = await publisher.publish(audio=False)
        await subscriber.subscribe([t["track_id"] for t in published["tracks"]])
        await subscriber.frames_after(10)
        await host_sock.close()
        await eventually(lambda: tracks_of(pupil_sock) == [])
        offer = (await pupil_sock.wait("media:offer"))[0]
        assert offer["tracks"] == []  # the camera's m-line is inactive now
        await subscriber.apply(offer)
        assert "a=inactive" in subscriber.pc.remoteDescription.sdp
    finally:
        await subscriber.close()
        await publisher.close()


async def test_a_killed_worker_is_replaced_and_video_resumes(world: World) -> None:
    await media_world(world, workers=2)
    host_sock, (pupil_sock,), live_id = await classroom(world, "pupil")
    publisher = Publisher(host_sock)
    subscriber = Subscriber(pupil_sock)
    try:
        published = await publisher.publish(audio=False)
        await subscriber.subscribe([t["track_id"] for t in published["tracks"]])
        await subscriber.frames_after(10)

        app = world.servers[0].app
        assert app is not None
        home = app[MEDIA_PLANE].room(uuid.UUID(live_id)).home
        assert home is not None
        carrying = app[SFU_WORKERS].worker(home[0])
        assert carrying is not None
        os.kill(carrying.pid, signal.SIGKILL)

        restart = (await _wait(host_sock, "media:restart"))[0]
        assert restart == {
            "transport_id": publisher.transport_id,
            "direction": "publish",
            "reason": "worker_lost",
        }
        assert (await _wait(pupil_sock, "media:restart"))[0]["direction"] == "subscribe"
        await eventually(lambda: tracks_of(pupil_sock) == [])

        again = await publisher.publish(audio=False, restart=True)
        assert [t["track_id"] for t in again["tracks"]] == [
            t["track_id"] for t in published["tracks"]
        ]  # the same track ids after the restart
        await eventually(lambda: len(tracks_of(pupil_sock)) == 1)
        before = len(subscriber.numbers)
        await subscriber.subscribe([t["track_id"] for t in again["tracks"]], restart=True)
        await eventually(lambda: len(subscriber.numbers) >= before + 10)
    finally:
        await subscriber.close()
        await publisher.close()


async def _wait(sock: Sock, event: str) -> list[Any]:
    await eventually(lambda: bool(sock.of(event)), within=30)
    return sock.of(event)


async def test_a_second_tab_takes_over_publishing(world: World) -> None:
    await media_world(world, workers=1)
    host = await world.person("host", Role.INSTRUCTOR)
    live_id = await world.live_session(host)
    first_sock = await world.join(host, live_id)
    second_sock = await world.join(host, live_id)
    first, second = Publisher(first_sock), Publisher(second_sock)
    try:
        one = await first.publish(audio=False)
        two = await second.publish(audio=False)
        notice = (await _wait(first_sock, "media:unpublished"))[0]
        assert notice == {"track_ids": [one["tracks"][0]["track_id"]], "reason": "replaced"}
        assert two["tracks"][0]["track_id"] == one["tracks"][0]["track_id"]
        listed = data_of(await media_call(second_sock, "media:tracks"))["tracks"]
        assert len(listed) == 1
        await asyncio.sleep(0)
    finally:
        await first.close()
        await second.close()


async def test_an_audience_beyond_a_workers_capacity_is_fed_by_a_pipe(world: World) -> None:
    await world.servers.pop(0).close()
    await world.start_server(sfu_workers=2, sfu_worker_capacity=2)
    host_sock, (near_sock, far_sock), live_id = await classroom(world, "near", "far")
    publisher = Publisher(host_sock)
    near, far = Subscriber(near_sock), Subscriber(far_sock)
    try:
        published = await publisher.publish()
        ids = [t["track_id"] for t in published["tracks"]]
        await near.subscribe(ids)  # the home worker: the host's transport and this one
        await far.subscribe(ids)  # the home is full: the other worker, fed by a pipe
        await far.frames_after(30)
        await eventually(lambda: far.audio_frames >= 25)
        numbers = far.numbers
        assert numbers == sorted(numbers)
        assert numbers[-1] - numbers[0] >= 29

        app = world.servers[0].app
        assert app is not None
        plane = app[MEDIA_PLANE]
        home = plane.room(uuid.UUID(live_id)).home
        far_transport = plane.socket(
            far_sock.client.get_sid("/live"), uuid.UUID(live_id), uuid.UUID(world.ids["far"])
        ).subscribe
        assert far_transport is not None
        assert home is not None
        assert (far_transport.worker_id, far_transport.generation) != home
        assert plane.pipes.pipe_count() == 1

        # The host stops: the piped copy ends too, and the far subscriber is offered it inactive.
        data_of(await media_call(host_sock, "media:unpublish"))
        offer = (await _wait(far_sock, "media:offer"))[0]
        assert offer["tracks"] == []
        await far.apply(offer)
        assert far.pc.remoteDescription.sdp.count("a=inactive") == 2
    finally:
        await near.close()
        await far.close()
        await publisher.close()


async def test_an_unanswered_offer_closes_the_transport_and_candidates_trickle(
    world: World,
) -> None:
    await media_world(world, workers=1)
    host_sock, (pupil_sock,), _ = await classroom(world, "pupil")
    publisher = Publisher(host_sock)
    try:
        published = await publisher.publish(audio=False)
        # A browser trickles its candidates: one from the offer, then the end of candidates.
        line = next(
            ln
            for ln in publisher.pc.localDescription.sdp.splitlines()
            if ln.startswith("a=candidate:")
        )
        mid = publisher.offer_tracks()[0]["mid"]
        trickled = {"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": 0}
        for candidate in (trickled, None):
            ack = await media_call(
                host_sock,
                "media:candidate",
                {"transport_id": published["transport_id"], "candidate": candidate},
            )
            assert data_of(ack) == {"transport_id": published["transport_id"]}
        bad = {**trickled, "candidate": "candidate:not a candidate"}
        ack = await media_call(
            host_sock,
            "media:candidate",
            {"transport_id": published["transport_id"], "candidate": bad},
        )
        assert problem_code(ack) == "sdp_invalid"

        offer = data_of(
            await media_call(
                pupil_sock, "media:subscribe", {"track_ids": [published["tracks"][0]["track_id"]]}
            )
        )
        restart = (await _wait(pupil_sock, "media:restart"))[0]  # after 10 s unanswered
        assert restart == {
            "transport_id": offer["transport_id"],
            "direction": "subscribe",
            "reason": "offer_timeout",
        }
        late = {"transport_id": offer["transport_id"], "revision": offer["revision"], "sdp": "v=0"}
        assert problem_code(await media_call(pupil_sock, "media:answer", late)) == (
            "transport_not_found"
        )
    finally:
        await publisher.close()
