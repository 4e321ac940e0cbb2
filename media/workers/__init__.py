"""SFU worker processes: the media plane's processes and the channel that drives them.

* :mod:`media.workers.protocol`: the versioned control protocol (typed messages, NDJSON frames).
* :mod:`media.workers.server`: the worker's side of the channel (``WorkerServer``).
* :mod:`media.workers.client`: the control plane's side (``WorkerClient``).
* :mod:`media.workers.worker`: one worker process's life (``run_worker``); run it with
  ``python -m media.workers`` (as ``seminar serve`` does) or ``seminar sfu-worker``.
* :mod:`media.workers.supervisor`: starting, watching and restarting local workers
  (``WorkerSupervisor``, ``pick_worker``).

Nothing is imported here: ``python -m media.workers`` must stay a light process.
"""
