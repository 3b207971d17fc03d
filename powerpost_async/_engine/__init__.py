"""The waiting engine: who looks at an awaited job, when, and who learns the answer.

One `Engine` per kind of job and workspace (``_engine.py``) holds every wait of a client;
its `Registry` (``_registry.py``, no I/O) keeps one watch per awaited id; a poller per id
(``_poller.py``) or the sweeper (``_sweeper.py``) looks, when the id's `Pace` says
(``_pacing.py``); job kinds (``_kinds.py``) say how to read each kind; the sources
(``_source.py``) read through the client's one request path; the fleet member
(``_member.py``) reacts to what the coordinator tells the client.
"""
