"""`ColtSearch`: a MetaSchedule search strategy backed by the COLT daemon's search.

Who does what, per task:
- the daemon runs the COLT tree search (models, UCT, course alteration, budgets);
- this process hosts a bridge around the task's TuneContext, design spaces and cost model, through
  which the search applies transformations, checks them with the postprocessors and scores them
  (the same bridge code `colt tune` runs);
- MetaSchedule's task scheduler builds and runs what `generate_measure_candidates` returns, commits
  the records, updates the cost model, and hands the results back.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Optional

from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy

from colt_bridge.auth import BRIDGE_TOKEN_METADATA_KEY
from colt_bridge.errors import BridgeError
from colt_bridge.task import Task

from ._proto import tpb
from .daemon import shared_daemon
from .errors import ColtError, FailedPrecondition, InvalidArgument
from .host import HostedBridge

# A batch waits for the search to choose it: LLM calls and cost-model scoring, not measurement.
NEXT_BATCH_TIMEOUT_SEC = 60 * 60.0
CALL_TIMEOUT_SEC = 5 * 60.0


def _seconds(values) -> list[float]:
    return [float(getattr(v, "value", v)) for v in values]


@derived_object
class ColtSearch(PySearchStrategy):
    """COLT's search in place of MetaSchedule's evolutionary search.

    Parameters
    ----------
    models:
        A models.json (see the COLT README) of OpenAI-compatible endpoints or local GGUF models.
        None: the daemon's default bucket (the built-in proposer and the bundled SmolLM2-135M).
    bucket:
        A bucket of offline models by name, instead of a models file: "offline" (the built-in
        proposer and SmolLM2-135M, the default) or "offline-3" (those and Qwen2.5-Coder-1.5B,
        which `colt models fetch qwen2.5-coder-1.5b` downloads).
    no_llm:
        The built-in proposer alone.
    llm_budget:
        LLM calls per task, overriding the models file's llmBudget.
    address:
        unix:PATH or host:port of a running `colt daemon` ($COLT_DAEMON_ADDRESS if unset); without
        one, this process starts a daemon on a private Unix socket and stops it when it exits.
    token:
        The daemon's token, for a daemon at `address` (default: $COLT_TOKEN, else the token file
        next to its socket, or in the per-user folder for a loopback port).
    seed:
        The search's seed; by default the TuneContext's.
    daemon_command:
        How to run `colt` when starting a daemon (default: $COLT_DAEMON_COMMAND, the checkout this
        package lives in, or `colt` on PATH).
    """

    def __init__(
        self,
        models: Optional[str | os.PathLike] = None,
        *,
        bucket: Optional[str] = None,
        no_llm: bool = False,
        llm_budget: Optional[int] = None,
        address: Optional[str] = None,
        token: Optional[str] = None,
        seed: Optional[int] = None,
        daemon_command: Optional[list[str]] = None,
        _jobs: Optional[list] = None,
    ):
        if bucket is not None and (models or no_llm):
            raise InvalidArgument("bucket cannot be combined with models or no_llm")
        # The daemon may run elsewhere than the caller's cwd: send it an absolute path.
        self._config = {
            "models": os.path.abspath(os.fspath(models)) if models else None,
            "bucket": bucket,
            "no_llm": bool(no_llm),
            "llm_budget": llm_budget,
            "address": address,
            "token": token,
            "seed": seed,
            "daemon_command": list(daemon_command) if daemon_command else None,
        }
        self._ctx = None
        self._daemon = None
        self._task: Task | None = None
        self._job_id: str | None = None
        self._batch: list[str] = []
        self._unreported: list = []
        self._done = False
        #: The daemon's last word on this task's job (a colt.v1.Job message), once tuning ended.
        self.job = None
        #: The same for every task tuned with this strategy: MetaSchedule tunes each task with a
        #: clone of the strategy it was given, and the clones share this list with it.
        self.jobs: list = _jobs if _jobs is not None else []

    # --- MetaSchedule's six methods -----------------------------------------------------------

    def _initialize_with_tune_context(self, context: "ms.TuneContext") -> None:
        self._ctx = context

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database=None, cost_model=None) -> None:
        if self._ctx is None:
            raise FailedPrecondition("ColtSearch needs a TuneContext: pass it as strategy= to ms.tune_tir / ms.tune_tasks")
        if self._job_id is not None:
            self.post_tuning()
        config = self._config
        seed = config["seed"]
        if seed is None:
            rand_state = int(self._ctx.rand_state)
            seed = rand_state if rand_state >= 0 else random.randrange(1 << 31)
        task = Task.hosted(uuid.uuid4().hex[:12], self._ctx, list(design_spaces), database, cost_model, int(seed))
        host = HostedBridge.get()
        host.add(task)
        self._task = task
        self._daemon = shared_daemon(config["address"], config["daemon_command"], config["token"])
        request = tpb.StartSearchRequest(
            bridge_address=host.address,
            task_id=task.task_id,
            max_trials=int(max_trials),
            trials_per_iter=int(num_trials_per_iter),
            seed=int(seed),
            models=config["models"] or "",
            bucket=config["bucket"] or "",
            no_llm=config["no_llm"],
            name=str(self._ctx.task_name or "main"),
        )
        if config["llm_budget"] is not None:
            request.llm_budget = int(config["llm_budget"])
        try:
            # The daemon dials our bridge with its token: metadata, so that no message carries it.
            job = self._daemon.call(
                "StartSearch",
                request,
                timeout=CALL_TIMEOUT_SEC,
                metadata=((BRIDGE_TOKEN_METADATA_KEY, host.token),),
            )
        except ColtError:
            host.remove(task.task_id)
            self._task = None
            raise
        self._job_id = job.job_id
        self._batch, self._unreported, self._done, self.job = [], [], False, None

    def generate_measure_candidates(self) -> Optional[list["ms.MeasureCandidate"]]:
        if self._job_id is None or self._done:
            return None
        request = tpb.NextBatchRequest(job_id=self._job_id, results=self._unreported)
        self._unreported = []
        response = self._daemon.call("NextBatch", request, timeout=NEXT_BATCH_TIMEOUT_SEC)
        self.job = response.job
        if response.done:
            self._done = True
            return None
        task = self._task
        try:
            with task.lock:
                candidates = [task.prepare_json(t).candidate for t in response.trace_json]
        except BridgeError as err:
            raise ColtError(f"the COLT search sent a trace this task cannot replay: {err.message}") from None
        self._batch = list(response.trace_json)
        return candidates

    def notify_runner_results(self, measure_candidates, results) -> None:
        # Sent with the next NextBatch (or EndSearch), after MetaSchedule's measure callbacks have
        # committed the records and updated the cost model the search will score with.
        out = []
        for trace_json, result in zip(self._batch, results):
            run_secs = _seconds(result.run_secs) if result.run_secs is not None and result.error_msg is None else []
            out.append(tpb.TrialResult(trace_json=trace_json, run_secs=run_secs, error=str(result.error_msg or "")))
        self._unreported = out
        self._batch = []

    def post_tuning(self) -> None:
        job_id, task = self._job_id, self._task
        self._job_id, self._task = None, None
        try:
            if job_id is not None:
                request = tpb.NextBatchRequest(job_id=job_id, results=self._unreported)
                self._unreported = []
                self.job = self._daemon.call("EndSearch", request, timeout=CALL_TIMEOUT_SEC)
                self.jobs.append(self.job)
        finally:
            if task is not None:
                HostedBridge.get().remove(task.task_id)

    def clone(self) -> "ColtSearch":
        config = dict(self._config)
        return ColtSearch(
            config.pop("models"),
            **config,
            _jobs=self.jobs,
        )
