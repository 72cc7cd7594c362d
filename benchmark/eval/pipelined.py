"""Pipelined evaluation of a run's dataset shards: the model's calls run back to back on the calling
thread while worker threads load the next shard and decode rows and place prompts ahead of it, and
compute metrics, RLE and the result table behind it. The stream does not stop at shard boundaries:
the next shard's first images are ready when the model finishes the last image of the one before,
whose results are published behind the model (one publication at a time, in shard order, each
started by the model thread, so files appear in the plain loop's order and an interrupt stops them
as it stops the plain loop).

Results equal the sequential evaluator's (``evaluate.py``) byte for byte: the same stage functions
(``stages.py``) run on the same inputs, the model sees the same prompts, and rows, skipped images and
errors are assembled in dataset order. Only the order of ``predict`` calls changes in the interactive
protocols, where the rounds of an image's instances are interleaved so that one instance's next click
is computed while the model answers another's; ``predict`` has no state between calls (the contract),
so its answers do not depend on that order. ``click_batch`` > 1 sends that many instances' clicks in
one ``predict`` call: fewer, larger calls (the GPU's way), equal to one call per instance for models
whose batch equals their loop (the weight-free ones) and within float rounding for neural models."""
from __future__ import annotations

import os
import sys
from collections import deque
from itertools import islice
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pyarrow as pa

from baselines import validate_prediction
from baselines.contract import Prediction, PromptableSegmenter, Prompts

from .clicker import ClickSession
from .protocols import ProtocolSpec
from .records import RESULT_SCHEMA
from .stages import Decoded, base_rows, click_rows, decode_row, groups, image_error, oneshot_prompts, oneshot_rows

SWITCH_INTERVAL = 0.0005  # s; the interpreter's default 5 ms would let a worker keep the model waiting


def default_workers() -> int:
    """One worker thread per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class _Prepared:
    """A decoded row with its result-row context and its first prompts; ``error`` is a prompt-stage
    failure, raised where the sequential evaluator raises it (after ``set_image``)."""

    d: Decoded
    where: str  # the dataset file, for messages
    base: list = field(default_factory=list)
    prompts: Optional[Prompts] = None
    sessions: list = field(default_factory=list)
    first: list = field(default_factory=list)  # per click unit: (active session indices, prompts) or None
    error: Optional[Exception] = None


def _prepare(r: dict, spec: ProtocolSpec, ctx: dict, where: str, click_batch: int) -> _Prepared:
    p = _Prepared(decode_row(r, where), where)
    if not p.d.objects:
        return p
    p.base = base_rows(p.d, spec, ctx)
    try:
        if spec.clicks:
            at = f"{where} image {r['image_id']}"
            p.sessions = [ClickSession(gt, max_clicks=spec.clicks, oracle=spec.oracle, stop_iou=spec.stop_iou,
                                       where=f"{at} object {b['object_id']}", first=spec.first)
                          for b, gt in zip(p.base, p.d.gts)]
            units = [list(range(i, min(i + click_batch, len(p.sessions)))) for i in range(0, len(p.sessions), click_batch)]
            p.first = [_next(p.sessions, u) for u in units]
        else:
            p.prompts = oneshot_prompts(p.d, spec)
    except Exception as e:  # noqa: BLE001 - re-raised in order by the model loop
        p.error = e
    return p


def _next(sessions: list, active: list[int]) -> Optional[tuple[list[int], Prompts]]:
    """The next prompts of a unit's unfinished sessions, stacked into one batch (None when all are done).
    A unit's sessions advance together, so they are in the same round and their prompts have the same
    fields and number of clicks (a box-first round 1 has the box alone)."""
    nxt = [(i, q) for i in active if (q := sessions[i].next_prompts()) is not None]
    if not nxt:
        return None
    if len(nxt) == 1:
        return [nxt[0][0]], nxt[0][1]
    qs = [q for _, q in nxt]
    return [i for i, _ in nxt], Prompts(*(None if getattr(qs[0], f) is None else np.concatenate([getattr(q, f) for q in qs])
                                          for f in ("boxes", "points", "point_labels", "mask_inputs")))


def _advance(sessions: list, active: list[int], pred: Prediction):
    for j, i in enumerate(active):
        sessions[i].take(pred, j)
    return _next(sessions, active)


def _done(value) -> Future:
    f = Future()
    f.set_result(value)
    return f


def _run_image(model: PromptableSegmenter, p: _Prepared, pool: ThreadPoolExecutor, spec: ProtocolSpec,
               multimask: bool, where: str, batch_size: int, selected: Optional[int]) -> Future:
    """The model's calls for one image, on this thread; the rows come from the returned future."""
    d = p.d
    h, w = d.image.shape[:2]
    if selected is None:
        model.set_image(d.image)
    else:
        model.select_image(selected)
    if p.error is not None:
        raise p.error
    at = f"{where} image {d.row['image_id']}"
    if not spec.clicks:
        chunks = []
        for start in range(0, len(d.gts), batch_size):
            idx = slice(start, start + batch_size)
            pred = model.predict(p.prompts.select(idx), multimask=multimask)
            validate_prediction(pred, len(d.gts[idx]), h, w, where=at)
            chunks.append((idx, pred))
        return pool.submit(oneshot_rows, p.base, d.gts, chunks)
    queue = deque(_done(f) for f in p.first)
    while queue:
        nxt = queue.popleft().result()
        if nxt is None:
            continue
        active, prompts = nxt
        pred = model.predict(prompts, multimask=multimask)
        s = p.sessions[active[0]]
        who = s.where if len(active) == 1 else f"{at} objects {[p.base[i]['object_id'] for i in active]}"
        validate_prediction(pred, len(active), h, w, where=f"{who} round {s.round}")
        queue.append(pool.submit(_advance, p.sessions, active, pred))
    return _done([row for b, s in zip(p.base, p.sessions) for row in click_rows(b, s.results)])


def _ahead(pool: ThreadPoolExecutor, items, depth: int, spec: ProtocolSpec, click_batch: int):
    """The shards' items in order, ``depth`` of them submitted ahead of the one handed out: a row is
    prepared on a worker, a shard's start (its row count, or its load failure) passes through."""
    items = iter(items)

    def submit(item) -> Future:
        kind, payload = item
        if kind != "row":
            return _done(item)
        r, ctx, where = payload
        return pool.submit(_prepare, r, spec, ctx, where, click_batch)

    pending = deque(submit(x) for x in islice(items, depth))
    while pending:
        f = pending.popleft()
        pending.extend(submit(x) for x in islice(items, 1))
        yield f.result()


def _shard_items(pool: ThreadPoolExecutor, shards: list[str], load: Callable[[str], tuple[list[dict], dict, str]]):
    """("start", row count) then ("row", (row, ctx, where)) per row, shard after shard; each shard is
    loaded on a worker while the one before it is handed out. A load failure ends the items with
    ("start", the error), raised when the model loop reaches that shard, as the plain loop would."""
    nxt = pool.submit(load, shards[0]) if shards else None
    for k in range(len(shards)):
        cur, nxt = nxt, (pool.submit(load, shards[k + 1]) if k + 1 < len(shards) else None)
        try:
            rows, ctx, where = cur.result()
        except Exception as e:  # noqa: BLE001 - raised in order by the model loop
            yield "start", e
            return
        yield "start", len(rows)
        for r in rows:
            yield "row", (r, ctx, where)


@contextmanager
def _short_switch_interval():
    """Workers hand the interpreter back to the model thread within ``SWITCH_INTERVAL``; restored after."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(min(old, SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def pipelined_shards(model: PromptableSegmenter, shards: list[str], load: Callable[[str], tuple[list[dict], dict, str]],
                     publish: Callable[[str, pa.Table, list[dict]], None], spec: ProtocolSpec, multimask: bool,
                     batch_size: int, skip_errors: bool, encode_batch: int, workers: Optional[int] = None,
                     click_batch: int = 1, on_image: Callable[[], None] = lambda: None) -> None:
    """Evaluate dataset ``shards`` in order as one stream: ``load(shard)`` gives its rows, result-row
    context and name for messages; ``publish(shard, table, skipped)`` writes its results. The next
    shard loads and its first images decode while the model works on the last images of the one
    before, whose rows are assembled and published behind it. Publication is in shard order, one at a
    time, each started by this thread at an image boundary once the one before has finished: an
    interrupt (``KeyboardInterrupt``, raised on this thread) lets at most the publication under way
    finish, and no shard is published after the one whose publication the interrupt followed. A
    failure publishes the shards before it; the first failure in dataset order is the one raised.
    ``on_image`` is called once per image."""
    workers = workers or default_workers()
    assembled: deque[tuple[str, Future]] = deque()  # shards done by the model: (shard, future of its table)
    publishing: list[Future] = []  # the publication under way (at most one)

    def publish_next(wait: bool) -> None:
        """Start the next publication if the previous one is done (or, with ``wait``, publish them all).
        After a failed assembly or write nothing more is published, as the plain loop stops there."""
        try:
            if publishing and (wait or publishing[0].done()):
                publishing.pop().result()
            while not publishing and assembled and (wait or assembled[0][1].done()):
                shard, table = assembled.popleft()
                if wait:
                    publish(shard, *table.result())
                else:
                    publishing.append(pool.submit(publish, shard, *table.result()))
        except BaseException:
            assembled.clear()
            raise

    with ThreadPoolExecutor(max_workers=workers) as pool, _short_switch_interval():
        stream = _ahead(pool, _shard_items(pool, shards, load), 2 * workers + 2, spec, click_batch)
        try:
            for shard in shards:
                _, n = next(stream)
                if isinstance(n, Exception):
                    raise n
                slots = _model_loop(model, islice(stream, n), pool, spec, multimask, batch_size, skip_errors,
                                    encode_batch, lambda: (publish_next(False), on_image()))
                assembled.append((shard, pool.submit(_assemble, slots, skip_errors)))
            publish_next(True)
        except Exception:
            publish_next(True)  # the shards before the failure; an earlier failure among them wins
            raise


def _model_loop(model: PromptableSegmenter, prepared, pool: ThreadPoolExecutor, spec: ProtocolSpec, multimask: bool,
                batch_size: int, skip_errors: bool, encode_batch: int, on_image: Callable[[], None]) -> list:
    """The model's calls for one shard's prepared rows; per image with objects (row, where, future of
    its result rows, or its error)."""
    slots: list[tuple[dict, str, object]] = []
    try:
        for group in groups(prepared, encode_batch):
            for _ in range(len(group) - len([p for p in group if p.d.objects])):
                on_image()  # images without objects: nothing to evaluate
            todo = [p for p in group if p.d.objects]
            batched = len(todo) > 1
            if batched:
                try:
                    model.set_images([p.d.image for p in todo])
                except Exception:  # noqa: BLE001 - redo one by one, so a failure is pinned on its image
                    batched = False
            for j, p in enumerate(todo):
                r = p.d.row
                try:
                    slots.append((r, p.where, _run_image(model, p, pool, spec, multimask, p.where, batch_size,
                                                         j if batched else None)))
                except Exception as e:  # noqa: BLE001 - attributed to its image
                    err = image_error(e, p.where, r["image_id"])
                    if not skip_errors:
                        raise err from (None if err is e else e)
                    slots.append((r, p.where, err))
                on_image()
    except Exception:
        if not skip_errors:
            _collect(slots, False)  # an earlier image's failure is the one to report
        raise
    return slots


def _assemble(slots: list, skip_errors: bool) -> tuple[pa.Table, list[dict]]:
    rows, skipped = _collect(slots, skip_errors)
    return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA), skipped


def _collect(slots: list, skip_errors: bool) -> tuple[list[dict], list[dict]]:
    rows, skipped = [], []
    for r, where, out in slots:
        err = out if isinstance(out, Exception) else None
        if err is None:
            try:
                rows += out.result()
            except Exception as e:  # noqa: BLE001
                err = image_error(e, where, r["image_id"])
                if not skip_errors:
                    raise err from (None if err is e else e)
        if err is not None:
            skipped.append({"image_id": r["image_id"], "error": str(err)})
    return rows, skipped

